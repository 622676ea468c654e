"""The train / score / info commands: outputs, exit codes, and bad input naming file, row and column."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from edgewatch.cli import main
from tests.recordings import correlated_rows, write_csv


def test_score_writes_one_row_per_reading_with_verdict_and_top_features(
    tmp_path: Path, dense_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = correlated_rows(300, seed=21)
    rows[200:220, 5] += 40 * rows[:, 5].std()  # a fault on sensor_5
    data = write_csv(tmp_path / "live.csv", rows, sep=";")
    out = tmp_path / "scores.csv"
    assert main(["score", str(dense_bundle), str(data), "--out", str(out)]) == 0
    with open(out, newline="") as handle:
        scored = list(csv.DictReader(handle))
    assert len(scored) == 300
    assert set(scored[0]) == {"row", "timestamp", "status", "score", "threshold", "is_anomaly", "top_features"}
    faulty = scored[200:220]
    assert all(r["is_anomaly"] == "1" and r["top_features"].startswith("sensor_5:") for r in faulty)
    normal_flags = sum(int(r["is_anomaly"]) for r in scored[:200])
    assert normal_flags <= 6
    assert "scored 300 of 300 rows with litert-int8" in capsys.readouterr().err


def test_score_with_onnx_runtime(tmp_path: Path, dense_bundle: Path) -> None:
    data = write_csv(tmp_path / "d.csv", correlated_rows(50, seed=4))
    out = tmp_path / "s.csv"
    assert main(["score", str(dense_bundle), str(data), "--out", str(out), "--runtime", "onnx"]) == 0
    assert len(out.read_text().splitlines()) == 51


def test_score_refuses_a_file_without_a_bundle_feature(
    tmp_path: Path, dense_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_csv(tmp_path / "d.csv", correlated_rows(20, 15))
    assert main(["score", str(dense_bundle), str(data), "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert "feature column(s) 'sensor_15' not in the file" in err and str(data) in err
    assert not (tmp_path / "s.csv").exists()


def test_score_refuses_a_bad_cell(tmp_path: Path, dense_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "d.csv", correlated_rows(20))
    lines = data.read_text().splitlines()
    cells = lines[7].split(",")  # line 7 of the file is data row 7 (the header is line 0)
    cells[3] = "abc"  # timestamp, sensor_0, sensor_1, sensor_2
    lines[7] = ",".join(cells)
    data.write_text("\n".join(lines) + "\n")
    assert main(["score", str(dense_bundle), str(data), "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert "row 7" in err and "column 'sensor_2'" in err and "non-numeric value 'abc'" in err


def test_info_shows_the_manifest_for_a_person(dense_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(dense_bundle)]) == 0
    out = capsys.readouterr().out
    for needle in ("dense-ae", "litert-int8", "threshold", "sensor_0", "fidelity     passed", "KB"):
        assert needle in out
    assert "score        max-z (max over features" in out
    assert "reconstruction rank corr 0.9" in out and "rank corr with stress set 0.9" in out
    assert main(["info", str(dense_bundle), "--json"]) == 0
    assert '"schema_version": 3' in capsys.readouterr().out


def test_train_refuses_bad_data_with_non_zero_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = correlated_rows(100, 3)
    rows[:, 2] = 1.0
    data = write_csv(tmp_path / "const.csv", rows)
    assert main(["train", str(data), "--out", str(tmp_path / "b"), "--no-progress"]) == 2
    assert "column 'sensor_2'" in capsys.readouterr().err
    assert main(["train", str(data), "--out", str(tmp_path / "b"), "--features", "sensor_0,nope"]) == 2
    assert "feature column(s) 'nope' not in the file" in capsys.readouterr().err
    for level in ("-1", "nan"):
        assert main(["train", str(data), "--out", str(tmp_path / "b"), "--calibration-fault-level", level]) == 2
        assert "--calibration-fault-level must be a number >= 0" in capsys.readouterr().err
    for tau in ("-1", "nan"):
        assert main(["train", str(data), "--out", str(tmp_path / "b"), "--sustained-tau", tau]) == 2
        assert "--sustained-tau must be a number of seconds >= 0" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_train_command_end_to_end_with_label_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    rows = correlated_rows(3000, 16, seed=8)
    labels = np.zeros(3000, dtype=int)
    labels[1000:1010] = 1
    data = write_csv(tmp_path / "d.csv", rows, labels=labels, sep=";")
    code = main(["train", str(data), "--out", str(tmp_path / "b"), "--label-col", "anomaly", "--no-progress",
                 "--max-epochs", "40"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "excluded 10 rows labelled anomalous" in captured.err
    assert "fidelity litert-int8 vs litert-fp32 on" in captured.out
    assert "reconstruction rank correlation 0.9" in captured.out


def test_score_and_info_never_import_the_training_stack(tmp_path: Path, dense_bundle: Path) -> None:
    data = write_csv(tmp_path / "d.csv", correlated_rows(30, seed=2))
    script = (
        "import sys\n"
        "from edgewatch.cli import main\n"
        f"assert main(['score', {str(dense_bundle)!r}, {str(data)!r}, '--out', {str(tmp_path / 's.csv')!r}]) == 0\n"
        f"assert main(['info', {str(dense_bundle)!r}]) == 0\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'sklearn', 'pandas', 'scipy') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_score_marks_rows_with_missing_values_instead_of_scoring_them(
    tmp_path: Path, dense_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_csv(tmp_path / "d.csv", correlated_rows(20))
    lines = data.read_text().splitlines()
    cells = lines[5].split(",")
    cells[2] = ""  # sensor_1 of data row 5 is empty
    lines[5] = ",".join(cells)
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "s.csv"
    assert main(["score", str(dense_bundle), str(data), "--out", str(out)]) == 0
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[4]["status"] == "missing:sensor_1" and rows[4]["score"] == "" and rows[4]["is_anomaly"] == ""
    assert all(r["status"] == "scored" for i, r in enumerate(rows) if i != 4)
    assert "19 of 20 rows" in capsys.readouterr().err
