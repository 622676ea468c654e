"""``edgewatch train`` when the INT8 model fails the fidelity gate: by default the bundle runs its FP32 model
and the command says so (which bars, which values); ``--require-int8`` makes it an error (exit status 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgewatch.cli import main
from tests.recordings import correlated_rows, write_csv

# five evenly spread calibration rows, no range rows: too few for the INT8 ranges, a real gate failure
UNDER_CALIBRATED = ["--calibration-rows", "5", "--no-calibration-range", "--max-epochs", "40", "--no-progress"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("fallback") / "small.csv", correlated_rows(1500, 8, seed=5))


def test_a_failed_gate_makes_fp32_the_default_and_says_why(
    tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b"
    assert main(["train", str(data), "--out", str(out), *UNDER_CALIBRATED]) == 0
    captured = capsys.readouterr()
    assert "default model: litert-fp32 (litert), onnx-fp32 (onnx)" in captured.out
    assert "INT8 failed the fidelity gate:\n  litert-int8: " in captured.err
    assert " < 0.99" in captured.err  # a bar and the measured value
    assert "the bundle runs its faithful FP32 models by default (litert-fp32 instead of litert-int8" in captured.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["default_artifact"] == {"litert": "litert-fp32", "onnx": "onnx-fp32"}
    assert manifest["fidelity"]["unfaithful"] == ["litert-int8", "onnx-int8"]
    assert manifest["fidelity"]["on_failure"] == "fallback-fp32"

    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "defaults     litert: litert-fp32, onnx: onnx-fp32" in info
    assert "scoring with litert-fp32 (the bundle's default): INT8 failed the fidelity gate (litert-int8: " in info
    assert "fidelity     FAILED by litert-int8, onnx-int8; not a default: the bundle runs its FP32 models" in info

    assert main(["score", str(out), str(data), "--out", str(tmp_path / "s.csv")]) == 0
    assert "with litert-fp32 (litert)" in capsys.readouterr().err  # the edge commands run the default


def test_require_int8_exits_3_naming_the_failed_bar_and_writes_nothing(
    tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b"
    assert main(["train", str(data), "--out", str(out), *UNDER_CALIBRATED, "--require-int8"]) == 3
    err = capsys.readouterr().err
    assert "edgewatch train: error: --require-int8: the INT8 model would not make the same decisions" in err
    assert "litert-int8: " in err and " < 0.99" in err
    assert not out.exists()


def test_require_int8_contradicting_options_are_refused(
    tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse: mutually exclusive
        main(["train", str(data), "--out", str(tmp_path / "b"), "--require-int8", "--allow-low-fidelity"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert main(["train", str(data), "--out", str(tmp_path / "b"), "--require-int8", "--precision", "fp32"]) == 2
    assert "--require-int8 contradicts --precision fp32" in capsys.readouterr().err
