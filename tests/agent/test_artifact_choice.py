"""At start the agent logs which model it scores with and why: the bundle's default (the FP32 model when the
INT8 one failed the fidelity gate), a warning when it runs an INT8 model that failed the gate."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from edgewatch.agent.config import load_config
from edgewatch.agent.service import run_agent
from edgewatch.bundle import Bundle, Manifest
from edgewatch.rig.agent import write_agent_config
from tests.fakes import GATE_FAILURE, SquaredScorer, int8_manifest_dict, write_fake_bundle
from tests.transports.memory import MemoryBroker, MemoryTransport


class BoundScorer(SquaredScorer):
    def __init__(self, artifact: Any) -> None:
        super().__init__()
        self.artifact = artifact


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``open_backend`` replaced by the fake scorer bound to the artifact the manifest chooses (the real
    choice: ``Manifest.artifact_for``); the names it opened."""
    names: list[str] = []

    def fake_open_backend(bundle: Bundle, runtime: str = "litert", *, artifact: str | None = None, **_: Any) -> Any:
        chosen = bundle.manifest.artifact_for(runtime, artifact)
        names.append(chosen.name)
        return BoundScorer(chosen)

    monkeypatch.setattr("edgewatch.runtime.open_backend", fake_open_backend)
    return names


def _start(tmp_path: Path, manifest: dict[str, Any], runtime: dict[str, Any] | None = None) -> None:
    """Start the agent on a fake bundle with ``manifest`` and stop it at once (in-memory transport)."""
    bundle = write_fake_bundle(tmp_path / "bundle", Manifest.from_json(manifest))
    sections = {"runtime": runtime} if runtime else None
    config = write_agent_config(
        tmp_path / "a.toml", bundle=bundle, url="mqtt://127.0.0.1:1", state_dir=tmp_path / "state", sections=sections
    )
    stop = threading.Event()
    stop.set()
    transport = MemoryTransport(MemoryBroker())
    assert run_agent(load_config(config), transport=transport, stop=stop, handle_signals=False) == 0


def test_start_logs_the_fp32_fallback_and_why(
    tmp_path: Path, opened: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="edgewatch.agent"):
        _start(tmp_path, int8_manifest_dict())
    assert opened == ["litert-fp32"]
    [line] = [r for r in caplog.records if "scoring with" in r.getMessage()]
    assert line.levelno == logging.INFO
    assert line.getMessage() == (
        f"scoring with litert-fp32 (the bundle's default): INT8 failed the fidelity gate ({GATE_FAILURE})"
    )


def test_start_warns_when_it_runs_an_unfaithful_int8_model(
    tmp_path: Path, opened: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    kept = int8_manifest_dict(default="litert-int8", on_failure="keep-int8")
    with caplog.at_level(logging.INFO, logger="edgewatch.agent"):
        _start(tmp_path / "kept", kept)
        _start(tmp_path / "asked", int8_manifest_dict(), runtime={"artifact": "litert-int8"})
    assert opened == ["litert-int8", "litert-int8"]
    kept_line, asked_line = [r for r in caplog.records if "scoring with" in r.getMessage()]
    assert kept_line.levelno == asked_line.levelno == logging.WARNING
    assert "litert-int8 (the bundle's default), an INT8 model that FAILED the fidelity gate" in kept_line.getMessage()
    assert "kept as the default by train --allow-low-fidelity" in kept_line.getMessage()
    assert asked_line.getMessage().startswith("scoring with litert-int8 (requested), an INT8 model that FAILED")
    assert GATE_FAILURE in asked_line.getMessage()


def test_start_logs_a_faithful_int8_model_plainly(
    tmp_path: Path, opened: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="edgewatch.agent"):
        _start(tmp_path, int8_manifest_dict(failed=False, default="litert-int8"))
    [line] = [r for r in caplog.records if "scoring with" in r.getMessage()]
    assert line.levelno == logging.INFO
    assert line.getMessage() == "scoring with litert-int8 (the bundle's default; INT8, passed the fidelity gate)"
