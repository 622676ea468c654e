"""The agent itself on emulated 64-bit Raspberry Pi OS: ``edgewatch run`` under qemu-aarch64 with the aarch64
wheels, connected to a real Mosquitto on this host, is sent readings with a fault and publishes the alert
sequence that the x86 pipeline computes from the same readings (what ``edgewatch replay`` runs).

ONNX Runtime is bit-exact between the two machines, so its alerts must be equal field for field; LiteRT INT8
may differ by a quantization step (docs/arm64.md), so its alerts must be the same sequence (alert ids,
states, severities, times, thresholds, leading sensor) with scores within the bundle's probe tolerance."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edgewatch.agent.config import load_config
from edgewatch.bundle import load_bundle
from edgewatch.core.events import AlertEvent
from edgewatch.core.pipeline import Pipeline
from edgewatch.rig.agent import stop_agent, write_agent_config
from edgewatch.rig.clients import Publisher
from edgewatch.runtime import open_backend
from edgewatch.runtime.probe import deviations
from tests.arm64.conftest import T0, fault_rows, payloads

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

DEVICE = "press-7"


def _x86_alerts(config_path: Path, messages: list[bytes]) -> list[dict[str, Any]]:
    """The same readings through the shared pipeline on this x86 host, in one batch."""
    config = load_config(config_path)
    bundle = load_bundle(config.bundle.path)
    backend = open_backend(bundle, config.runtime.backend, threads=config.runtime.threads)
    pipeline = Pipeline(bundle.manifest, backend, config.pipeline, max_payload_bytes=config.mqtt.max_payload_bytes)
    events = pipeline.process([(DEVICE, m, T0 + i) for i, m in enumerate(messages)])
    return [e.to_json() for e in events if isinstance(e, AlertEvent)]


def _without_scores(alert: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in alert.items() if k not in ("score", "top_features", "sustained")}
    return kept | {"leading": alert["top_features"][0]["feature"]}


@pytest.mark.parametrize("runtime", ["litert", "onnx"])
def test_agent_on_arm64_alerts_as_x86(
    tmp_path: Path, broker, listen, real_bundle: Path, arm64_python: Callable[..., list[str]], runtime: str
) -> None:  # type: ignore[no-untyped-def]
    config = write_agent_config(
        tmp_path / "agent.toml",
        bundle=real_bundle,
        url=broker.url,
        state_dir=tmp_path / "state",
        sections={"runtime": {"backend": runtime}, "mqtt": {"qos": 1}, "health": {"agent_id": "edge-arm64"}},
    )
    status = listen("edgewatch/edge-arm64/status")
    alerts = listen(f"edgewatch/{DEVICE}/alert")
    messages = payloads(fault_rows())
    log = tmp_path / "agent.log"
    with open(log, "wb") as handle:
        agent = subprocess.Popen(
            arm64_python("-m", "edgewatch.cli", "run", "--config", str(config)),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300  # emulated start-up: imports and model loading, ~15 s unloaded
        while b"online" not in status.payloads("edgewatch/edge-arm64/status"):
            assert agent.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the emulated agent did not come online:\n" + log.read_text()
            time.sleep(0.2)
        publisher = Publisher(broker.url)
        publisher.send(DEVICE, messages)
        publisher.close()
        live = alerts.wait_for(lambda ms: any(json.loads(m.payload)["state"] == "cleared" for m in ms), timeout=300)
    finally:
        code = stop_agent(agent, timeout=60)
    assert code == 0, log.read_text()
    assert status.payloads("edgewatch/edge-arm64/status")[-1] == b"stopped"
    arm64 = [json.loads(m.payload) for m in live]
    x86 = _x86_alerts(config, messages)
    assert [a["state"] for a in x86][:1] == ["raised"] and x86[-1]["state"] == "cleared"
    if runtime == "onnx":
        assert arm64 == x86
        return
    assert [_without_scores(a) for a in arm64] == [_without_scores(a) for a in x86]
    tolerance = load_bundle(real_bundle).manifest.probe.tolerance
    for mine, theirs in zip(arm64, x86, strict=True):
        assert deviations([theirs["score"]], [mine["score"]], theirs["threshold"])[0] <= tolerance, (mine, theirs)
