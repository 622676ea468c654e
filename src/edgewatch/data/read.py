"""Reading recordings from CSV (the standard library and numpy only) or Parquet (pyarrow, when installed):
the one reader of ``train``, ``score``, ``replay`` and ``evaluate``, so a file that trains also scores, with
the same error messages naming file, row and column; no pandas.

Rows are numbered from 1 (the first data row after the header), so an error message points at the line a
person sees as "row N" in a spreadsheet (file line N + 1).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgewatch.core.timestamps import parse_time
from edgewatch.data.recording import Recording, Source
from edgewatch.errors import DataError, MissingExtraError

TIME_COLUMN_NAMES = ("timestamp", "datetime", "time", "ts", "date", "date_time", "time_stamp")
LABEL_COLUMN_NAMES = ("anomaly", "label", "is_anomaly")
MISSING_TOKENS = frozenset({"", "nan", "NaN", "NA", "null", "None"})


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


def read_recording(
    path: str | Path,
    *,
    features: Sequence[str] | None = None,
    time_col: str | None = None,
    label_col: str | None = None,
    sep: str | None = None,
    allow_missing: bool = False,
    require_label: bool = False,
    head: int | None = None,
) -> Recording:
    """Read one file. ``features`` (e.g. a bundle's feature order) must all be present; without them every
    numeric column other than time and label is a feature. A ``fault`` column gives the fault type per row.
    ``head`` keeps the first rows only. Errors name the file, row and column."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=str(path))
    columns, rows = _read_rows(path, sep)
    rows = rows[:head] if head is not None else rows
    if not rows:
        raise DataError("file has a header but no data rows", path=str(path))
    index = {name: i for i, name in enumerate(columns)}
    for given, what in ((time_col, "time"), (label_col, "label")):
        if given is not None and given not in index:
            raise DataError(f"{what} column {given!r} not found (columns: {', '.join(columns)})", path=str(path))
    tcol = time_col or find_column(columns, TIME_COLUMN_NAMES)
    lcol = label_col or find_column(columns, LABEL_COLUMN_NAMES)
    if require_label and lcol is None:
        raise DataError("no label column found; name it with --label-col", path=str(path))
    if features is None:
        skip = {tcol, lcol, "changepoint", "fault", "fault_type"}
        features = [c for c in columns if c not in skip and _looks_numeric(rows, index[c])]
        if not features:
            raise DataError("no numeric feature columns found", path=str(path))
    absent = [f for f in features if f not in index]
    if absent:
        raise DataError(
            f"feature column(s) {', '.join(map(repr, absent))} not in the file (columns: {', '.join(columns)})",
            path=str(path),
            column=absent[0],
        )
    width = len(columns)
    for r, row in enumerate(rows, start=1):
        if len(row) != width:
            raise DataError(f"expected {width} fields, found {len(row)}", path=str(path), row=r)
    values = np.array(
        [[_number(row[index[f]], path, r, f, allow_missing) for f in features] for r, row in enumerate(rows, 1)],
        dtype=np.float64,
    ).reshape(len(rows), len(features))
    timestamps = _times(rows, index[tcol], path, tcol) if tcol is not None else np.arange(len(rows), dtype=np.float64)
    return Recording(
        features=tuple(features),
        values=values,
        timestamps=timestamps,
        labels=_labels(rows, index[lcol], path, lcol) if lcol is not None else None,
        faults=np.array([row[index["fault"]] for row in rows], dtype=str) if "fault" in index else None,
        sources=(Source(str(path), 0, len(rows)),),
        has_time=tcol is not None,
    )


def read_recordings(
    paths: Sequence[str | Path],
    *,
    features: Sequence[str] | None = None,
    time_col: str | None = None,
    label_col: str | None = None,
    sep: str | None = None,
    head: int | None = None,
) -> Recording:
    """Read and concatenate files; every file must have the feature columns of the first. ``head`` keeps only
    the first ``head`` rows of each file (train on the start, evaluate on the rest)."""
    if not paths:
        raise DataError("no data files given")
    parts: list[Recording] = []
    chosen = tuple(features) if features else None
    for path in paths:
        part = read_recording(path, features=chosen, time_col=time_col, label_col=label_col, sep=sep, head=head)
        chosen = part.features
        parts.append(part)
    labels = [p.labels for p in parts]
    if any(lab is None for lab in labels) and any(lab is not None for lab in labels):
        raise DataError("some files have a label column and some do not; name it with --label-col")
    ends = np.cumsum([0, *(p.n_rows for p in parts)]).tolist()
    return Recording(
        features=parts[0].features,
        values=np.concatenate([p.values for p in parts]),
        timestamps=np.concatenate([p.timestamps for p in parts]),
        labels=None if labels[0] is None else np.concatenate([lab for lab in labels if lab is not None]),
        sources=tuple(Source(p.path, a, b) for p, a, b in zip(parts, ends[:-1], ends[1:], strict=True)),
    )


def _times(rows: list[list[str]], column: int, path: Path, name: str) -> np.ndarray:
    out = np.empty(len(rows), dtype=np.float64)
    for r, row in enumerate(rows, start=1):
        try:
            out[r - 1] = parse_time(row[column])
        except ValueError as exc:
            message = f"cannot parse time {row[column]!r}: it {exc}"
            raise DataError(message, path=str(path), row=r, column=name) from None
    return out


def _labels(rows: list[list[str]], column: int, path: Path, name: str) -> np.ndarray:
    out = np.empty(len(rows), dtype=np.int8)
    for r, row in enumerate(rows, start=1):
        label = _number(row[column], path, r, name, False)
        if label not in (0.0, 1.0):
            raise DataError(f"label must be 0 or 1, got {row[column]!r}", path=str(path), row=r, column=name)
        out[r - 1] = int(label)
    return out


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
