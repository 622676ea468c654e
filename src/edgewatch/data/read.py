"""Reading recordings on the edge side: CSV with the standard library and numpy only (Parquet via pyarrow
when installed). Used by ``score``, ``replay`` and ``evaluate``, which must run without pandas.

Rows are numbered from 1 (the first data row after the header), so an error message points at the line a
person sees as "row N" in a spreadsheet (file line N + 1).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgewatch.core.timestamps import parse_time
from edgewatch.errors import DataError, MissingExtraError

TIME_COLUMN_NAMES = ("timestamp", "datetime", "time", "ts", "date", "date_time", "time_stamp")
LABEL_COLUMN_NAMES = ("anomaly", "label", "is_anomaly")
MISSING_TOKENS = frozenset({"", "nan", "NaN", "NA", "null", "None"})


@dataclass(frozen=True)
class Table:
    """Readings of one file: ``values`` (n, F) float64 in the order of ``features`` (NaN = empty cell)."""

    path: str
    features: tuple[str, ...]
    values: np.ndarray
    timestamps: np.ndarray
    labels: np.ndarray | None
    extra: dict[str, list[str]] = field(default_factory=dict)
    has_time: bool = True

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])


def detect_separator(path: Path) -> str:
    """Guess the CSV separator from the first lines (``;`` is common in industrial exports)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
            sample = "".join(handle.readline() for _ in range(20))
    except OSError as exc:
        raise DataError(f"cannot read file ({exc.strerror})", path=str(path)) from None
    if not sample.strip():
        raise DataError("file is empty", path=str(path))
    header = sample.splitlines()[0]
    counts = {sep: header.count(sep) for sep in (";", ",", "\t", "|")}
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else ","


def find_column(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    lowered = {c.strip().lower(): c for c in columns}
    return next((lowered[name] for name in candidates if name in lowered), None)


def _read_rows(path: Path, sep: str | None) -> tuple[list[str], list[list[str]]]:
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ModuleNotFoundError:
            raise MissingExtraError("pyarrow", "train") from None
        try:
            table = pq.read_table(path)
        except Exception as exc:
            raise DataError(f"cannot read Parquet file ({exc})", path=str(path)) from None
        columns = [str(c) for c in table.column_names]
        data = table.to_pydict()
        n = table.num_rows
        cells = [["" if data[c][i] is None else str(data[c][i]) for c in columns] for i in range(n)]
        return columns, cells
    separator = sep or detect_separator(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=separator)
            header = next(reader, None)
            if header is None:
                raise DataError("file is empty", path=str(path))
            rows = [row for row in reader if row and any(cell.strip() for cell in row)]
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason})", path=str(path)) from None
    except csv.Error as exc:
        raise DataError(f"malformed CSV ({exc})", path=str(path)) from None
    return [h.strip() for h in header], rows


def read_table(
    path: str | Path,
    *,
    features: Sequence[str] | None = None,
    time_col: str | None = None,
    label_col: str | None = None,
    sep: str | None = None,
    allow_missing: bool = False,
    require_label: bool = False,
    head: int | None = None,
) -> Table:
    """Read one recording. ``features`` (e.g. a bundle's feature order) must all be present; without them
    every numeric column other than time and label is a feature. Errors name the file, row and column."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=str(path))
    columns, rows = _read_rows(path, sep)
    if head is not None:
        rows = rows[:head]
    if not rows:
        raise DataError("file has a header but no data rows", path=str(path))
    index = {name: i for i, name in enumerate(columns)}
    for given, what in ((time_col, "time"), (label_col, "label")):
        if given is not None and given not in index:
            raise DataError(
                f"{what} column {given!r} not found (columns: {', '.join(columns)})", path=str(path)
            )
    tcol = time_col or find_column(columns, TIME_COLUMN_NAMES)
    lcol = label_col or find_column(columns, LABEL_COLUMN_NAMES)
    if require_label and lcol is None:
        raise DataError("no label column found; name it with --label-col", path=str(path))
    if features is None:
        skip = {tcol, lcol, "changepoint", "fault", "fault_type"}
        features = [c for c in columns if c not in skip and _looks_numeric(rows, index[c])]
        if not features:
            raise DataError("no numeric feature columns found", path=str(path))
    missing_cols = [f for f in features if f not in index]
    if missing_cols:
        raise DataError(
            f"feature column(s) {', '.join(map(repr, missing_cols))} not in the file (columns: {', '.join(columns)})",
            path=str(path),
            column=missing_cols[0],
        )
    width = len(columns)
    values = np.empty((len(rows), len(features)), dtype=np.float64)
    timestamps = np.empty(len(rows), dtype=np.float64)
    labels = np.empty(len(rows), dtype=np.int8) if lcol is not None else None
    feature_idx = [index[f] for f in features]
    for r, row in enumerate(rows, start=1):
        if len(row) != width:
            raise DataError(f"expected {width} fields, found {len(row)}", path=str(path), row=r)
        for j, c in enumerate(feature_idx):
            values[r - 1, j] = _number(row[c], path, r, features[j], allow_missing)
        if tcol is not None:
            try:
                timestamps[r - 1] = parse_time(row[index[tcol]])
            except ValueError as exc:
                raise DataError(
                    f"cannot parse time {row[index[tcol]]!r}: it {exc}", path=str(path), row=r, column=tcol
                ) from None
        else:
            timestamps[r - 1] = float(r - 1)
        if labels is not None:
            label = _number(row[index[lcol]], path, r, lcol, False)  # type: ignore[index]
            if label not in (0.0, 1.0):
                raise DataError(
                    f"label must be 0 or 1, got {row[index[lcol]]!r}", path=str(path), row=r, column=lcol
                )
            labels[r - 1] = int(label)
    extra = {name: [row[index[name]] for row in rows] for name in ("fault",) if name in index}
    return Table(str(path), tuple(features), values, timestamps, labels, extra, has_time=tcol is not None)


def _number(cell: str, path: Path, row: int, column: str, allow_missing: bool) -> float:
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


def _looks_numeric(rows: list[list[str]], column: int) -> bool:
    sample = [row[column].strip() for row in rows[:200] if column < len(row)]
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
    return ok / len(sample) >= 0.5  # mostly numbers: a feature, whose bad cells are then reported
