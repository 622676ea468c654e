"""The assembled agent (run_agent) against a real Mosquitto, with the fake backend.

End to end: readings in on plant/<device>/sensors, alerts out on edgewatch/<device>/alert; availability
(online / stopped / offline); broker outage; SIGTERM; kill -9 with an alert still in the outbox; the
model loaded exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edgewatch.agent.config import load_config
from edgewatch.agent.service import run_agent
from edgewatch.rig.agent import write_agent_config
from edgewatch.rig.clients import Listener
from edgewatch.rig.clients import Publisher as RigPublisher
from tests.agent.helpers import outbox_rows, wait_for_outbox
from tests.fakes import QUICK_ALERTS, reading, write_fake_bundle
from tests.fakes import SquaredScorer as FakeBackend

pytestmark = pytest.mark.mqtt

T0 = 1_767_225_600.0
HERE = Path(__file__).resolve().parent


def _write_config(tmp_path: Path, broker, health=None) -> Path:  # type: ignore[no-untyped-def]
    bundle = tmp_path / "bundle"
    if not bundle.exists():
        write_fake_bundle(bundle)
    sections = {
        "mqtt": {"client_id": "agent-under-test", "keepalive": 5},
        "thresholds": {"mode": "fixed"},
        "alerts": QUICK_ALERTS,
        "health": {"agent_id": "pi-7", "thermal_file": "/nonexistent/temp", **(health or {})},
    }
    return write_agent_config(
        tmp_path / "edgewatch.toml", bundle=bundle, url=broker.url, state_dir=tmp_path / "state", sections=sections
    )


def Publisher(broker) -> RigPublisher:  # type: ignore[no-untyped-def]
    return RigPublisher(broker.url)


def _start_in_thread(config_path: Path, backend: FakeBackend):  # type: ignore[no-untyped-def]
    stop = threading.Event()
    result: dict[str, object] = {}

    def target() -> None:
        result["rc"] = run_agent(load_config(config_path), backend=backend, stop=stop, handle_signals=False)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return stop, thread, result


def _alert_states(messages) -> list[str]:  # type: ignore[no-untyped-def]
    return [json.loads(p)["state"] for t, p, _ in messages if t.endswith("/alert")]


def test_alert_end_to_end_status_and_clean_stop(tmp_path: Path, broker, listen) -> None:
    watch = listen("edgewatch/#")
    backend = FakeBackend()
    stop, thread, result = _start_in_thread(_write_config(tmp_path, broker), backend)
    try:
        watch.wait_for(lambda ms: ("edgewatch/pi-7/status", b"online", False) in ms)
        pub = Publisher(broker)
        values = [0.1] * 3 + [5.0] * 4 + [0.1] * 4
        pub.send("pump1", [reading(T0 + i, v) for i, v in enumerate(values)])
        got = watch.wait_for(lambda ms: "cleared" in _alert_states(ms))
        pub.close()
        states = [s for s in _alert_states(got) if s != "update"]
        assert states == ["raised", "cleared"]
        raised = next(json.loads(p) for t, p, _ in got if t == "edgewatch/pump1/alert")
        assert raised["device"] == "pump1" and raised["model_id"] == "dense-ae-0badc0de"
        assert raised["top_features"] and raised["score"] > raised["threshold"]
    finally:
        stop.set()
        thread.join(10)
    assert result["rc"] == 0
    watch.wait_for(lambda ms: ms[-1][:2] == ("edgewatch/pi-7/status", b"stopped"))
    time.sleep(0.3)
    assert b"offline" not in watch.payloads("edgewatch/pi-7/status")  # clean stop: no last will
    state = json.loads((tmp_path / "state" / "pipeline-state.json").read_text())
    assert "pump1" in state["devices"]
    assert FakeBackend.instances >= 1 and len(backend.calls) >= 1


def test_broker_outage_alerts_delivered_after_restart_and_model_loaded_once(tmp_path: Path, broker, listen) -> None:
    before = FakeBackend.instances
    backend = FakeBackend()
    stop, thread, _ = _start_in_thread(_write_config(tmp_path, broker), backend)
    try:
        watch = listen("edgewatch/pi-7/status")
        watch.wait_for(lambda ms: any(p == b"online" for _, p, _ in ms))
        pub = Publisher(broker)
        pub.send("pump2", [reading(T0 + i, 0.1) for i in range(3)])
        time.sleep(0.3)  # scored before the outage
        pub.close()
        broker.stop()
        time.sleep(0.3)
        broker.start()
        alerts = listen("edgewatch/+/alert")
        pub = Publisher(broker)
        deadline = time.monotonic() + 10
        # the agent reconnects (back-off <= a few s) and re-subscribes; then anomalous readings alert
        while time.monotonic() < deadline:
            pub.send("pump2", [reading(T0 + 10 + time.monotonic() % 1000, 5.0)])
            if _alert_states(alerts.messages):
                break
            time.sleep(0.2)
        assert _alert_states(alerts.wait_for(lambda ms: bool(_alert_states(ms)), timeout=5))[0] == "raised"
        pub.close()
    finally:
        stop.set()
        thread.join(10)
    assert FakeBackend.instances == before + 1  # never reopened across the reconnect


def _spawn(config: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "run_fake_agent.py"), str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    return proc


def test_sigterm_saves_state_publishes_stopped_and_exits_zero(tmp_path: Path, broker, listen) -> None:
    watch = listen("edgewatch/pi-7/status")
    proc = _spawn(_write_config(tmp_path, broker))
    try:
        watch.wait_for(lambda ms: any(p == b"online" for _, p, _ in ms), timeout=10)
        pub = Publisher(broker)
        pub.send("pump3", [reading(T0 + i) for i in range(3)])
        pub.close()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert watch.payloads("edgewatch/pi-7/status")[-1] == b"stopped"
    assert "pump3" in json.loads((tmp_path / "state" / "pipeline-state.json").read_text())["devices"]


def test_kill_9_with_a_pending_alert_delivers_it_after_restart(tmp_path: Path, broker, listen) -> None:
    config = _write_config(tmp_path, broker, health={"score_stream": True, "score_every_n": 1})
    outbox = tmp_path / "state" / "outbox.sqlite3"
    scores = listen("edgewatch/pump4/score")
    proc = _spawn(config)
    try:
        pub = Publisher(broker)
        time.sleep(0.5)  # the agent connects and subscribes
        pub.send("pump4", [reading(T0 + i, v) for i, v in enumerate([0.1, 0.1, 0.1, 5.0, 5.0])])
        scores.wait_for(lambda ms: len(ms) >= 5, timeout=10)  # the agent scored all five
        pub.send("pump4", [reading(T0 + 5, 5.0)])  # the 3rd anomalous reading raises the alert ...
        broker.freeze()  # ... whose PUBLISH the broker will never acknowledge
        rows = wait_for_outbox(outbox)
        assert [t for t, _ in rows] == ["edgewatch/pump4/alert"], rows
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        pub.client.loop_stop()
    finally:
        if proc.poll() is None:
            proc.kill()
    broker.stop(kill=True)  # whatever the frozen broker had buffered is gone with it
    broker.start()
    alerts = listen("edgewatch/+/alert")
    proc = _spawn(config)
    try:
        got = alerts.wait_for(lambda ms: len(ms) >= 1, timeout=10)
        alert = json.loads(got[0][1])
        assert alert["state"] == "raised" and alert["alert_id"] == f"pump4-{round((T0 + 5) * 1000)}"
        deadline = time.monotonic() + 5
        while outbox_rows(outbox) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert outbox_rows(outbox) == []
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)


def test_saved_state_is_restored_at_start(tmp_path: Path, broker, listen, caplog) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="edgewatch.agent")
    config = _write_config(tmp_path, broker)
    for run in range(2):
        status = listen("edgewatch/pi-7/status")
        stop, thread, result = _start_in_thread(config, FakeBackend())
        status.wait_for(lambda ms: any(p == b"online" for _, p, _ in ms))
        if run == 0:
            pub = Publisher(broker)
            pub.send("pump5", [reading(T0 + i, 5.0) for i in range(4)])  # an alert is active
            pub.close()
            listen("edgewatch/pump5/alert").wait_for(lambda ms: len(ms) >= 1)
        stop.set()
        thread.join(10)
        assert result["rc"] == 0
    assert "restored the state of 1 device(s)" in caplog.text
    state = json.loads((tmp_path / "state" / "pipeline-state.json").read_text())
    assert state["devices"]["pump5"]["alert"]["alert_id"] == f"pump5-{round((T0 + 2) * 1000)}"


def test_a_far_future_reading_does_not_silence_the_device(tmp_path: Path, broker, listen) -> None:
    """Issue 13, defect 1: one reading timed in 2100 used to become the device's last time, so every later
    reading was "out of order" and a fault right after it raised nothing."""
    watch = listen("edgewatch/pump6/#")
    stop, thread, result = _start_in_thread(_write_config(tmp_path, broker), FakeBackend())
    try:
        listen("edgewatch/pi-7/status").wait_for(lambda ms: any(p == b"online" for _, p, _ in ms))
        now = time.time()
        pub = Publisher(broker)
        pub.send("pump6", [reading(now - 10 + i) for i in range(3)])
        pub.send("pump6", [reading(4_102_444_800.0)])  # 2100-01-01: a wrong RTC or one bad packet
        pub.send("pump6", [reading(now - 6 + i, 5.0) for i in range(4)])
        got = watch.wait_for(lambda ms: "raised" in _alert_states(ms), timeout=10)
        pub.close()
        errors = [json.loads(p) for t, p, _ in got if t == "edgewatch/pump6/error"]
        assert [e["reason"] for e in errors] == ["future_timestamp"]
    finally:
        stop.set()
        thread.join(10)
    assert result["rc"] == 0


def _online(listen) -> None:  # type: ignore[no-untyped-def]
    listen("edgewatch/pi-7/status").wait_for(lambda ms: ms and ms[-1][1] == b"online", timeout=10)


def test_kill_9_during_an_alert_still_clears_it_after_restart(tmp_path: Path, broker, listen) -> None:
    """Issue 13, defect 3: the device state used to be saved every 300 s and on clean shutdown only, so a
    kill -9 during an active alert lost it: the restarted agent never sent ``cleared`` and the retained alert
    topic showed ``raised`` until the device's next alert. The open alert is now written with its message."""
    config = _write_config(tmp_path, broker)
    alerts = listen("edgewatch/pump7/alert")
    proc = _spawn(config)
    try:
        _online(listen)
        now = time.time()
        pub = Publisher(broker)
        pub.send("pump7", [reading(now - 20 + i, v) for i, v in enumerate([0.1] * 3 + [5.0] * 3)])
        alerts.wait_for(lambda ms: "raised" in _alert_states(ms), timeout=10)
        os.kill(proc.pid, signal.SIGKILL)  # long before the periodic state save
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    proc = _spawn(config)
    try:
        _online(listen)
        pub.send("pump7", [reading(now - 10 + i, 0.1) for i in range(5)])
        alerts.wait_for(lambda ms: "cleared" in _alert_states(ms), timeout=10)
        pub.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    retained = listen("edgewatch/pump7/alert").wait_for(lambda ms: len(ms) >= 1)
    assert json.loads(retained[0][1])["state"] == "cleared"


