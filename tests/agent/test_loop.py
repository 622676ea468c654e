"""The scoring loop with the real Pipeline, a fake scorer and the in-memory transport."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from edgewatch.agent.health import ThermalGuard
from edgewatch.agent.loop import AgentLoop, LoopSettings
from edgewatch.agent.outbox import Outbox
from edgewatch.agent.state import StateStore
from tests.fakes import Clock, reading
from tests.transports.memory import MemoryTransport

T0 = 1_767_225_600.0


@pytest.fixture
def rig(tmp_path: Path, make_pipeline):  # type: ignore[no-untyped-def]
    """Build a loop; returns (loop, transport, clock)."""
    made = []

    def build(transport: MemoryTransport | None = None, **settings):  # type: ignore[no-untyped-def]
        transport = transport or MemoryTransport()
        transport.start()
        clock = Clock()
        settings.setdefault("agent_id", "pi-7")
        thermal = settings.pop("thermal", None)
        loop = AgentLoop(
            LoopSettings(**settings),
            pipeline=make_pipeline(),
            transport=transport,
            outbox=Outbox(tmp_path / f"outbox{len(made)}.db"),
            thermal=thermal,
            state=StateStore(tmp_path / "state"),
            clock=clock,
        )
        made.append(loop)
        return loop, transport, clock

    yield build
    for loop in made:
        loop.outbox.close()


def _feed(transport: MemoryTransport, device: str, payloads: list[bytes]) -> None:
    for i, payload in enumerate(payloads):
        transport.deliver(f"plant/{device}/sensors", payload, arrival_time=T0 + i)


def _published(transport: MemoryTransport, topic: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(m.payload) for m in transport.sent if m.topic == topic]


def test_alert_raised_and_cleared_reach_the_alert_topic_via_the_outbox(rig) -> None:  # type: ignore[no-untyped-def]
    loop, t, _ = rig()
    values = [0.1] * 5 + [5.0] * 4 + [0.1] * 4
    _feed(t, "pump1", [reading(T0 + i, v) for i, v in enumerate(values)])
    assert loop.step(0.01) == len(values)
    loop.step(0.01)
    alerts = _published(t, "edgewatch/pump1/alert")
    assert [a["state"] for a in alerts if a["state"] != "update"] == ["raised", "cleared"]
    assert alerts[0]["device"] == "pump1" and alerts[0]["severity"] in ("minor", "major", "critical")
    assert alerts[0]["alert_id"] == f"pump1-{round((T0 + 7) * 1000)}"  # 3rd anomalous reading raises
    sent = [m for m in t.sent if m.topic == "edgewatch/pump1/alert"]
    assert all(m.qos == 1 and m.retain for m in sent)
    assert loop.outbox.depth == 0  # acknowledged and deleted
    assert loop.stats.scored_total == len(values)
    assert loop.devices == {"pump1"}


def test_alerts_wait_in_the_outbox_while_offline(rig) -> None:  # type: ignore[no-untyped-def]
    loop, t, _ = rig()
    t.set_online(False)
    _feed(t, "p", [reading(T0 + i, 5.0) for i in range(4)])
    loop.step(0.01)
    assert loop.outbox.depth == 1 and not _published(t, "edgewatch/p/alert")
    t.set_online(True)
    loop.step(0.01)
    assert [a["state"] for a in _published(t, "edgewatch/p/alert")] == ["raised"]
    loop.step(0.01)  # the PUBACK is applied on the next pump
    assert loop.outbox.depth == 0


def test_rejected_inputs_go_to_the_error_topic_and_logging_is_rate_limited(rig, caplog) -> None:  # type: ignore[no-untyped-def]
    loop, t, clock = rig()
    caplog.set_level(logging.WARNING, logger="edgewatch.agent")
    _feed(t, "p", [b"{not json"] * 20 + [reading(T0, 1e9)])
    loop.step(0.01)
    errors = _published(t, "edgewatch/p/error")
    assert 1 <= len(errors) <= 6  # at most a burst of 5 (+1 for a different reason) per second
    assert errors[0]["reason"] == "malformed_json" and "message" in errors[0] and "field" in errors[0]
    assert all(m.qos == 0 for m in t.sent if m.topic == "edgewatch/p/error")
    assert caplog.text.count("malformed_json") == 1
    assert loop.stats.rejected_total["malformed_json"] == 20
    assert loop.stats.rejected_total["out_of_range"] == 1
    clock.now += 61
    _feed(t, "p", [b"{still not json"])
    loop.step(0.01)
    assert "19 more like it" in caplog.text


def test_max_rate_drops_and_counts(rig) -> None:  # type: ignore[no-untyped-def]
    loop, t, clock = rig(max_rate_hz=2.0)
    _feed(t, "a", [reading(T0 + i) for i in range(5)])
    _feed(t, "b", [reading(T0 + i) for i in range(1)])
    assert loop.step(0.01) == 3  # 2 of a (one second's bucket), 1 of b
    assert loop.stats.rate_limited_total == 3
    clock.now += 1.0
    _feed(t, "a", [reading(T0 + 10 + i) for i in range(2)])
    assert loop.step(0.01) == 2


def test_score_stream_is_decimated(rig) -> None:  # type: ignore[no-untyped-def]
    loop, t, _ = rig(score_stream=True, score_every_n=3)
    _feed(t, "p", [reading(T0 + i) for i in range(7)])
    loop.step(0.01)
    scores = _published(t, "edgewatch/p/score")
    assert [s["ts"] for s in scores] == [T0, T0 + 3, T0 + 6]
    assert all(m.qos == 0 and not m.retain for m in t.sent if m.topic == "edgewatch/p/score")


def test_stats_are_published_periodically(rig) -> None:  # type: ignore[no-untyped-def]
    loop, t, clock = rig(stats_interval_s=10.0)
    _feed(t, "p", [reading(T0 + i) for i in range(3)])
    loop.step(0.01)
    assert not _published(t, "edgewatch/pi-7/stats")
    clock.now += 10
    loop.step(0.01)
    (stats,) = _published(t, "edgewatch/pi-7/stats")
    assert stats["readings_total"] == 3 and stats["outbox_depth"] == 0 and stats["queue_depth"] == 0
    assert stats["latency_ms_p50"] is not None and stats["connected"] is True
    assert set(stats) >= {"readings_per_s", "latency_ms_p99", "rejected_total", "cpu_temperature_c"}


def test_thermal_guard_lowers_and_restores_the_rate(rig, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    temp = tmp_path / "temp"
    temp.write_text("80000")
    guard = ThermalGuard(temp, limit_c=70.0, hysteresis_c=5.0, throttled_rate_hz=1.0, read_interval_s=0)
    loop, t, clock = rig(max_rate_hz=50.0, thermal=guard)
    loop.step(0.01)
    assert loop.limiter.rate_hz == 1.0
    (thermal,) = _published(t, "edgewatch/pi-7/thermal")
    assert thermal["state"] == "throttled" and thermal["temperature_c"] == 80.0
    _feed(t, "p", [reading(T0 + i) for i in range(5)])
    clock.now += 1
    assert loop.step(0.01) == 1
    temp.write_text("60000")
    loop.step(0.01)
    assert loop.limiter.rate_hz == 50.0
    assert _published(t, "edgewatch/pi-7/thermal")[-1]["state"] == "normal"


def test_home_assistant_discovery_on_first_sight_ha_birth_and_reconnect(rig) -> None:  # type: ignore[no-untyped-def]
    loop, t, _ = rig(homeassistant=True)

    def configs() -> list[str]:
        return [m.topic for m in t.sent if m.topic.startswith("homeassistant/") and m.topic.endswith("/config")]

    _feed(t, "pump1", [reading(T0)])
    loop.step(0.01)
    first = configs()
    assert "homeassistant/binary_sensor/edgewatch_pump1/anomaly/config" in first
    assert all(m.retain and m.qos == 1 for m in t.sent if m.topic in first)
    t.deliver("homeassistant/status", b"online")
    loop.step(0.01)
    assert len(configs()) == 2 * len(first)
    t.set_online(False)
    t.set_online(True)
    loop.step(0.01)
    assert len(configs()) == 3 * len(first)
    assert loop.ignored_total == 0


def test_state_is_saved_and_restored(rig, make_pipeline, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    loop, t, _ = rig()
    _feed(t, "p", [reading(T0 + i, 5.0) for i in range(4)])
    loop.step(0.01)
    loop.save_state()
    saved = StateStore(tmp_path / "state").load()
    assert saved is not None and saved["devices"]["p"]["last_ts"] == T0 + 3
    fresh = make_pipeline()
    fresh.restore(saved)
    assert fresh.devices["p"].alert.alert_id is not None  # the alert is still active after a restart


def test_topics_outside_the_filter_are_ignored(rig) -> None:  # type: ignore[no-untyped-def]
    loop, t, _ = rig()
    t.deliver("other/p/sensors", reading(T0))
    t.deliver("plant", reading(T0))
    assert loop.step(0.01) == 0 and loop.ignored_total == 2


def test_device_cap_ignores_new_devices_beyond_it(rig) -> None:  # type: ignore[no-untyped-def]
    loop, t, _ = rig(max_devices=2)
    for device in ("a", "b", "c"):
        _feed(t, device, [reading(T0)])
    assert loop.step(0.01) == 2 and loop.devices == {"a", "b"} and loop.ignored_total == 1


def test_a_failing_batch_is_skipped_without_reopening_the_model(rig) -> None:  # type: ignore[no-untyped-def]
    """The reference deployment's worst bug: a restart path that reloaded the model every cycle. Here a batch
    whose scoring fails is logged and skipped; the same backend scores the next batches; nothing reopens it."""
    from edgewatch.errors import RuntimeBackendError
    from tests.fakes import SquaredScorer as FakeBackend

    loop, t, _ = rig()
    backend = loop.pipeline.scorer
    opened = FakeBackend.instances
    real_score = backend.score_batch
    failures = {"left": 2}

    def flaky(x):  # type: ignore[no-untyped-def]
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeBackendError("simulated runtime failure")
        return real_score(x)

    backend.score_batch = flaky
    for batch in range(2):
        _feed(t, "p", [reading(T0 + 10 * batch + i) for i in range(3)])
        assert loop.step(0.01) == 3  # consumed, not scored: the runtime failed
    assert loop.failures == 2 and loop.stats.scored_total == 0
    _feed(t, "p", [reading(T0 + 100 + i, 5.0) for i in range(4)])
    loop.step(0.01)
    assert loop.failures == 0 and loop.stats.scored_total == 4
    assert [a["state"] for a in _published(t, "edgewatch/p/alert")] == ["raised"]
    assert loop.pipeline.scorer is backend and FakeBackend.instances == opened


def test_a_topic_seen_again_is_routed_the_same_and_the_topic_cache_stays_bounded(rig) -> None:  # type: ignore[no-untyped-def]
    loop, t, _ = rig()
    loop._topic_cache_max = 3
    for i in range(3):
        t.deliver("other/p/sensors", reading(T0 + i))  # ignored every time, not only the first
        _feed(t, f"d{i}", [reading(T0 + i)])
    assert loop.step(0.01) == 3 and loop.ignored_total == 3
    assert loop.devices == {"d0", "d1", "d2"} and len(loop._topic_devices) <= 3


def _controls_loop(tmp_path: Path, make_pipeline, transport: MemoryTransport) -> AgentLoop:  # type: ignore[no-untyped-def]
    from edgewatch.agent.controls import Controls
    from edgewatch.agent.watch import SilenceMonitor
    from edgewatch.core.operator import ControlsConfig
    from edgewatch.core.silence import SilenceConfig

    transport.start()
    return AgentLoop(
        LoopSettings(agent_id="pi-7"),
        pipeline=make_pipeline(),
        transport=transport,
        outbox=Outbox(tmp_path / "outbox.db"),
        clock=Clock(),
        controls=Controls(ControlsConfig()),
        silence=SilenceMonitor(SilenceConfig()),  # as by default: a new device's state exists on admission
    )


def test_controls_states_of_new_devices_wait_while_the_transport_has_a_backlog(tmp_path, make_pipeline) -> None:  # type: ignore[no-untyped-def]
    """Three retained states per new device: 10,000 new devices must not queue 30,000 QoS 1 messages ahead of
    the alerts; they go out while the transport has fewer than STATE_BACKLOG unacknowledged."""
    from edgewatch.agent.loop import STATE_BACKLOG

    t = MemoryTransport()
    loop = _controls_loop(tmp_path, make_pipeline, t)
    try:
        t.queued = STATE_BACKLOG  # type: ignore[attr-defined]
        _feed(t, "pump1", [reading(T0)])
        assert loop.step(0.01) == 1
        topics = ["edgewatch/pump1/maintenance/state", "edgewatch/pump1/sensitivity/state"]
        topics.append("edgewatch/pump1/acknowledge/state")
        assert not [m for m in t.sent if m.topic.endswith("/state")]
        assert sorted(loop.deferred_states) == sorted(topics)
        t.queued = STATE_BACKLOG - 2  # type: ignore[attr-defined]
        loop.step(0.01)
        assert len([m for m in t.sent if m.topic.endswith("/state")]) == 2
        t.queued = 0  # type: ignore[attr-defined]
        loop.step(0.01)
        sent = [m for m in t.sent if m.topic.endswith("/state")]
        assert sorted(m.topic for m in sent) == sorted(topics) and not loop.deferred_states
        assert all(m.qos == 1 and m.retain for m in sent)
    finally:
        loop.outbox.close()


def test_a_command_supersedes_the_deferred_state_of_its_control(tmp_path, make_pipeline) -> None:  # type: ignore[no-untyped-def]
    """The retained state must end as the newest: a deferred OFF sent after the command's ON would undo it."""
    from edgewatch.agent.loop import STATE_BACKLOG

    t = MemoryTransport()
    loop = _controls_loop(tmp_path, make_pipeline, t)
    try:
        t.queued = STATE_BACKLOG  # type: ignore[attr-defined]
        _feed(t, "pump1", [reading(T0)])
        loop.step(0.01)
        t.deliver("edgewatch/pump1/maintenance/set", b"ON", arrival_time=T0 + 1)
        loop.step(0.01)
        t.queued = 0  # type: ignore[attr-defined]
        loop.step(0.01)
        maintenance = [m.payload for m in t.sent if m.topic == "edgewatch/pump1/maintenance/state"]
        assert maintenance == [b"ON"]
        assert not loop.deferred_states
    finally:
        loop.outbox.close()


class _FlushedTransport(MemoryTransport):
    """A memory transport recording, at each ``flush``, how many messages had been sent by then."""

    def __init__(self) -> None:
        super().__init__()
        self.flushes: list[int] = []

    def flush(self) -> None:
        self.flushes.append(len(self.sent))


def test_each_step_flushes_the_transport_after_the_batch_s_alerts_and_scores(rig) -> None:  # type: ignore[no-untyped-def]
    """The MQTT transport writes what the loop published only after its read pause unless flushed
    (transports/paho_buffered.py): the loop flushes once per step, after the outbox's alerts and the scores."""
    loop, t, _ = rig(_FlushedTransport(), score_stream=True, score_every_n=1)
    values = [0.1] * 5 + [5.0] * 4
    _feed(t, "pump1", [reading(T0 + i, v) for i, v in enumerate(values)])
    loop.step(0.01)
    assert len(t.flushes) == 1
    alert_and_scores = [m for m in t.sent if m.topic in ("edgewatch/pump1/alert", "edgewatch/pump1/score")]
    assert any(m.topic.endswith("/alert") for m in alert_and_scores)
    assert t.flushes[0] >= len(alert_and_scores)  # flushed after them
    loop.step(0.01)
    assert len(t.flushes) == 2
