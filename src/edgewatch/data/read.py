"""Reading recordings from CSV (the standard library and numpy only) or Parquet (pyarrow, when installed;
typed columns straight to numpy, :mod:`edgewatch.data.parquet`): the one reader of ``train``, ``score``,
``replay`` and ``evaluate``, so a file that trains also scores, with the same error messages naming file, row
and column (:mod:`edgewatch.data.cells`); no pandas.

Rows are numbered from 1 (the first data row after the header), so an error message points at the line a
person sees as "row N" in a spreadsheet (file line N + 1).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgewatch.data.cells import Columns, TextColumns
from edgewatch.data.recording import Recording, Source
from edgewatch.errors import DataError

TIME_COLUMN_NAMES = ("timestamp", "datetime", "time", "ts", "date", "date_time", "time_stamp")
LABEL_COLUMN_NAMES = ("anomaly", "label", "is_anomaly")


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


def _read_csv(path: Path, sep: str | None, head: int | None) -> TextColumns:
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
    rows = rows[:head] if head is not None else rows
    width = len(header)
    for r, row in enumerate(rows, start=1):
        if len(row) != width:
            raise DataError(f"expected {width} fields, found {len(row)}", path=str(path), row=r)
    return TextColumns(path, [h.strip() for h in header], rows)


def _open(path: Path, sep: str | None, head: int | None) -> Columns:
    if path.suffix.lower() in (".parquet", ".pq"):
        from edgewatch.data.parquet import read_parquet

        return read_parquet(path, head)
    return _read_csv(path, sep, head)


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
    table = _open(path, sep, head)
    if not table.n_rows:
        raise DataError("file has a header but no data rows", path=str(path))
    columns = table.names
    for given, what in ((time_col, "time"), (label_col, "label")):
        if given is not None and given not in columns:
            raise DataError(f"{what} column {given!r} not found (columns: {', '.join(columns)})", path=str(path))
    tcol = time_col or find_column(columns, TIME_COLUMN_NAMES)
    lcol = label_col or find_column(columns, LABEL_COLUMN_NAMES)
    if require_label and lcol is None:
        raise DataError("no label column found; name it with --label-col", path=str(path))
    if features is None:
        skip = {tcol, lcol, "changepoint", "fault", "fault_type"}
        features = [c for c in columns if c not in skip and table.looks_numeric(c)]
        if not features:
            raise DataError("no numeric feature columns found", path=str(path))
    absent = [f for f in features if f not in columns]
    if absent:
        raise DataError(
            f"feature column(s) {', '.join(map(repr, absent))} not in the file (columns: {', '.join(columns)})",
            path=str(path),
            column=absent[0],
        )
    n = table.n_rows
    return Recording(
        features=tuple(features),
        values=table.numbers(features, allow_missing),
        timestamps=table.times(tcol) if tcol is not None else np.arange(n, dtype=np.float64),
        labels=table.labels(lcol) if lcol is not None else None,
        faults=table.texts("fault") if "fault" in columns else None,
        sources=(Source(str(path), 0, n),),
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
