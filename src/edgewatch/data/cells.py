"""The columns of a recording file as :func:`edgewatch.data.read.read_recording` reads them, whatever the format.

A :class:`Columns` is one file's table: its column names, its row count and, per column, the column as
float64 numbers, epoch seconds, 0/1 labels or text. CSV cells are text (:class:`TextColumns`, here); Parquet
columns are typed and go straight to numpy (:mod:`edgewatch.data.parquet`). Both refuse a bad cell with a
:class:`DataError` naming the file, the row (from 1, the first data row) and the column, with the same
messages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from edgewatch.core.timestamps import MILLISECONDS_ABOVE, parse_time
from edgewatch.errors import DataError

MISSING_TOKENS = frozenset({"", "nan", "NaN", "NA", "null", "None"})


class Columns(Protocol):
    """One file's table, read column by column."""

    path: Path
    names: list[str]

    @property
    def n_rows(self) -> int: ...

    def looks_numeric(self, name: str) -> bool:
        """Whether the column holds mostly numbers (a feature candidate when no features are named)."""
        ...

    def numbers(self, names: Sequence[str], allow_missing: bool) -> np.ndarray:
        """The columns as float64 ``(n_rows, len(names))``; a missing cell is NaN with ``allow_missing``, else
        refused, as is a non-numeric or non-finite one (the first bad cell in row order)."""
        ...

    def times(self, name: str) -> np.ndarray:
        """The column as epoch seconds (:mod:`edgewatch.core.timestamps`' rule)."""
        ...

    def labels(self, name: str) -> np.ndarray:
        """The column as int8 labels, each 0 or 1."""
        ...

    def texts(self, name: str) -> np.ndarray:
        """The column as text (a missing cell is ``""``)."""
        ...


class TextColumns:
    """Columns of text cells (a CSV file's rows, each as long as the header)."""

    def __init__(self, path: Path, names: list[str], rows: list[list[str]]) -> None:
        self.path = path
        self.names = names
        self.rows = rows
        self._index = {name: i for i, name in enumerate(names)}

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    def looks_numeric(self, name: str) -> bool:
        i = self._index[name]
        return looks_numeric([row[i] for row in self.rows[:200]])

    def numbers(self, names: Sequence[str], allow_missing: bool) -> np.ndarray:
        out = np.empty((len(self.rows), len(names)), dtype=np.float64)
        try:
            for j, name in enumerate(names):
                out[:, j] = self._column_numbers(name, allow_missing)
        except DataError:  # report the first bad cell in row order, as a person reads the file
            return self._checked(names, allow_missing)
        return out

    def _column_numbers(self, name: str, allow_missing: bool) -> np.ndarray:
        i = self._index[name]
        cells = [row[i] for row in self.rows]
        try:  # the fast path: every cell a plain finite number
            column = np.array(cells, dtype=np.float64)
            if np.isfinite(column).all():
                return column
        except ValueError:
            pass
        return np.array([number(cell, self.path, r, name, allow_missing) for r, cell in enumerate(cells, 1)])

    def _checked(self, names: Sequence[str], allow_missing: bool) -> np.ndarray:
        """Cell by cell in row order, so the error names the first bad cell a person would find."""
        index = [self._index[name] for name in names]
        return np.array(
            [
                [number(row[i], self.path, r, name, allow_missing) for i, name in zip(index, names, strict=True)]
                for r, row in enumerate(self.rows, start=1)
            ],
            dtype=np.float64,
        ).reshape(len(self.rows), len(names))

    def times(self, name: str) -> np.ndarray:
        cells = [row[self._index[name]] for row in self.rows]
        try:  # the fast path: numbers (seconds or milliseconds)
            return epoch_seconds(np.array(cells, dtype=np.float64), self.path, name)
        except (ValueError, DataError):
            return times_from_text(cells, self.path, name)

    def labels(self, name: str) -> np.ndarray:
        cells = [row[self._index[name]] for row in self.rows]
        try:
            values = np.array(cells, dtype=np.float64)
        except ValueError:
            values = np.array([number(cell, self.path, r, name, False) for r, cell in enumerate(cells, 1)])
        return checked_labels(values, cells, self.path, name)

    def texts(self, name: str) -> np.ndarray:
        i = self._index[name]
        return np.array([row[i] for row in self.rows], dtype=str)


def number(cell: str, path: Path, row: int, column: str, allow_missing: bool) -> float:
    """One text cell as a finite float (``,`` accepted as the decimal mark); NaN for a missing one with
    ``allow_missing``; otherwise :class:`DataError` naming the cell."""
    text = cell.strip()
    if text in MISSING_TOKENS:
        if allow_missing:
            return math.nan
        raise DataError("missing value", path=str(path), row=row, column=column)
    try:
        value = float(text)
    except ValueError:
        try:
            value = float(text.replace(",", "."))
        except ValueError:
            raise DataError(f"non-numeric value {cell!r}", path=str(path), row=row, column=column) from None
    if not math.isfinite(value):
        raise DataError(f"non-finite value {cell!r}", path=str(path), row=row, column=column)
    return value


def looks_numeric(cells: Sequence[str]) -> bool:
    """Mostly numbers (at least half of the non-missing cells): a feature, whose bad cells are then reported."""
    sample = [s.strip() for s in cells]
    sample = [s for s in sample if s not in MISSING_TOKENS]
    if not sample:
        return False
    ok = 0
    for s in sample:
        try:
            float(s)
            ok += 1
        except ValueError:
            pass
    return ok / len(sample) >= 0.5


def times_from_text(cells: Sequence[str], path: Path, name: str) -> np.ndarray:
    """Epoch seconds of time cells written as text (numbers or ISO 8601), naming the first bad one."""
    out = np.empty(len(cells), dtype=np.float64)
    for r, cell in enumerate(cells, start=1):
        try:
            out[r - 1] = parse_time(cell)
        except ValueError as exc:
            raise DataError(f"cannot parse time {cell!r}: it {exc}", path=str(path), row=r, column=name) from None
    return out


def epoch_seconds(values: np.ndarray, path: Path, name: str) -> np.ndarray:
    """Numeric times as epoch seconds: milliseconds above 1e11 divided by 1000; larger ones, negative or
    non-finite ones refused naming the first (the rule of :func:`edgewatch.core.timestamps.epoch_from_number`)."""
    with np.errstate(invalid="ignore"):
        seconds = np.where(values > MILLISECONDS_ABOVE, values / 1000.0, values)
        bad = ~np.isfinite(seconds) | (seconds < 0) | (seconds > MILLISECONDS_ABOVE)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        if not np.isfinite(values[r]) or values[r] < 0:
            reason = "must be a finite, non-negative epoch time"
        else:
            reason = "is too large for epoch seconds or milliseconds (micro- or nanoseconds are not accepted)"
        raise DataError(f"cannot parse time {values[r]!r}: it {reason}", path=str(path), row=r + 1, column=name)
    return seconds


def checked_labels(values: np.ndarray, shown: Sequence[object], path: Path, name: str) -> np.ndarray:
    """``values`` as int8 labels, refusing (naming the row, showing ``shown[row]``) any that is not 0 or 1."""
    bad = np.flatnonzero((values != 0.0) & (values != 1.0))
    if bad.size:
        r = int(bad[0])
        raise DataError(f"label must be 0 or 1, got {shown[r]!r}", path=str(path), row=r + 1, column=name)
    return values.astype(np.int8)
