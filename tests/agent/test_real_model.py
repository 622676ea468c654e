"""End to end with a real trained model: broker -> agent (``python -m edgewatch.agent``) -> broker.

* an anomaly published as sensor readings comes back as raised/cleared alerts, for LiteRT and ONNX;
* the alerts of the live run equal, field for field, those of replaying the same payloads through the
  shared pipeline (what ``edgewatch replay`` runs);
* ``kill -9`` while an alert waits for its PUBACK: the restarted agent delivers it;
* the model is loaded exactly once per process, across a broker restart;
* the agent process never imports the training stack.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edgewatch.agent.config import load_config
from edgewatch.bundle import load_bundle
from edgewatch.core.events import AlertEvent
from edgewatch.core.pipeline import Pipeline
from edgewatch.rig.agent import write_agent_config
from edgewatch.rig.clients import Publisher as RigPublisher
from tests.agent.build_real_bundle import FEATURES, sensor_rows
from tests.agent.helpers import wait_for_outbox

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

T0 = 1_767_225_600.0
HERE = Path(__file__).resolve().parent


def _payloads(n_normal: int = 120, n_anomalous: int = 12, n_after: int = 40, t0: float = T0) -> list[bytes]:
    rows = sensor_rows(5000, n_normal + n_anomalous + n_after)
    rows[n_normal : n_normal + n_anomalous, 0] += 60.0  # sensor s0 drifts far off for 12 readings
    rows[n_normal : n_normal + n_anomalous, 3] -= 40.0
    return [
        json.dumps({"ts": t0 + i, "values": dict(zip(FEATURES, map(float, row), strict=True))}).encode()
        for i, row in enumerate(rows)
    ]


# Tests that stop the broker right after "the 3rd anomalous reading raises" pin that rule (the shipped
# defaults are 5 of 10 plus an instant raise, which would raise at the first reading of this fault).
THIRD_READING_RAISES = {"k": 3, "n": 5, "instant_ratio": math.inf, "min_active_s": 0.0}
SCORE_EVERY_READING = {"score_stream": True, "score_every_n": 1}


def _config(tmp_path: Path, broker, bundle: Path, runtime: str = "litert", health=None, alerts=None) -> Path:  # type: ignore[no-untyped-def]
    sections = {
        "runtime": {"backend": runtime},
        "mqtt": {"qos": 1, "keepalive": 5},
        "health": {"agent_id": "edge-1", "thermal_file": "/nonexistent", **(health or {})},
        **({"alerts": alerts} if alerts else {}),
    }
    return write_agent_config(
        tmp_path / "agent.toml", bundle=bundle, url=broker.url, state_dir=tmp_path / "state", sections=sections
    )


def Publisher(broker) -> RigPublisher:  # type: ignore[no-untyped-def]
    return RigPublisher(broker.url)


def _spawn_agent(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "edgewatch.agent", "-v", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop_agent(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        output, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    return output


def _replay(config_path: Path, device: str, payloads: list[bytes]) -> list[dict]:  # type: ignore[type-arg]
    """What ``edgewatch replay`` computes: the same payloads through the shared pipeline, one batch."""
    from edgewatch.runtime import open_backend

    config = load_config(config_path)
    bundle = load_bundle(config.bundle.path)
    pipeline = Pipeline(
        bundle.manifest,
        open_backend(bundle, config.runtime.backend, threads=config.runtime.threads),
        config.pipeline,
        max_payload_bytes=config.mqtt.max_payload_bytes,
    )
    events = pipeline.process([(device, p, T0 + i) for i, p in enumerate(payloads)])
    return [e.to_json() for e in events if isinstance(e, AlertEvent)]


def _replay_command(
    tmp_path: Path, config_path: Path, device: str, payloads: list[bytes]
) -> list[tuple[str, str, str]]:
    """``edgewatch replay`` itself, on a CSV of the same readings: (state, alert id, severity) per alert."""
    import csv

    from edgewatch.cli import main

    recording = tmp_path / "recording.csv"
    with open(recording, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", *FEATURES])
        for p in payloads:
            message = json.loads(p)
            writer.writerow([message["ts"], *(message["values"][f] for f in FEATURES)])
    config = load_config(config_path)
    out = tmp_path / "events.csv"
    args = [
        "replay",
        str(config.bundle.path),
        str(recording),
        "--out",
        str(out),
        "--config",
        str(config_path),
        "--device",
        device,
        "--runtime",
        config.runtime.backend,
    ]
    assert main(args) == 0
    alerts = []
    with open(out, newline="") as handle:
        for row in csv.DictReader(handle):
            for event in row["events"].split():
                if event.startswith("alert_"):
                    state, alert_id, severity = event.removeprefix("alert_").split(":")
                    alerts.append((state, alert_id, severity))
    return alerts


@pytest.mark.parametrize("runtime", ["litert", "onnx"])
def test_live_alerts_equal_replay(tmp_path: Path, broker, listen, real_bundle: Path, runtime: str) -> None:
    config = _config(tmp_path, broker, real_bundle, runtime)
    status = listen("edgewatch/edge-1/status")
    alerts = listen("edgewatch/+/alert")
    payloads = _payloads(n_after=80)  # the shipped alert rules: an alert stays open at least 60 s
    proc = _spawn_agent(config)
    try:
        status.wait_for(lambda ms: any(p == b"online" for _, p, _ in ms), timeout=30)
        time.sleep(0.2)  # SUBACK
        pub = Publisher(broker)
        pub.send("press-7", payloads)
        pub.close()
        live = alerts.wait_for(lambda ms: any(json.loads(p)["state"] == "cleared" for _, p, _ in ms), timeout=30)
    finally:
        output = _stop_agent(proc)
    assert proc.returncode == 0, output
    live_alerts = [json.loads(p) for t, p, _ in live if t == "edgewatch/press-7/alert"]
    states = [a["state"] for a in live_alerts]
    assert states[0] == "raised" and states[-1] == "cleared", states
    assert live_alerts[0]["top_features"][0]["feature"] in ("s0", "s3")
    assert live_alerts == _replay(config, "press-7", payloads)
    live_sequence = [(a["state"], a["alert_id"], a["severity"]) for a in live_alerts]
    assert live_sequence == _replay_command(tmp_path, config, "press-7", payloads)
    assert status.payloads("edgewatch/edge-1/status")[-1] == b"stopped"


def test_kill_9_with_pending_alert_real_model(tmp_path: Path, broker, listen, real_bundle: Path) -> None:
    config = _config(tmp_path, broker, real_bundle, health=SCORE_EVERY_READING, alerts=THIRD_READING_RAISES)
    status = listen("edgewatch/edge-1/status")
    scores = listen("edgewatch/line-2/score")
    payloads = _payloads(n_normal=30, n_anomalous=12, n_after=0)
    proc = _spawn_agent(config)
    try:
        status.wait_for(lambda ms: any(p == b"online" for _, p, _ in ms), timeout=30)
        time.sleep(0.2)
        pub = Publisher(broker)
        pub.send("line-2", payloads[:31])  # normal rows and the first anomalous one
        scores.wait_for(lambda ms: len(ms) >= 31, timeout=20)
        pub.send("line-2", payloads[31:33])  # the 3rd anomalous reading raises the alert ...
        broker.freeze()  # ... and the broker never acknowledges its PUBLISH
        outbox = tmp_path / "state" / "outbox.sqlite3"
        rows = wait_for_outbox(outbox)
        assert rows and rows[0][0] == "edgewatch/line-2/alert"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        pub.client.loop_stop()
    finally:
        if proc.poll() is None:
            proc.kill()
    broker.stop(kill=True)
    broker.start()
    alerts = listen("edgewatch/+/alert")
    proc = _spawn_agent(config)
    try:
        got = alerts.wait_for(lambda ms: len(ms) >= 1, timeout=30)
        first = json.loads(got[0][1])
        assert first["state"] == "raised" and first["device"] == "line-2"
        assert first["alert_id"] == f"line-2-{round((T0 + 32) * 1000)}"
    finally:
        output = _stop_agent(proc)
    assert proc.returncode == 0, output


def test_model_loaded_once_across_broker_restart(
    tmp_path: Path, broker, listen, real_bundle: Path, monkeypatch
) -> None:
    import edgewatch.runtime as runtime
    from edgewatch.agent.service import run_agent

    opened: list[str] = []
    real_open = runtime.open_backend

    def counting_open(*args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(args[1] if len(args) > 1 else kwargs.get("runtime", "litert"))
        return real_open(*args, **kwargs)

    monkeypatch.setattr(runtime, "open_backend", counting_open)
    status = listen("edgewatch/edge-1/status")
    stop = threading.Event()
    thread = threading.Thread(
        target=run_agent,
        args=(load_config(_config(tmp_path, broker, real_bundle, health=SCORE_EVERY_READING)),),
        kwargs={"stop": stop, "handle_signals": False},
        daemon=True,
    )
    thread.start()
    try:
        status.wait_for(lambda ms: any(p == b"online" for _, p, _ in ms), timeout=30)
        pub = Publisher(broker)
        pub.send("m", _payloads(5, 0, 0))
        pub.close()
        broker.stop()
        broker.start()
        again = listen("edgewatch/edge-1/status")
        again.wait_for(lambda ms: any(p == b"online" for _, p, _ in ms), timeout=15)
        pub = Publisher(broker)
        scores = listen("edgewatch/m/score")
        pub.send("m", _payloads(5, 0, 0, t0=T0 + 100))
        pub.close()
        scores.wait_for(lambda ms: len(ms) >= 5, timeout=10)  # scored after the reconnect
    finally:
        stop.set()
        thread.join(15)
    assert opened == ["litert"]
