"""Fixtures of the aarch64 tests: the emulated 64-bit Raspberry Pi OS (``scripts/arm64-python``), prepared
once per session, and readings of the real test bundle's machine with a fault in them."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.agent.build_real_bundle import FEATURES, sensor_rows

REPO = Path(__file__).resolve().parents[2]
ARM64_PYTHON = REPO / "scripts" / "arm64-python"
T0 = 1_767_225_600.0


def require_emulation() -> None:
    """Skip unless this is an x86_64 Linux host with qemu-user-static and debootstrap (``setup.sh --dev``
    installs them); under ``CI=true`` a missing tool fails instead, as a set-up error."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        pytest.skip(f"the aarch64 emulation runs on x86_64 Linux hosts, not {platform.system()} {platform.machine()}")
    missing = [tool for tool in ("qemu-aarch64-static", "debootstrap") if shutil.which(tool) is None]
    if missing:
        message = f"{' and '.join(missing)} not installed (./setup.sh --dev installs them)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + "; CI must install them", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def arm64_python() -> Callable[..., list[str]]:
    """``arm64_python(*args) -> argv`` running Python on the emulated Pi; the sysroot and aarch64 wheels are
    built (or found in the cache) once per session, and the edge stack must import there."""
    require_emulation()
    probe = "import numpy, onnxruntime, ai_edge_litert, paho.mqtt.client, sqlite3, edgewatch.agent.service"
    done = subprocess.run(
        [str(ARM64_PYTHON), "-c", probe], capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        pytest.fail(f"the emulated aarch64 Python is not usable:\n{done.stdout}\n{done.stderr}", pytrace=False)

    def argv(*args: str) -> list[str]:
        return [str(ARM64_PYTHON), *args]

    return argv


def fault_rows(n_normal: int = 200, n_fault: int = 15, n_after: int = 85) -> np.ndarray:
    """Readings of the real test bundle's machine: normal, then sensors s0 and s3 far off, then normal again."""
    rows = sensor_rows(5000, n_normal + n_fault + n_after)
    rows[n_normal : n_normal + n_fault, 0] += 60.0
    rows[n_normal : n_normal + n_fault, 3] -= 40.0
    return rows


def payloads(rows: np.ndarray, t0: float = T0) -> list[bytes]:
    """One ``{"ts", "values"}`` message per row, one second apart."""
    return [
        json.dumps({"ts": t0 + i, "values": dict(zip(FEATURES, map(float, row), strict=True))}).encode()
        for i, row in enumerate(rows)
    ]
