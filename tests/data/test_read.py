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