def test_a_corrupt_outbox_is_moved_aside_and_the_agent_runs(tmp_path: Path, broker, listen) -> None:
    """Issue 13, defect 9: a corrupted outbox used to keep the service down until a person acted."""
    config = _write_config(tmp_path, broker)
    outbox = tmp_path / "state" / "outbox.sqlite3"
    outbox.parent.mkdir(parents=True)
    outbox.write_bytes(b"\x00garbage, not SQLite" * 300)
    events = listen("edgewatch/pi-7/event")
    alerts = listen("edgewatch/pump8/alert")
    stop, thread, result = _start_in_thread(config, FakeBackend())
    try:
        got = events.wait_for(lambda ms: len(ms) >= 1, timeout=10)
        event = json.loads(got[0][1])
        assert event["event"] == "outbox_corrupt" and "corrupt-" in event["moved_to"]
        assert Path(event["moved_to"]).read_bytes().startswith(b"\x00garbage")
        pub = Publisher(broker)
        now = time.time()
        pub.send("pump8", [reading(now - 10 + i, v) for i, v in enumerate([0.1] * 3 + [5.0] * 3)])
        alerts.wait_for(lambda ms: "raised" in _alert_states(ms), timeout=10)
        pub.close()
    finally:
        stop.set()
        thread.join(10)
    assert result.get("rc") == 0


