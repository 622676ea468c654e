"""MqttTransport against a real Mosquitto: round trip, PUBACK, reconnect on the same port, refusal."""

from __future__ import annotations

import queue
import time

import pytest

from edgewatch.rig.broker import MosquittoBroker
from edgewatch.transports.base import RC_NO_CONN, RC_SUCCESS, OutMessage
from edgewatch.transports.mqtt import MqttTransport
from tests.mqtt_broker import require_mosquitto

pytestmark = pytest.mark.mqtt


def _transport(broker, **kwargs) -> MqttTransport:  # type: ignore[no-untyped-def]
    kwargs.setdefault("reconnect_min_s", 1)
    kwargs.setdefault("reconnect_max_s", 1)
    return MqttTransport(broker.host, broker.port, **kwargs)


def _wait_acks(transport: MqttTransport, mids: set[int], timeout: float = 5.0) -> list:  # type: ignore[type-arg]
    acks = []
    deadline = time.monotonic() + timeout
    while {a.mid for a in acks} < mids and time.monotonic() < deadline:
        acks.extend(transport.take_acks())
        time.sleep(0.01)
    return acks


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_publish_subscribe_round_trip_and_qos1_ack(broker, protocol: str) -> None:
    t = _transport(broker, client_id=f"rt-{protocol}", protocol=protocol)
    t.subscribe("plant/+/sensors", 1)
    t.start()
    try:
        assert t.wait_connected(5), broker.log()
        assert t.generation == 1
        time.sleep(0.2)  # let the SUBACK arrive before publishing to ourselves
        before = time.time()
        handle = t.publish("plant/p1/sensors", b'{"a": 1}', qos=1)
        assert handle.rc == RC_SUCCESS and handle.accepted
        message = t.inbox.get(timeout=5)
        assert message.topic == "plant/p1/sensors"
        assert message.payload == b'{"a": 1}'
        assert before <= message.arrival_time <= time.time()
        acks = _wait_acks(t, {handle.mid})
        assert next(a for a in acks if a.mid == handle.mid).ok
        assert handle.wait(1.0)
    finally:
        t.stop()
    assert not t.connected


def test_birth_and_last_will_on_status_topic(broker, listen) -> None:
    status = listen("edgewatch/a1/status")
    t = _transport(
        broker,
        client_id="will-test",
        keepalive=5,
        will=OutMessage("edgewatch/a1/status", b"offline"),
        birth=OutMessage("edgewatch/a1/status", b"online"),
    )
    t.start()
    assert t.wait_connected(5)
    status.wait_for(lambda ms: ("edgewatch/a1/status", b"online", False) in ms)
    # Kill the network thread's socket without a DISCONNECT: the broker must publish the will.
    t._client.socket().close()  # type: ignore[union-attr]
    status.wait_for(lambda ms: any(p == b"offline" for _, p, _ in ms))
    t.stop()


def test_clean_stop_does_not_fire_the_will(broker, listen) -> None:
    status = listen("edgewatch/a2/status")
    t = _transport(
        broker,
        will=OutMessage("edgewatch/a2/status", b"offline"),
        birth=OutMessage("edgewatch/a2/status", b"online"),
    )
    t.start()
    assert t.wait_connected(5)
    status.wait_for(lambda ms: len(ms) >= 1)
    t.stop()
    time.sleep(0.3)
    assert status.payloads("edgewatch/a2/status") == [b"online"]


def test_reconnects_after_broker_restart_on_same_port_and_resubscribes(broker) -> None:
    t = _transport(broker, client_id="reconnect")
    t.subscribe("plant/+/sensors", 0)
    t.start()
    try:
        assert t.wait_connected(5)
        port = broker.port
        broker.stop()
        deadline = time.monotonic() + 5
        while t.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not t.connected
        assert t.publish("plant/x/sensors", b"lost", qos=0).rc == RC_NO_CONN
        queued = t.publish("plant/x/sensors", b"kept", qos=1)  # paho keeps QoS 1 for the reconnect
        assert queued.rc == RC_NO_CONN and queued.accepted
        broker.start()
        assert broker.port == port
        assert t.wait_connected(10), broker.log()
        assert t.generation == 2
        # the QoS 1 message queued while down arrives (we are subscribed again) and is acknowledged
        message = t.inbox.get(timeout=5)
        assert message.payload == b"kept"
        assert queued.wait(5)
        with pytest.raises(queue.Empty):
            t.inbox.get(timeout=0.2)
    finally:
        t.stop()


def test_refused_connection_is_not_marked_connected(caplog) -> None:
    with MosquittoBroker(binary=require_mosquitto(), allow_anonymous=False) as strict:
        t = _transport(strict, client_id="refused", protocol="5")
        t.start()
        try:
            assert not t.wait_connected(1.5)
            assert t.generation == 0
            assert "refused the connection" in caplog.text
        finally:
            t.stop()


