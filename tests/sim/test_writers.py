"""CSV / Parquet output and the events sidecar."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from edgewatch.errors import ConfigError, DataError, MissingExtraError
from edgewatch.sim import (
    Recording,
    events_path,
    read_events,
    simulate,
    write_csv,
    write_parquet,
    write_recording,
)


@pytest.fixture(scope="module")
def small() -> Recording:
    rec = simulate(n_rows=3000, seed=4, faults="all")
    assert np.isnan(rec.values).any()  # the dropout
    return rec


def _read(path: Path, sep: str = ",") -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f, delimiter=sep))


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_csv_round_trip(small: Recording, tmp_path: Path, sep: str) -> None:
    path = write_csv(small, tmp_path / "pump.csv", sep=sep)
    rows = _read(path, sep)
    assert rows[0] == ["timestamp", *small.features, "anomaly", "fault"]
    body = rows[1:]
    assert len(body) == len(small)
    assert body[0][0] == "2026-01-01T00:00:00Z" and body[1][0] == "2026-01-01T00:00:01Z"
    values = np.array([[float(c) if c != "" else np.nan for c in r[1:-2]] for r in body])
    assert np.array_equal(values, small.values, equal_nan=True)  # exact, not approximately
    assert [int(r[-2]) for r in body] == small.labels.tolist()
    assert [r[-1] for r in body] == small.faults.tolist()
    j = next(j for j, name in enumerate(small.features) if np.isnan(small.values[:, j]).any())
    missing = np.isnan(small.values[:, j])
    assert all(body[i][1 + j] == "" for i in np.flatnonzero(missing))


def test_csv_fractional_timestamps(tmp_path: Path) -> None:
    rec = simulate(n_rows=4, rate_hz=2.0, start_time="2026-03-01T12:00:00Z")
    rows = _read(write_csv(rec, tmp_path / "fast.csv"))
    assert [r[0] for r in rows[1:]] == [
        "2026-03-01T12:00:00.000Z",
        "2026-03-01T12:00:00.500Z",
        "2026-03-01T12:00:01.000Z",
        "2026-03-01T12:00:01.500Z",
    ]


def test_events_sidecar(small: Recording, tmp_path: Path) -> None:
    path = write_csv(small, tmp_path / "pump.csv")
    sidecar = tmp_path / "pump.csv.events.json"
    assert events_path(path) == sidecar and sidecar.exists()
    doc = json.loads(sidecar.read_text())
    assert isinstance(doc, list) and len(doc) == len(small.events)
    first = doc[0]
    assert set(first) >= {"type", "start_row", "end_row", "start_ts", "end_ts", "sensors"}
    assert first["start"].endswith("Z")
    assert read_events(path) == small.events
    assert read_events(sidecar) == small.events


def test_read_events_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_events(tmp_path / "nothing.csv")
    (tmp_path / "bad.csv.events.json").write_text('[{"type": "spike"}]')
    with pytest.raises(DataError, match="not a valid events file"):
        read_events(tmp_path / "bad.csv")


def test_parquet_round_trip(small: Recording, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    path = write_parquet(small, tmp_path / "pump.parquet")
    table = pq.read_table(path)
    assert table.column_names == ["timestamp", *small.features, "anomaly", "fault"]
    stamps = table.column("timestamp").cast("int64").to_numpy() / 1000.0
    assert np.array_equal(stamps, small.timestamps)
    for j, name in enumerate(small.features):
        column = table.column(name)
        assert column.null_count == int(np.isnan(small.values[:, j]).sum())
        got = column.to_numpy(zero_copy_only=False)
        assert np.array_equal(got, small.values[:, j], equal_nan=True)
    assert table.column("fault").to_pylist() == small.faults.tolist()
    assert events_path(path).exists()


def test_parquet_without_pyarrow_names_the_extra(
    small: Recording, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MissingExtraError, match=r"pyarrow.*edgewatch\[train\]"):
        write_parquet(small, tmp_path / "pump.parquet")


def test_write_recording_by_suffix(small: Recording, tmp_path: Path) -> None:
    tsv = write_recording(small, tmp_path / "pump.tsv")
    assert _read(tsv, "\t")[0][0] == "timestamp"
    with pytest.raises(ConfigError, match=r"\.csv or \.parquet"):
        write_recording(small, tmp_path / "pump.xlsx")


@pytest.mark.parametrize("sep", ["", ";;", "1", ".", '"'])
def test_bad_separator(small: Recording, tmp_path: Path, sep: str) -> None:
    with pytest.raises(ConfigError, match="sep"):
        write_csv(small, tmp_path / "pump.csv", sep=sep)
