"""``edgewatch simulate`` through ``edgewatch.cli.main``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from edgewatch.cli import main


def _rows(path: Path, sep: str = ",") -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f, delimiter=sep))


def test_simulate_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pump.csv"
    assert main(["simulate", "--out", str(out), "--rows", "5000", "--seed", "3"]) == 0
    rows = _rows(out)
    assert len(rows) == 5001 and rows[0][0] == "timestamp" and len(rows[0]) == 13
    events = json.loads((tmp_path / "pump.csv.events.json").read_text())
    assert len(events) == 9
    text = capsys.readouterr().out
    assert "5000 rows" in text and "9 faults" in text
    for ev in events:
        assert f"rows {ev['start_row']}-{ev['end_row'] - 1}" in text


def test_simulate_options(tmp_path: Path) -> None:
    out = tmp_path / "pump.csv"
    argv = ["simulate", "--out", str(out), "--duration", "2h", "--rate", "0.5", "--features", "12"]
    argv += ["--faults", "spike,dropout", "--fault-count", "4", "--sep", ";", "--seed", "9"]
    assert main(argv) == 0
    rows = _rows(out, ";")
    assert len(rows) == 3601 and len(rows[0]) == 12 + 3
    faults = {r[-1] for r in rows[1:]}
    assert faults == {"", "spike", "dropout"}


def test_simulate_without_faults(tmp_path: Path) -> None:
    out = tmp_path / "normal.csv"
    assert main(["simulate", "--out", str(out), "--rows", "1000", "--faults", "none"]) == 0
    assert {r[-2] for r in _rows(out)[1:]} == {"0"}
    assert json.loads((tmp_path / "normal.csv.events.json").read_text()) == []


def test_simulate_parquet(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "pump.parquet"
    assert main(["simulate", "--out", str(out), "--rows", "2000"]) == 0
    assert pq.read_table(out).num_rows == 2000


def test_same_seed_same_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["simulate", "--out", str(a), "--rows", "3000", "--seed", "5"]) == 0
    assert main(["simulate", "--out", str(b), "--rows", "3000", "--seed", "5"]) == 0
    assert a.read_bytes() == b.read_bytes()


def test_unknown_fault_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "--out", str(tmp_path / "x.csv"), "--rows", "100", "--faults", "spike,gremlins"])
    assert code != 0
    err = capsys.readouterr().err
    assert err.startswith("edgewatch simulate: error:")
    assert "'gremlins'" in err and "bearing_wear" in err and "correlation_break" in err
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--duration", "2 fortnights"], "duration"),
        (["--features", "20"], "n_features"),
        (["--rows", "0"], "n_rows"),
        (["--rows", "30", "--fault-count", "50"], "too short"),
        (["--sep", "ab"], "sep"),
    ],
)
def test_bad_options_exit_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    assert main(["simulate", "--out", str(tmp_path / "x.csv"), *extra]) != 0
    assert needle in capsys.readouterr().err


def test_bad_output_suffix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--out", str(tmp_path / "x.json"), "--rows", "100"]) != 0
    assert ".csv or .parquet" in capsys.readouterr().err


def test_out_or_mqtt_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["simulate", "--rows", "10"])
    assert info.value.code == 2
    assert "--out" in capsys.readouterr().err


def test_unreachable_broker_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("paho.mqtt")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["simulate", "--mqtt", f"mqtt://127.0.0.1:{port}", "--rows", "5", "--faults", "none"])
    assert code != 0
    assert "cannot connect" in capsys.readouterr().err


def test_shortened_faults_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Faults that do not fit at their drawn lengths are shortened: the summary says by how much, and the
    recording keeps the drawn total next to the labelled rows."""
    from edgewatch.sim import simulate

    crowded = simulate(n_rows=4000, n_features=16, seed=3, fault_count=20)
    labelled = int(crowded.labels.sum())
    assert crowded.fault_rows_drawn > labelled == sum(ev.end_row - ev.start_row for ev in crowded.events)
    out = tmp_path / "crowded.csv"
    assert main(["simulate", "--out", str(out), "--rows", "4000", "--seed", "3", "--fault-count", "20"]) == 0
    text = capsys.readouterr().out
    assert f"were shortened to {labelled} rows" in text and f"({crowded.fault_rows_drawn} rows)" in text


def test_faults_that_fit_are_not_reported_as_shortened(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edgewatch.sim import simulate

    roomy = simulate(n_rows=20000, n_features=16, seed=3, faults=["spike"], fault_count=1)
    assert roomy.fault_rows_drawn == int(roomy.labels.sum()) > 0
    out = tmp_path / "roomy.csv"
    assert main(["simulate", "--out", str(out), "--rows", "20000", "--seed", "3", "--faults", "spike"]) == 0
    assert "shortened" not in capsys.readouterr().out
