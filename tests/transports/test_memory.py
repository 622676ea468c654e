"""The in-memory transport behaves like the MQTT one where the agent's logic depends on it."""

from __future__ import annotations

from edgewatch.transports.base import RC_NO_CONN, RC_SUCCESS
from edgewatch.transports.topics import device_from_topic, topic_matches
from tests.transports.memory import MemoryBroker, MemoryTransport


def test_topic_matching_and_device_level() -> None:
    assert topic_matches("plant/+/sensors", "plant/p1/sensors")
    assert not topic_matches("plant/+/sensors", "plant/p1/other")
    assert topic_matches("site/#", "site/a/b/c") and topic_matches("#", "x")
    assert not topic_matches("#", "$SYS/broker/uptime")
    assert device_from_topic("plant/p1/sensors", 1) == "p1"
    assert device_from_topic("plant", 1) is None


def test_qos_semantics_while_offline_and_dup_resend() -> None:
    t = MemoryTransport(auto_ack=False)
    t.start()
    assert t.connected and t.generation == 1
    sent = t.publish("a/b", b"1", qos=1)
    t.set_online(False)
    assert t.publish("a/b", b"lost", qos=0).rc == RC_NO_CONN
    queued = t.publish("a/b", b"2", qos=1)
    assert queued.rc == RC_NO_CONN and queued.accepted
    t.set_online(True)
    assert t.generation == 2
    assert [(m.payload, m.dup) for m in t.sent] == [(b"1", False), (b"1", True), (b"2", False)]
    t.ack_all()
    assert {a.mid for a in t.take_acks()} == {sent.mid, queued.mid}
    assert sent.wait(0) and t.take_acks() == []


def test_broker_routes_retains_and_fires_the_will() -> None:
    broker = MemoryBroker()
    agent = MemoryTransport(
        broker,
        will=("edgewatch/a/status", b"offline", 1, True),
        birth=("edgewatch/a/status", b"online", 1, True),
    )
    watcher = MemoryTransport(broker)
    watcher.subscribe("edgewatch/#")
    watcher.start()
    agent.start()
    assert broker.retained["edgewatch/a/status"].payload == b"online"
    agent.set_online(False)
    assert broker.retained["edgewatch/a/status"].payload == b"offline"
    payloads = []
    while not watcher.inbox.empty():
        payloads.append(watcher.inbox.get_nowait().payload)
    assert payloads == [b"online", b"offline"]
    late = MemoryTransport(broker)
    late.start()
    late.subscribe("edgewatch/+/status")
    assert late.inbox.get_nowait().payload == b"offline"  # retained
    assert agent.publish("x", b"y").rc == RC_NO_CONN and watcher.publish("x", b"y").rc == RC_SUCCESS


def test_missing_mosquitto_skips_locally_and_fails_under_ci(monkeypatch) -> None:
    import pytest

    from tests import mqtt_broker

    monkeypatch.setattr(mqtt_broker, "find_mosquitto", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        mqtt_broker.require_mosquitto()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must install it"):
        mqtt_broker.require_mosquitto()
