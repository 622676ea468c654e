"""Each payload shape plants already publish (tests/payload_shapes.py) through a real Mosquitto to the real agent
process with a real model: a fault on two sensors raises an alert that names one of them; and a mapping that
does not fit the bundle stops the agent at start, naming the configuration field."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgewatch.rig.agent import write_agent_config
from edgewatch.rig.clients import Publisher
from tests.agent.build_real_bundle import FEATURES, sensor_rows
from tests.payload_shapes import SHAPES, Shape

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

T0 = 1_767_225_600.0
QUICK_RAISE = {"k": 3, "n": 5, "instant_ratio": math.inf}


def _config(tmp_path: Path, broker, bundle: Path, shape: Shape) -> Path:  # type: ignore[no-untyped-def]
    mqtt = {"qos": 1, "keepalive": 5, "topic": shape.topic_filter, "payload": shape.mapping}
    if shape.device_level is not None:
        mqtt["device_level"] = shape.device_level
    sections = {
        "mqtt": mqtt,
        "alerts": QUICK_RAISE,
        "health": {"agent_id": "edge-1", "thermal_file": "/nonexistent"},
    }
    return write_agent_config(
        tmp_path / "agent.toml", bundle=bundle, url=broker.url, state_dir=tmp_path / "state", sections=sections
    )


def _spawn(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "edgewatch.agent", "-v", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.communicate(timeout=20)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()[0]


def _readings(n_normal: int = 20, n_anomalous: int = 12) -> list[dict[str, float]]:
    rows = sensor_rows(5000, n_normal + n_anomalous)
    rows[n_normal:, 0] += 60.0  # the fault: s0 far off, s3 too
    rows[n_normal:, 3] -= 40.0
    return [dict(zip(FEATURES, map(float, row), strict=True)) for row in rows]


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_payload_shape_drives_an_alert_naming_the_sensor(
    name: str, tmp_path: Path, broker, listen, real_bundle: Path
) -> None:
    shape = SHAPES[name]
    device = f"{name}-pump"
    alerts = listen(f"edgewatch/{device}/alert")
    errors = listen(f"edgewatch/{device}/error")
    status = listen("edgewatch/edge-1/status")
    proc = _spawn(_config(tmp_path, broker, real_bundle, shape))
    try:
        status.wait_for(lambda ms: any(p == b"online" for _, p, _ in ms), timeout=30)
        time.sleep(0.3)  # SUBACK of the agent's subscription
        pub = Publisher(broker.url)
        topic = shape.topic.format(device=device)
        for i, values in enumerate(_readings()):
            pub.publish(topic, shape.payload(T0 + i, values), qos=1).wait_for_publish(10)
        got = alerts.wait_for(lambda ms: any(json.loads(p)["state"] == "raised" for _, p, _ in ms), timeout=30)
        pub.close()
    finally:
        output = _stop(proc)
    assert proc.returncode == 0, output
    assert errors.messages == [], errors.messages
    raised = json.loads(got[0][1])
    assert raised["device"] == device
    assert raised["top_features"][0]["feature"] in ("s0", "s3"), raised
    assert T0 + 20 <= raised["ts"] < T0 + 32  # the time came from the payload, in its unit


def test_a_mapping_that_does_not_fit_the_bundle_stops_the_agent_naming_the_field(
    tmp_path: Path, broker, real_bundle: Path
) -> None:
    shape = SHAPES["tasmota"]
    bad = {**shape.mapping, "rename": {**shape.mapping["rename"], "ANALOG.A2": "s9"}}
    config = _config(tmp_path, broker, real_bundle, Shape(**{**shape.__dict__, "mapping": bad}))
    proc = _spawn(config)
    output = _stop(proc) if proc.wait(timeout=60) is None else proc.communicate()[0]
    assert proc.returncode != 0
    assert "mqtt.payload.rename.ANALOG.A2: 's9' is not a feature of the bundle" in output, output