def test_inbox_overflow_drops_and_counts_qos0(broker) -> None:
    t = _transport(broker, client_id="overflow", inbox_max=2)
    t.subscribe("plant/+/sensors", 0)
    t.start()
    try:
        assert t.wait_connected(5)
        time.sleep(0.2)
        handles = [t.publish("plant/d/sensors", str(i).encode(), qos=0) for i in range(5)]
        assert all(h.wait(5) for h in handles)
        deadline = time.monotonic() + 5
        while t.inbox_dropped < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert t.inbox.qsize() == 2
        assert t.inbox_dropped == 3
    finally:
        t.stop()


# ---------------------------------------------------------------- issue 13, defect 6: deaf windows
def _configured(url: str, **mqtt):  # type: ignore[no-untyped-def]
    from edgewatch.agent.config import config_from_dict
    from edgewatch.agent.service import build_transport

    raw = {"bundle": {"path": "/b"}, "mqtt": {"url": url, **mqtt}, "health": {"agent_id": "deaf"}}
    return build_transport(config_from_dict(raw, env={}, check_paths=False))


def _wait(predicate, timeout: float) -> float | None:  # type: ignore[no-untyped-def]
    """Seconds until ``predicate()`` held, or None when it did not within ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def test_the_reconnect_cap_is_configurable(broker) -> None:
    """The back-off used to be capped at a hard-coded 30 s: after a 60 s outage the agent stayed offline
    for 28 s with the broker up. ``mqtt.reconnect_max_s`` caps it (default 5 s)."""
    t = _configured(broker.url, reconnect_max_s=2)
    t.start()
    try:
        assert t.wait_connected(5)
        broker.stop()
        assert _wait(lambda: not t.connected, 5) is not None
        time.sleep(8)  # back-off 1, 2, 2, 2 s...: without the cap the next try would be 8 s away
        broker.start()
        back = _wait(lambda: t.connected, 10)
        assert back is not None and back <= 3.5, f"reconnected {back} s after the broker came back"
    finally:
        t.stop()


@pytest.mark.slow
def test_a_black_holed_link_is_noticed_within_30_s_by_default(broker, caplog) -> None:
    """The default ``keepalive = 60`` let a 90 s network black-hole go unnoticed for its whole length; the
    default is now 15 s (a dead link is noticed within 2 x keepalive). After the link heals the transport
    reconnects and messages flow again."""
    from edgewatch.rig.proxy import BlackHoleProxy

    with BlackHoleProxy(broker.host, broker.port) as proxy:
        t = _configured(proxy.url)
        t.subscribe("plant/+/sensors", 1)
        t.start()
        try:
            assert t.wait_connected(5)
            proxy.blackhole()
            noticed = _wait(lambda: not t.connected, 35)
            assert noticed is not None, "a black-holed link went unnoticed for 35 s"
            assert "lost the connection" in caplog.text
            proxy.heal()
            assert _wait(lambda: t.connected, 15) is not None
            time.sleep(0.3)
            t.publish("plant/x/sensors", b"after the black hole", qos=1)
            assert t.inbox.get(timeout=5).payload == b"after the black hole"
        finally:
            t.stop()


def test_a_black_hole_is_noticed_within_two_keepalives_and_healed(broker) -> None:
    from edgewatch.rig.proxy import BlackHoleProxy

    with BlackHoleProxy(broker.host, broker.port) as proxy:
        t = _configured(proxy.url, keepalive=5, reconnect_max_s=1)
        t.start()
        try:
            assert t.wait_connected(5)
            proxy.blackhole()
            noticed = _wait(lambda: not t.connected, 12)
            assert noticed is not None and noticed <= 11
            proxy.heal()
            assert _wait(lambda: t.connected, 10) is not None
        finally:
            t.stop()


def test_mqtt_5_is_the_default_protocol() -> None:
    """Defect 5: on MQTT 3.1.1 (the old default) Mosquitto acknowledges a publish its ACL refused as
    delivered, so the outbox deleted the alert silently; MQTT 5 carries the refusal in the PUBACK."""
    t = _configured("mqtt://127.0.0.1:1")
    assert t.protocol == "5" and t.keepalive == 15


def test_a_full_inbox_holds_qos1_readings_back_instead_of_dropping_them(broker) -> None:
    """Issue 13, defect 6: a QoS 1 reading that arrived while the inbox was full used to be dropped -- and
    acknowledged, so the broker forgot it: a persistent session still lost readings under load. Now the
    network thread waits for room before the PUBACK, and the broker holds the rest."""
    from edgewatch.rig.clients import Publisher

    t = _transport(broker, client_id="backpressure", inbox_max=2)
    t.subscribe("plant/+/sensors", 1)
    t.start()
    try:
        assert t.wait_connected(5)
        time.sleep(0.2)
        pub = Publisher(broker.url)
        for i in range(6):
            pub.publish("plant/d/sensors", str(i).encode(), qos=1)
        pub.close()
        got = []
        deadline = time.monotonic() + 10
        while len(got) < 6 and time.monotonic() < deadline:
            try:
                got.append(t.inbox.get(timeout=0.2).payload)
            except queue.Empty:
                continue
            time.sleep(0.1)  # a slow consumer
        assert got == [str(i).encode() for i in range(6)] and t.inbox_dropped == 0
    finally:
        t.stop()
