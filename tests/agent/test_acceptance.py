"""Issue acceptance through a real Mosquitto and a real trained model, the agent in its own process:

* normal data raises no alert;
* every kind of bad payload yields an error message naming the reason, and the agent keeps working;
* a broker stopped for 10 s and restarted loses no alert.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from tests.agent.build_real_bundle import FEATURES, sensor_rows
from tests.agent.helpers import wait_for_outbox
from tests.agent.test_real_model import (
    SCORE_EVERY_READING,
    T0,
    THIRD_READING_RAISES,
    Publisher,
    _config,
    _payloads,
    _spawn_agent,
    _stop_agent,
)

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]


def _online(listen):  # type: ignore[no-untyped-def]
    status = listen("edgewatch/edge-1/status")
    status.wait_for(lambda ms: any(p == b"online" for _, p, _ in ms), timeout=30)
    time.sleep(0.2)  # SUBACK of the agent's subscription


def test_normal_data_raises_no_alert(tmp_path: Path, broker, listen, real_bundle: Path) -> None:
    config = _config(tmp_path, broker, real_bundle, health=SCORE_EVERY_READING)
    alerts = listen("edgewatch/+/alert")
    scores = listen("edgewatch/quiet-1/score")
    proc = _spawn_agent(config)
    try:
        _online(listen)
        pub = Publisher(broker)
        rows = sensor_rows(8000, 400)
        pub.send(
            "quiet-1",
            [
                json.dumps({"ts": T0 + i, "values": dict(zip(FEATURES, map(float, row), strict=True))}).encode()
                for i, row in enumerate(rows)
            ],
        )
        pub.close()
        scores.wait_for(lambda ms: len(ms) >= 400, timeout=30)
        time.sleep(0.5)
    finally:
        output = _stop_agent(proc)
    assert proc.returncode == 0, output
    assert alerts.messages == [], alerts.messages


BAD_PAYLOADS = {
    "malformed_json": b'{"ts": 1, "values": {',
    "oversized": b'{"pad": "' + b"x" * 20000 + b'"}',
    "unknown_feature": json.dumps({"values": {**{f: 50.0 for f in FEATURES}, "bogus": 1.0}}).encode(),
    "missing_feature": json.dumps({"values": {f: 50.0 for f in FEATURES[1:]}}).encode(),
    "wrong_type": json.dumps({"values": {**{f: 50.0 for f in FEATURES}, FEATURES[2]: "high"}}).encode(),
    "non_finite": b'{"values": {' + b", ".join(f'"{f}": NaN'.encode() for f in FEATURES) + b"}}",
    "wrong_length": json.dumps([50.0, 50.0]).encode(),
    "bad_timestamp": json.dumps({"ts": "yesterday", "values": {f: 50.0 for f in FEATURES}}).encode(),
    "out_of_range": json.dumps({"ts": T0 + 5, "values": {**{f: 50.0 for f in FEATURES}, FEATURES[0]: 1e9}}).encode(),
    "duplicate_timestamp": json.dumps({"ts": T0 + 1, "values": {f: 50.0 for f in FEATURES}}).encode(),
    "out_of_order": json.dumps({"ts": T0 - 100, "values": {f: 50.0 for f in FEATURES}}).encode(),
}


def test_every_bad_payload_yields_an_error_message_and_no_crash(
    tmp_path: Path, broker, listen, real_bundle: Path
) -> None:
    config = _config(tmp_path, broker, real_bundle)
    errors = listen("edgewatch/press-9/error")
    alerts = listen("edgewatch/press-9/alert")
    proc = _spawn_agent(config)
    try:
        _online(listen)
        pub = Publisher(broker)
        good = _payloads(n_normal=2, n_anomalous=0, n_after=0)  # readings at T0 and T0 + 1
        pub.send("press-9", good)
        for payload in BAD_PAYLOADS.values():
            pub.send("press-9", [payload])
            time.sleep(1.05)  # the error topic is rate-limited per device (1/s, burst 5)
        got = errors.wait_for(lambda ms: len(ms) >= len(BAD_PAYLOADS), timeout=30)
        reasons = [json.loads(p)["reason"] for _, p, _ in got]
        assert reasons == list(BAD_PAYLOADS), reasons
        for _, p, _ in got:
            message = json.loads(p)
            assert message["message"] and message["device"] == "press-9"
        # still alive and still scoring: a fault afterwards raises an alert naming the perturbed sensor
        later = _payloads(n_normal=20, n_anomalous=12, n_after=0, t0=T0 + 1000)
        pub.send("press-9", later)
        raised = alerts.wait_for(lambda ms: any(json.loads(p)["state"] == "raised" for _, p, _ in ms), timeout=30)
        first = json.loads(raised[0][1])
        assert first["top_features"][0]["feature"] in ("s0", "s3")
        assert proc.poll() is None
        pub.close()
    finally:
        output = _stop_agent(proc)
    assert proc.returncode == 0, output


def test_broker_stopped_for_10_s_loses_no_alert(tmp_path: Path, broker, listen, real_bundle: Path) -> None:
    config = _config(tmp_path, broker, real_bundle, health=SCORE_EVERY_READING, alerts=THIRD_READING_RAISES)
    scores = listen("edgewatch/line-5/score")
    proc = _spawn_agent(config)
    try:
        _online(listen)
        pub = Publisher(broker)
        payloads = _payloads(n_normal=30, n_anomalous=12, n_after=30)
        pub.send("line-5", payloads[:31])
        scores.wait_for(lambda ms: len(ms) >= 31, timeout=20)
        pub.send("line-5", payloads[31:33])  # the 3rd anomalous reading raises the alert ...
        broker.freeze()  # ... and the broker never acknowledges it
        outbox = tmp_path / "state" / "outbox.sqlite3"
        assert wait_for_outbox(outbox), "the alert should wait in the outbox"
        pub.client.loop_stop()
        broker.stop(kill=True)  # the broker dies with the unacknowledged alert
        down_since = time.monotonic()
        time.sleep(10.0)
        broker.start()
        alerts = listen("edgewatch/line-5/alert")
        assert time.monotonic() - down_since >= 10.0
        _online(listen)  # the agent is back (its birth message) and has re-subscribed
        pub = Publisher(broker)
        pub.send("line-5", payloads[33:])  # the rest of the fault and normal readings: the alert clears
        got = alerts.wait_for(lambda ms: any(json.loads(p)["state"] == "cleared" for _, p, _ in ms), timeout=60)
        pub.close()
    finally:
        output = _stop_agent(proc)
    assert proc.returncode == 0, output
    states = [json.loads(p)["state"] for _, p, _ in got]
    assert states[0] == "raised" and states[-1] == "cleared", states
    first = json.loads(got[0][1])
    assert first["alert_id"] == f"line-5-{round((T0 + 32) * 1000)}"
    assert not math.isnan(first["score"])
