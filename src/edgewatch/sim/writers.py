"""Write a :class:`Recording` to CSV or Parquet, with its fault events in a JSON sidecar.

CSV columns: ``timestamp`` (ISO 8601 UTC, ``2026-01-01T00:00:01Z``; milliseconds when the rate needs
them), the features in order, ``anomaly`` (0/1) and ``fault`` (fault type or empty). A missing reading
(dropout) is an empty cell. Readings are written in their shortest exact decimal form, so reading the file
back gives the same float64 values.

Parquet (needs pyarrow, imported only here): the same columns; ``timestamp`` is a UTC timestamp (ms),
missing readings are nulls, ``anomaly`` int8, ``fault`` string.

The sidecar ``<file>.events.json`` is a JSON list of events (:meth:`FaultEvent.to_json`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from edgewatch.core.timestamps import iso_utc_array
from edgewatch.data.recording import FaultEvent, Recording
from edgewatch.errors import ConfigError, DataError, MissingExtraError

EVENTS_SUFFIX = ".events.json"
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")


def events_path(path: str | Path) -> Path:
    """The sidecar of a data file: ``data.csv`` → ``data.csv.events.json``."""
    path = Path(path)
    return path if path.name.endswith(EVENTS_SUFFIX) else path.with_name(path.name + EVENTS_SUFFIX)


def write_events(recording: Recording, path: str | Path) -> Path:
    """Write the events sidecar of the data file ``path``; return the sidecar's path."""
    target = events_path(path)
    doc = [event.to_json() for event in recording.events]
    target.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return target


def read_events(path: str | Path) -> tuple[FaultEvent, ...]:
    """Read the events of a data file (or of a sidecar path given directly)."""
    target = events_path(path)
    try:
        doc = json.loads(target.read_text(encoding="utf-8"))
        return tuple(FaultEvent.from_json(item) for item in doc)
    except FileNotFoundError:
        raise DataError("events sidecar not found", path=str(target)) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"not a valid events file: {exc}", path=str(target)) from None


def check_separator(sep: str) -> None:
    """Refuse a CSV separator that is not one character or could be part of a number or a quote."""
    if len(sep) != 1 or sep in '"\r\n' or sep.isalnum() or sep in ".-+":
        raise ConfigError(f"must be one character that cannot appear in a number, got {sep!r}", field="sep")


def write_csv(recording: Recording, path: str | Path, sep: str = ",", *, events: bool = True) -> Path:
    """Write ``recording`` as CSV with separator ``sep`` (and the events sidecar); return ``path``."""
    check_separator(sep)
    path = Path(path)
    cells = recording.values.astype(object)
    cells[np.isnan(recording.values)] = ""
    header = ["timestamp", *recording.features, "anomaly", "fault"]
    labels, faults = _ground_truth(recording)
    rows = zip(
        iso_utc_array(recording.timestamps).tolist(),
        cells.tolist(),
        labels.tolist(),
        faults.tolist(),
        strict=True,
    )
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=sep, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([ts, *values, label, fault] for ts, values, label, fault in rows)
    if events:
        write_events(recording, path)
    return path


def write_parquet(recording: Recording, path: str | Path, *, events: bool = True) -> Path:
    """Write ``recording`` as Parquet (and the events sidecar); return ``path``.

    Raises :class:`MissingExtraError` if pyarrow is not installed.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingExtraError("pyarrow", "train") from None
    path = Path(path)
    millis = np.rint(recording.timestamps * 1000.0).astype(np.int64)
    columns = {"timestamp": pa.array(millis, type=pa.timestamp("ms", tz="UTC"))}
    for j, name in enumerate(recording.features):
        column = recording.values[:, j]
        columns[name] = pa.array(column, type=pa.float64(), mask=np.isnan(column))
    labels, faults = _ground_truth(recording)
    columns["anomaly"] = pa.array(labels, type=pa.int8())
    columns["fault"] = pa.array(faults.tolist(), type=pa.string())
    pq.write_table(pa.table(columns), path)
    if events:
        write_events(recording, path)
    return path


def _ground_truth(recording: Recording) -> tuple[np.ndarray, np.ndarray]:
    """The ``anomaly`` and ``fault`` columns: all normal where the recording has no labels or fault types."""
    n = recording.n_rows
    labels = recording.labels if recording.labels is not None else np.zeros(n, dtype=np.int8)
    faults = recording.faults if recording.faults is not None else np.full(n, "")
    return labels, faults


def output_format(path: str | Path) -> str:
    """``"csv"`` (``.csv``/``.tsv``/``.txt``) or ``"parquet"`` (``.parquet``/``.pq``) by suffix, else
    :class:`ConfigError` (field ``out``)."""
    suffix = Path(path).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise ConfigError(f"cannot tell the format of {str(path)!r}: use a .csv or .parquet file name", field="out")


def write_recording(recording: Recording, path: str | Path, sep: str = ",") -> Path:
    """Write CSV or Parquet as :func:`output_format` says (a ``.tsv`` file is tab-separated)."""
    if output_format(path) == "parquet":
        return write_parquet(recording, path)
    tab = Path(path).suffix.lower() == ".tsv" and sep == ","
    return write_csv(recording, path, "\t" if tab else sep)
