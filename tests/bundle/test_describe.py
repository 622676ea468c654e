"""``edgewatch info`` says which model each runtime runs and, when INT8 failed the fidelity gate, that the
bundle falls back to FP32 (or was told to keep INT8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgewatch.bundle import Manifest
from edgewatch.bundle.describe import describe, gate_line
from edgewatch.cli import main
from tests.fakes import GATE_FAILURE, int8_manifest_dict, write_fake_bundle


def _info(tmp_path: Path, data: dict, capsys: pytest.CaptureFixture[str]) -> str:  # type: ignore[type-arg]
    bundle = write_fake_bundle(tmp_path / "b", Manifest.from_json(data))
    assert main(["info", str(bundle)]) == 0
    return capsys.readouterr().out


def test_info_shows_the_fallback_to_fp32_and_the_failed_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _info(tmp_path, int8_manifest_dict(), capsys)
    assert "defaults     litert: litert-fp32\n" in out
    assert (
        f"  litert     scoring with litert-fp32 (the bundle's default): INT8 failed the fidelity gate ({GATE_FAILURE})"
    ) in out
    assert "fidelity     FAILED by litert-int8; not a default: the bundle runs its FP32 models; bars" in out


def test_info_shows_an_unfaithful_int8_default_kept_on_purpose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _info(tmp_path, int8_manifest_dict(default="litert-int8", on_failure="keep-int8"), capsys)
    assert "defaults     litert: litert-int8\n" in out
    assert "an INT8 model that FAILED the fidelity gate" in out and "train --allow-low-fidelity" in out
    assert "fidelity     FAILED by litert-int8; litert-int8 kept as default anyway (train --allow-low-fidelity)" in out


def test_gate_lines_of_a_passed_gate_and_of_no_gate() -> None:
    passed = Manifest.from_json(int8_manifest_dict(failed=False, default="litert-int8"))
    assert gate_line(passed) == "passed"
    assert any("INT8, passed the fidelity gate" in line for line in describe(passed, Path("b")))
    no_int8 = Manifest.from_json(int8_manifest_dict(failed=False) | {"fidelity": None})
    assert gate_line(no_int8) == "no INT8 model"