def test_a_full_disk_does_not_crash_the_agent_nor_lose_the_alert(tmp_path: Path, broker, listen) -> None:
    """Issue 13, defect 2: ``sqlite3.OperationalError: database or disk is full`` used to escape the outbox,
    crash the agent and lose the alert being written."""
    from edgewatch.rig.tinyfs import TinyFilesystem, unavailable

    if unavailable():
        pytest.skip(f"{unavailable()}; tests/agent/test_outbox.py injects the same error without root")
    with TinyFilesystem(512) as fs:
        config = write_agent_config(
            tmp_path / "edgewatch.toml",
            bundle=write_fake_bundle(tmp_path / "bundle"),
            url=broker.url,
            state_dir=fs.path,
            sections={
                "mqtt": {"client_id": "agent-under-test"},
                "alerts": QUICK_ALERTS,
                "health": {"agent_id": "pi-7", "thermal_file": "/nonexistent/temp"},
            },
        )
        alerts = listen("edgewatch/pump9/alert")
        proc = _spawn(config)
        try:
            _online(listen)
            fs.fill()
            now = time.time()
            pub = Publisher(broker)
            pub.send("pump9", [reading(now - 20 + i, v) for i, v in enumerate([0.1] * 3 + [5.0] * 3)])
            alerts.wait_for(lambda ms: "raised" in _alert_states(ms), timeout=10)
            assert proc.poll() is None, "the agent died"
            fs.free()
            pub.send("pump9", [reading(now - 10 + i, 0.1) for i in range(4)])
            alerts.wait_for(lambda ms: "cleared" in _alert_states(ms), timeout=10)
            pub.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0, output
        assert "disk is full" in output


