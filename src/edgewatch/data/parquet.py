"""Parquet files as :class:`~edgewatch.data.cells.Columns`: typed columns go straight to numpy (pyarrow,
imported when a Parquet file is read; it comes with the ``train`` extra).

Numeric columns (integers, floats, booleans, decimals) become float64 without a detour through text; a null
is a missing value. A timestamp column is epoch seconds; a numeric time column follows the time rule of
:mod:`edgewatch.core.timestamps` (seconds, or milliseconds above 1e11). Text columns are read like CSV cells
(:class:`~edgewatch.data.cells.TextColumns`), with the same messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.data.cells import TextColumns, checked_labels, epoch_seconds, looks_numeric, times_from_text
from edgewatch.errors import DataError, MissingExtraError


def read_parquet(path: Path, head: int | None = None) -> ParquetColumns:
    """The table of a Parquet file (its first ``head`` rows); :class:`DataError` if it cannot be read."""
    try:
        import pyarrow.parquet as pq
    except ModuleNotFoundError:
        raise MissingExtraError("pyarrow", "train") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise DataError(f"cannot read Parquet file ({exc})", path=str(path)) from None
    if head is not None:
        table = table.slice(0, head)
    return ParquetColumns(path, table)


class ParquetColumns:
    """A pyarrow table read column by column (see the module docstring)."""

    def __init__(self, path: Path, table: Any) -> None:
        import pyarrow as pa
        import pyarrow.types as pt

        self._pa, self._pt = pa, pt
        self.path = path
        self.table = table
        self.names = [str(c) for c in table.column_names]

    @property
    def n_rows(self) -> int:
        return int(self.table.num_rows)

    def _column(self, name: str) -> Any:
        return self.table.column(self.names.index(name))

    def _numeric(self, name: str) -> bool:
        kind = self._column(name).type
        pt = self._pt
        return bool(pt.is_integer(kind) or pt.is_floating(kind) or pt.is_boolean(kind) or pt.is_decimal(kind))

    def _as_text(self, names: Sequence[str]) -> TextColumns:
        data = [self._column(name).to_pylist() for name in names]
        rows = [["" if v is None else str(v) for v in row] for row in zip(*data, strict=True)]
        return TextColumns(self.path, list(names), rows)

    def _floats(self, name: str) -> np.ndarray:
        """A numeric column as float64, a null as NaN."""
        column = self._column(name).cast(self._pa.float64())
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)

    def looks_numeric(self, name: str) -> bool:
        if self._numeric(name):
            return True
        if self._pt.is_string(self._column(name).type) or self._pt.is_large_string(self._column(name).type):
            sample = self._column(name).slice(0, 200).to_pylist()
            return looks_numeric(["" if v is None else v for v in sample])
        return False

    def numbers(self, names: Sequence[str], allow_missing: bool) -> np.ndarray:
        if not all(self._numeric(name) for name in names):
            return self._as_text(names).numbers(names, allow_missing)
        out = np.empty((self.n_rows, len(names)), dtype=np.float64)
        for j, name in enumerate(names):
            out[:, j] = self._floats(name)
        bad = ~np.isfinite(out)
        if bad.any():
            missing = np.isnan(out) if allow_missing else np.zeros_like(bad)
            refused = bad & ~missing
            if refused.any():
                r, j = (int(k) for k in np.argwhere(refused)[0])  # the first bad cell in row order
                what = "missing value" if np.isnan(out[r, j]) else f"non-finite value {out[r, j]!r}"
                raise DataError(what, path=str(self.path), row=r + 1, column=names[j])
        return out

    def times(self, name: str) -> np.ndarray:
        column = self._column(name)
        kind = column.type
        if self._pt.is_timestamp(kind) or self._pt.is_date(kind):
            if column.null_count:
                r = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
                raise DataError("cannot parse time None: it is missing", path=str(self.path), row=r + 1, column=name)
            ns = column.cast(self._pa.timestamp("ns", tz="UTC")).cast(self._pa.int64()).to_numpy()
            seconds = np.asarray(ns, dtype=np.float64) / 1e9
            return _non_negative(seconds, self.path, name)
        if self._numeric(name):
            return epoch_seconds(self._floats(name), self.path, name)
        return times_from_text(self._as_text([name]).texts(name).tolist(), self.path, name)

    def labels(self, name: str) -> np.ndarray:
        if not self._numeric(name):
            return self._as_text([name]).labels(name)
        values = self.numbers([name], False)[:, 0]
        return checked_labels(values, values.tolist(), self.path, name)

    def texts(self, name: str) -> np.ndarray:
        return np.array(["" if v is None else str(v) for v in self._column(name).to_pylist()], dtype=str)


def _non_negative(seconds: np.ndarray, path: Path, name: str) -> np.ndarray:
    bad = np.flatnonzero(seconds < 0)
    if bad.size:
        r = int(bad[0])
        raise DataError(f"cannot parse time {seconds[r]!r}: it is before 1970", path=str(path), row=r + 1, column=name)
    return seconds
