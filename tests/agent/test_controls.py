"""Operator controls and silent devices end to end: a real Mosquitto, the assembled agent (run_agent, fake
model), commands on edgewatch/<device>/<control>/set, states on .../state, and the agent restarted in between:
what operators set and which devices are silent survive it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from edgewatch.agent.config import load_config
from edgewatch.agent.homeassistant import agent_node
from edgewatch.agent.service import run_agent
from edgewatch.rig.agent import write_agent_config
from edgewatch.rig.clients import Publisher
from tests.fakes import QUICK_ALERTS, SquaredScorer, reading, write_fake_bundle

pytestmark = pytest.mark.mqtt


class Agent:
    """run_agent in a thread; ``restart()`` stops it cleanly and starts it again on the same state."""

    def __init__(self, tmp_path: Path, broker, **sections) -> None:  # type: ignore[no-untyped-def]
        bundle = tmp_path / "bundle"
        if not bundle.exists():
            write_fake_bundle(bundle)
        base = {
            "mqtt": {"keepalive": 5, "qos": 1},
            "thresholds": {"mode": "fixed"},
            "alerts": QUICK_ALERTS,
            "health": {"agent_id": "pi-7", "thermal_file": "/nonexistent/temp"},
        }
        self.config = write_agent_config(
            tmp_path / "edgewatch.toml",
            bundle=bundle,
            url=broker.url,
            state_dir=tmp_path / "state",
            sections={**base, **sections},
        )
        self.thread: threading.Thread | None = None
        self.result: dict[str, int] = {}

    def start(self, listen) -> None:  # type: ignore[no-untyped-def]
        self.stop_event = threading.Event()
        status = listen("edgewatch/pi-7/status")
        config = load_config(self.config)

        def target() -> None:
            self.result["rc"] = run_agent(config, backend=SquaredScorer(), stop=self.stop_event, handle_signals=False)

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()
        status.wait_for(lambda ms: ms and ms[-1].payload == b"online", timeout=10)
        time.sleep(0.3)  # SUBACKs

    def stop(self) -> None:
        if self.thread is not None:
            self.stop_event.set()
            self.thread.join(15)
            assert self.result.get("rc") == 0
            self.thread = None

    def restart(self, listen) -> None:  # type: ignore[no-untyped-def]
        self.stop()
        self.start(listen)


def _send(pub: Publisher, device: str, values: list[float], t0: float) -> float:
    for i, v in enumerate(values):
        pub.publish(f"plant/{device}/sensors", reading(t0 + i, v), qos=1).wait_for_publish(5)
    return t0 + len(values)


def _command(pub: Publisher, device: str, control: str, payload: bytes) -> None:
    pub.publish(f"edgewatch/{device}/{control}/set", payload, qos=1).wait_for_publish(5)


def _states(listener) -> list[str]:  # type: ignore[no-untyped-def]
    return [json.loads(m.payload)["state"] for m in listener.messages if m.topic.endswith("/alert")]


def test_maintenance_and_sensitivity_survive_a_restart_and_bad_commands_are_answered(
    tmp_path: Path, broker, listen
) -> None:
    agent = Agent(tmp_path, broker)
    agent.start(listen)
    try:
        pub = Publisher(broker.url)
        t = _send(pub, "m1", [0.1] * 3, time.time() - 100)
        states = listen("edgewatch/m1/+/state")
        assert states.wait_for(
            lambda ms: (
                {m.topic for m in ms}
                >= {
                    "edgewatch/m1/maintenance/state",
                    "edgewatch/m1/sensitivity/state",
                    "edgewatch/m1/acknowledge/state",
                }
            )
        )
        errors = listen("edgewatch/m1/error")
        _command(pub, "m1", "sensitivity", b"9")
        rejected = json.loads(errors.wait_for(lambda ms: bool(ms))[0].payload)
        assert (rejected["event"], rejected["command"], rejected["reason"]) == (
            "command_rejected",
            "sensitivity",
            "out_of_range",
        )
        _command(pub, "m1", "sensitivity", b"2")
        _command(pub, "m1", "maintenance", b"ON")
        states.wait_for(
            lambda ms: ("edgewatch/m1/maintenance/state", b"ON", True) in [(m.topic, m.payload, True) for m in ms]
        )
        agent.restart(listen)

        late = listen("edgewatch/m1/+/state")  # retained: what a dashboard subscribing now sees
        assert late.wait_for(lambda ms: len({m.topic for m in ms}) == 3)
        seen = {m.topic.split("/")[2]: m.payload for m in late.messages}
        assert seen["maintenance"] == b"ON" and seen["sensitivity"] == b"2"
        alerts = listen("edgewatch/m1/alert")
        t = _send(pub, "m1", [1.5] * 6, t)  # above 4 / 2 = 2: would alert, but the machine is in maintenance
        time.sleep(0.5)
        assert _states(alerts) == []
        _command(pub, "m1", "maintenance", b'{"state": "ON", "duration_s": 0.5}')  # ... ending by itself
        assert late.wait_for(lambda ms: (ms[-1].topic, ms[-1].payload) == ("edgewatch/m1/maintenance/state", b"OFF"))
        t = _send(pub, "m1", [1.5] * 3, max(t, time.time()))
        raised = json.loads(alerts.wait_for(lambda ms: bool(ms))[0].payload)
        assert raised["state"] == "raised" and raised["threshold"] == 2.0  # the sensitivity survived the restart
        pub.close()
    finally:
        agent.stop()
    saved = json.loads((tmp_path / "state" / "pipeline-state.json").read_text())
    assert saved["version"] == 3 and saved["devices"]["m1"]["operator"]["sensitivity"] == 2.0


def test_an_acknowledgement_is_recorded_in_the_alerts_next_message_across_a_restart(
    tmp_path: Path, broker, listen
) -> None:
    agent = Agent(tmp_path, broker)
    agent.start(listen)
    try:
        pub = Publisher(broker.url)
        alerts = listen("edgewatch/m2/alert")
        errors = listen("edgewatch/m2/error")
        t = _send(pub, "m2", [0.1] * 2, time.time() - 100)
        _command(pub, "m2", "acknowledge", b"PRESS")  # nothing to acknowledge yet
        assert json.loads(errors.wait_for(lambda ms: bool(ms))[0].payload)["reason"] == "no_active_alert"
        t = _send(pub, "m2", [5.0] * 3, t)
        alert_id = json.loads(alerts.wait_for(lambda ms: bool(ms))[0].payload)["alert_id"]
        _command(pub, "m2", "acknowledge", json.dumps({"alert_id": alert_id, "by": "alice"}).encode())
        acks = listen("edgewatch/m2/acknowledge/state")
        ack = json.loads(acks.wait_for(lambda ms: bool(ms) and json.loads(ms[-1].payload)["alert_id"])[-1].payload)
        assert ack["alert_id"] == alert_id and ack["by"] == "alice"
        agent.restart(listen)
        t = _send(pub, "m2", [0.1] * 3, t)  # the alert clears after the restart: its message names the ack
        got = alerts.wait_for(lambda ms: "cleared" in _states(alerts))
        cleared = json.loads(got[-1].payload)
        assert cleared["state"] == "cleared" and cleared["acknowledged"]["by"] == "alice"
        ack_state = listen("edgewatch/m2/acknowledge/state")
        none = {"alert_id": None, "by": None, "ts": None}  # nothing acknowledged any more
        assert ack_state.wait_for(lambda ms: bool(ms) and json.loads(ms[-1].payload) == none)
        pub.close()
    finally:
        agent.stop()


def test_a_silent_device_is_reported_through_the_outbox_and_recovers_across_a_restart(
    tmp_path: Path, broker, listen
) -> None:
    agent = Agent(tmp_path, broker, silence={"timeout_s": 1.0, "check_interval_s": 0.1})
    agent.start(listen)
    try:
        pub = Publisher(broker.url)
        silence = listen("edgewatch/+/silence")
        t = _send(pub, "quiet", [0.1] * 3, time.time() - 10)
        _send(pub, "gone", [0.1] * 3, time.time() - 10)
        got = silence.wait_for(lambda ms: {json.loads(m.payload)["device"] for m in ms} == {"quiet", "gone"}, 5)
        assert {json.loads(m.payload)["event"] for m in got} == {"device_silent"}
        agent.restart(listen)  # both still silent after the restart: no second device_silent
        time.sleep(0.5)
        assert len(silence.messages) == 2
        _send(pub, "quiet", [0.1], t)
        back = silence.wait_for(lambda ms: len(ms) == 3)[-1]
        assert back.topic == "edgewatch/quiet/silence" and json.loads(back.payload)["event"] == "device_recovered"
        retained = listen("edgewatch/+/silence")  # what a dashboard subscribing now sees
        retained.wait_for(lambda ms: len(ms) == 2)
        now = {m.topic: json.loads(m.payload)["state"] for m in retained.messages}
        assert now == {"edgewatch/quiet/silence": "recovered", "edgewatch/gone/silence": "silent"}
        pub.close()
    finally:
        agent.stop()


def test_a_device_that_fell_silent_while_the_agent_was_down_is_found_at_start(tmp_path: Path, broker, listen) -> None:
    agent = Agent(tmp_path, broker, silence={"timeout_s": 1.0, "check_interval_s": 0.1})
    agent.start(listen)
    pub = Publisher(broker.url)
    _send(pub, "lost", [0.1] * 2, time.time() - 10)
    time.sleep(0.3)
    agent.stop()  # before its timeout
    silence = listen("edgewatch/lost/silence")
    time.sleep(1.2)
    agent.start(listen)
    try:
        assert json.loads(silence.wait_for(lambda ms: bool(ms), 5)[0].payload)["event"] == "device_silent"
    finally:
        pub.close()
        agent.stop()


def test_home_assistant_sees_the_agent_device_and_the_machines_controls(tmp_path: Path, broker, listen) -> None:
    agent = Agent(tmp_path, broker, homeassistant={"enabled": True})
    discovery = listen("homeassistant/#")
    agent.start(listen)
    try:
        pub = Publisher(broker.url)
        _send(pub, "m3", [0.1] * 2, time.time() - 10)
        got = discovery.wait_for(lambda ms: any("/switch/edgewatch_m3/" in m.topic for m in ms))
        configs = {m.topic: json.loads(m.payload) for m in got}
        node = agent_node("pi-7")
        agent_ids = {c["device"]["identifiers"][0] for t, c in configs.items() if f"/{node}/" in t}
        assert agent_ids == {node}
        switch = configs["homeassistant/switch/edgewatch_m3/maintenance/config"]
        assert switch["device"]["via_device"] == node
        state = listen(switch["state_topic"])
        pub.publish(switch["command_topic"], switch["payload_on"].encode(), qos=1).wait_for_publish(5)
        assert state.wait_for(lambda ms: bool(ms) and ms[-1].payload == b"ON")
        pub.close()
    finally:
        agent.stop()