def test_an_alert_the_broker_refuses_is_logged_counted_and_kept(tmp_path: Path, caplog) -> None:
    """Issue 13, defect 5: on MQTT 3.1.1, the old default, Mosquitto PUBACKs a publish its ACL denied, so
    the outbox deleted the alert and nothing was logged. The default is now MQTT 5: the refusal is logged,
    counted and the message kept in the outbox's dead_letter table."""
    import logging

    from edgewatch.agent.outbox import Outbox
    from edgewatch.rig.broker import MosquittoBroker
    from tests.mqtt_broker import require_mosquitto

    caplog.set_level(logging.INFO)
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite plant/#\ntopic readwrite edgewatch/pi-7/#\ntopic read edgewatch/#\n")
    with MosquittoBroker(binary=require_mosquitto(), extra_conf=f"acl_file {acl}\n") as broker:
        stop, thread, result = _start_in_thread(_write_config(tmp_path, broker), FakeBackend())
        try:
            now = time.time()
            time.sleep(0.5)
            pub = Publisher(broker)
            pub.send("pump10", [reading(now - 20 + i, v) for i, v in enumerate([0.1] * 3 + [5.0] * 3)])
            deadline = time.monotonic() + 10
            while "Not authorized" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
            pub.close()
        finally:
            stop.set()
            thread.join(10)
    assert result["rc"] == 0
    assert "broker refused" in caplog.text and "Not authorized" in caplog.text
    with Outbox(tmp_path / "state" / "outbox.sqlite3") as outbox:
        dead = outbox.dead_letters()
    assert [(d.topic, json.loads(d.payload)["state"], d.reason) for d in dead] == [
        ("edgewatch/pump10/alert", "raised", "Not authorized")
    ]


def test_a_persistent_session_loses_no_reading_during_a_restart(tmp_path: Path, broker, listen) -> None:
    """Issue 13, defect 6: with a clean session, readings sent while the agent restarts (or while it is
    still backing off after an outage) were lost. With ``mqtt.persistent_session`` the broker keeps the
    agent's QoS 1 subscription and queues them."""
    config = _write_config(tmp_path, broker)
    text = config.read_text().replace("[mqtt]\n", "[mqtt]\npersistent_session = true\nqos = 1\n")
    config.write_text(text)
    alerts = listen("edgewatch/pump11/alert")
    proc = _spawn(config)
    try:
        _online(listen)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    now = time.time()
    pub = Publisher(broker)
    pub.send("pump11", [reading(now - 20 + i, v) for i, v in enumerate([0.1] * 3 + [5.0] * 3)], qos=1)
    pub.close()
    proc = _spawn(config)
    try:
        alerts.wait_for(lambda ms: "raised" in _alert_states(ms), timeout=10)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)


def test_broker_side_drops_are_visible_in_the_stats(tmp_path: Path, listen) -> None:
    """Issue 13, defect 8: Mosquitto dropped 43% of a flood's QoS 0 messages on the agent's connection and no
    agent counter showed it. The agent now reads the broker's own counter ($SYS) into its stats."""
    from edgewatch.rig.broker import MosquittoBroker
    from tests.mqtt_broker import require_mosquitto

    conf = "max_queued_messages 20\nsys_interval 1\n"
    with MosquittoBroker(binary=require_mosquitto(), extra_conf=conf) as broker:
        config = _write_config(tmp_path, broker, health={"stats_interval_s": 1})
        proc = _spawn(config)
        try:
            stats = Listener(broker.url, "edgewatch/pi-7/stats")
            _wait_online(broker)
            os.kill(proc.pid, signal.SIGSTOP)  # the agent stops reading: the broker's queue for it fills
            flood = RigPublisher(broker.url)
            junk = b"x" * 4000  # 12 MB in all: more than the kernel's socket buffers hold for the stopped agent
            for _ in range(3000):
                flood.publish("plant/flood/sensors", junk, 0)
            flood.close()
            time.sleep(1.5)
            os.kill(proc.pid, signal.SIGCONT)
            got = stats.wait_for(lambda ms: any(json.loads(m[1]).get("broker_dropped_total") for m in ms), 15)
            last = json.loads(got[-1][1])
            assert last["broker_dropped_total"] > 0
            stats.close()
        finally:
            os.kill(proc.pid, signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=15)


def _wait_online(broker) -> None:  # type: ignore[no-untyped-def]
    status = Listener(broker.url, "edgewatch/pi-7/status")
    try:
        status.wait_for(lambda ms: ms and ms[-1][1] == b"online", timeout=10)
    finally:
        status.close()
