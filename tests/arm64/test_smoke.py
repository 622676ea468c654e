"""``scripts/arm64-smoke.sh`` on emulated 64-bit Raspberry Pi OS: the edge stack loads the real test bundle,
scores a recording with a fault on all four artifacts and replays it, and every result agrees with the same
computation on this x86 host within the rules of docs/arm64.md."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.agent.build_real_bundle import FEATURES
from tests.arm64.conftest import REPO, T0, fault_rows

pytestmark = pytest.mark.slow


def test_smoke_script_agrees_with_x86(
    tmp_path: Path, real_bundle: Path, arm64_python: Callable[..., list[str]]
) -> None:
    recording = tmp_path / "fault.csv"
    with open(recording, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", *FEATURES])
        for i, row in enumerate(fault_rows()):
            writer.writerow([f"{T0 + i:.0f}", *(f"{v:.5f}" for v in row)])
    out = tmp_path / "out"
    env = {**os.environ, "OUT_DIR": str(out), "PYTHON_X86": sys.executable}
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "arm64-smoke.sh"), str(real_bundle), str(recording), "0", "300"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "[compare] PASS: aarch64 (emulated) vs x86_64 (native)" in report, report
    emulated = json.loads((out / "arm64.json").read_text())
    assert emulated["platform"]["machine"] == "aarch64"
    assert emulated["platform"]["cpuinfo_model"].startswith("Raspberry Pi 4")
    assert sorted(emulated["artifacts"]) == ["litert-fp32", "litert-int8", "onnx-fp32", "onnx-int8"]
    for name, replayed in emulated["replay"].items():  # the fault was seen on the Pi, not only compared
        states = [e["state"] for e in replayed["events"] if e["event"] == "alert"]
        assert states[:1] == ["raised"] and states[-1:] == ["cleared"], (name, states)
