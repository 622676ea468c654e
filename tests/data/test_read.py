"""Loading training data: separators, columns, labels, and every refusal naming file, row and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgewatch.data.read import read_recordings
from edgewatch.errors import DataError
from edgewatch.train.data import check_trainable
from tests.recordings import correlated_rows, write_csv


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_semicolon_export_with_datetime_and_spaced_names(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "skab_like.csv",
        "datetime;Current;Volume Flow RateRMS;anomaly;changepoint\r\n"
        "2020-03-09 10:14:33;1.33;32.0;0.0;0.0\r\n"
        "2020-03-09 10:14:34;1.35;32.5;1.0;0.0\r\n"
        "2020-03-09 10:14:35;1.54;31.0;0.0;0.0\r\n",
    )
    rec = read_recordings([path])
    assert rec.features == ("Current", "Volume Flow RateRMS")
    assert rec.labels is not None and rec.labels.tolist() == [0, 1, 0]
    assert rec.timestamps[1] - rec.timestamps[0] == pytest.approx(1.0)
    only = read_recordings([path], features=["Volume Flow RateRMS"])
    assert only.values[:, 0].tolist() == [32.0, 32.5, 31.0]


def test_epoch_milliseconds_and_named_time_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "ms.csv", "when,a,b\n1700000000000,1,2\n1700000001000,2,3\n")
    rec = read_recordings([path], time_col="when")
    assert rec.timestamps.tolist() == [1_700_000_000.0, 1_700_000_001.0]
    assert rec.features == ("a", "b")


@pytest.mark.parametrize(
    ("content", "row", "column", "needle"),
    [
        ("timestamp,a,b\n1,1.0,2.0\n2,oops,3.0\n", 2, "a", "non-numeric value 'oops'"),
        ("timestamp,a,b\n1,1.0,2.0\n2,,3.0\n", 2, "a", "missing value"),
        ("timestamp,a,b\n1,1.0,2.0\n2,inf,3.0\n", 2, "a", "non-finite"),
        ("timestamp,a,b\n1,1.0,2.0\nnot-a-time,2.0,3.0\n", 2, "timestamp", "cannot parse time"),
        ("timestamp,a,b,anomaly\n1,1.0,2.0,0\n2,2.0,3.0,7\n", 2, "anomaly", "label must be 0 or 1"),
        ("timestamp,a,b\n1,1.0,2.0\n2,2.0\n", 2, None, "expected 3 fields"),
    ],
)
def test_bad_cells_name_file_row_and_column(
    tmp_path: Path, content: str, row: int, column: str | None, needle: str
) -> None:
    path = _write(tmp_path / "bad.csv", content)
    with pytest.raises(DataError) as info:
        read_recordings([path])
    error = info.value
    assert error.path == str(path) and error.row == row and error.column == column
    assert needle in str(error) and str(path) in str(error)


def test_unknown_feature_names_are_listed(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", correlated_rows(60, 3))
    with pytest.raises(DataError, match="'Pressure' not in the file") as info:
        read_recordings([path], features=["sensor_0", "Pressure"])
    assert info.value.column == "Pressure"


def test_constant_column_and_too_few_rows_are_refused(tmp_path: Path) -> None:
    rows = correlated_rows(100, 3)
    rows[:, 1] = 5.0
    rec = read_recordings([write_csv(tmp_path / "c.csv", rows)])
    with pytest.raises(DataError, match="constant") as info:
        check_trainable(rec)
    assert info.value.column == "sensor_1"
    short = read_recordings([write_csv(tmp_path / "s.csv", correlated_rows(10, 3))])
    with pytest.raises(DataError, match="too few rows"):
        check_trainable(short)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_recordings([tmp_path / "absent.csv"])
    with pytest.raises(DataError, match="empty"):
        read_recordings([_write(tmp_path / "empty.csv", "")])
    with pytest.raises(DataError, match="no data rows"):
        read_recordings([_write(tmp_path / "header.csv", "timestamp,a\n")])


def test_several_files_concatenate_with_sources(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", correlated_rows(70, 3, seed=1))
    b = write_csv(tmp_path / "b.csv", correlated_rows(80, 3, seed=2), sep=";")
    rec = read_recordings([a, b])
    assert rec.n_rows == 150
    assert [(s, e) for _, s, e in rec.sources] == [(0, 70), (70, 150)]
    assert np.isfinite(rec.values).all()


def test_parquet_input(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = correlated_rows(60, 2)
    table = pa.table({"timestamp": np.arange(60.0) + 1e9, "x": rows[:, 0], "y z": rows[:, 1]})
    pq.write_table(table, tmp_path / "d.parquet")
    rec = read_recordings([tmp_path / "d.parquet"])
    assert rec.features == ("x", "y z")
    assert rec.values[:, 1] == pytest.approx(rows[:, 1])


def test_parquet_columns_match_the_same_recording_read_from_csv(tmp_path: Path) -> None:
    """The simulator's Parquet (timestamp type, nulls for dropouts, int8 labels, fault strings) reads to the
    same recording as its CSV."""
    pytest.importorskip("pyarrow")
    from edgewatch.data.read import read_recording
    from edgewatch.sim import simulate
    from edgewatch.sim import write_csv as write_sim_csv
    from edgewatch.sim.writers import write_parquet

    recording = simulate(n_rows=400, rate_hz=1.0, seed=3, start_time=1_767_225_600.0, faults="dropout", fault_count=2)
    from_csv = read_recording(write_sim_csv(recording, tmp_path / "pump.csv"), allow_missing=True)
    from_parquet = read_recording(write_parquet(recording, tmp_path / "pump.parquet"), allow_missing=True)
    assert from_parquet.features == from_csv.features
    assert np.isnan(from_parquet.values).any()
    np.testing.assert_array_equal(np.isnan(from_parquet.values), np.isnan(from_csv.values))
    np.testing.assert_allclose(from_parquet.values, from_csv.values, rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(from_parquet.timestamps, from_csv.timestamps)
    assert from_parquet.labels is not None and from_csv.labels is not None
    assert from_parquet.labels.tolist() == from_csv.labels.tolist()
    assert from_parquet.faults is not None and from_csv.faults is not None
    assert from_parquet.faults.tolist() == from_csv.faults.tolist()


def test_parquet_head_epoch_milliseconds_and_text_numbers(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "ts": pa.array([1_700_000_000_000, 1_700_000_001_000, 1_700_000_002_000], type=pa.int64()),
            "a": pa.array([1, 2, 3], type=pa.int32()),
            "b": pa.array(["1,5", "2.5", "3"]),  # a text column: read like a CSV cell
        }
    )
    pq.write_table(table, tmp_path / "d.parquet")
    rec = read_recordings([tmp_path / "d.parquet"], head=2)
    assert rec.timestamps.tolist() == [1_700_000_000.0, 1_700_000_001.0]
    assert rec.values.tolist() == [[1.0, 1.5], [2.0, 2.5]]


@pytest.mark.parametrize(
    ("columns", "row", "column", "needle"),
    [
        ({"timestamp": [1.0, 2.0, 3.0], "a": [1.0, None, 2.0]}, 2, "a", "missing value"),
        ({"timestamp": [1.0, 2.0, 3.0], "a": [1.0, 2.0, float("inf")]}, 3, "a", "non-finite value"),
        ({"timestamp": [1.0, 2.0, 3.0], "a": ["1", "x", "2"]}, 2, "a", "non-numeric value 'x'"),
        ({"timestamp": [1.0, -2.0, 3.0], "a": [1.0, 2.0, 3.0]}, 2, "timestamp", "non-negative"),
        ({"timestamp": [1.0, 2.0, 1e18], "a": [1.0, 2.0, 3.0]}, 3, "timestamp", "micro- or nanoseconds"),
        ({"timestamp": [1.0, 2.0, 3.0], "a": [1.0, 2.0, 3.0], "anomaly": [0, 7, 1]}, 2, "anomaly", "label must be"),
    ],
)
def test_bad_parquet_cells_name_file_row_and_column(
    tmp_path: Path, columns: dict, row: int, column: str, needle: str  # type: ignore[type-arg]
) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table(columns), path)
    with pytest.raises(DataError) as info:
        read_recordings([path], features=["a"])
    error = info.value
    assert (error.path, error.row, error.column) == (str(path), row, column)
    assert needle in str(error)
