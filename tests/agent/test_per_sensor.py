"""One topic per sensor through a real Mosquitto to the real agent process with a real model: values published
one sensor per topic (``<node>/sensor/<sensor>/state``, as ESPHome names them) are assembled into readings;
a fault raises an alert naming the sensor, and a sensor that stops publishing becomes a missing-sensor fault."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from edgewatch.rig.agent import write_agent_config
from edgewatch.rig.clients import Publisher
from tests.agent.build_real_bundle import FEATURES, sensor_rows
from tests.agent.test_payload_shapes import _spawn, _stop

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

T0 = 1_767_225_600.0


def test_values_on_one_topic_per_sensor_raise_an_alert_and_a_silent_sensor_is_missing(
    tmp_path: Path, broker, listen, real_bundle: Path
) -> None:
    config = write_agent_config(
        tmp_path / "agent.toml",
        bundle=real_bundle,
        url=broker.url,
        state_dir=tmp_path / "state",
        sections={
            "mqtt": {"qos": 1, "topic": "+/sensor/+/state", "per_sensor": {"sensor_level": 2, "interval_s": 1.0}},
            "alerts": {"k": 3, "n": 5, "instant_ratio": math.inf, "min_active_s": 0.0},
            "health": {"agent_id": "edge-1", "thermal_file": "/nonexistent"},
        },
    )
    alerts = listen("edgewatch/pump-node/alert")
    faults = listen("edgewatch/pump-node/sensor_fault")
    errors = listen("edgewatch/pump-node/error")
    status = listen("edgewatch/edge-1/status")
    proc = _spawn(config)
    try:
        status.wait_for(lambda ms: any(p == b"online" for _, p, _ in ms), timeout=30)
        time.sleep(0.3)
        pub = Publisher(broker.url)
        rows = sensor_rows(5000, 45)
        rows[20:32, 0] += 60.0
        rows[20:32, 3] -= 40.0
        infos = []
        for i, row in enumerate(rows):
            for j, sensor in enumerate(FEATURES):
                if i >= 32 and sensor == "s5":
                    continue  # s5 falls silent after row 31
                payload = json.dumps({"value": float(row[j]), "ts": T0 + i + 0.05 * j}).encode()
                infos.append(pub.publish(f"pump-node/sensor/{sensor}/state", payload, qos=1))
        for info in infos:
            info.wait_for_publish(10)
        got = alerts.wait_for(lambda ms: any(json.loads(p)["state"] == "raised" for _, p, _ in ms), timeout=30)
        missing = faults.wait_for(
            lambda ms: any(json.loads(p)["kind"] == "missing" and json.loads(p)["state"] == "active" for _, p, _ in ms),
            timeout=30,
        )
        pub.close()
    finally:
        output = _stop(proc)
    assert proc.returncode == 0, output
    assert errors.messages == [], errors.messages
    raised = json.loads(got[0][1])
    assert raised["top_features"][0]["feature"] in ("s0", "s3"), raised
    assert raised["ts"] == int(raised["ts"])  # a grid time (interval 1 s)
    fault = next(json.loads(p) for _, p, _ in missing if json.loads(p)["state"] == "active")
    assert fault["sensors"] == ["s5"]
    assert fault["ts"] == T0 + 32 + 3  # s5's last value (T0 + 31.25) is older than 3 intervals at T0 + 35
