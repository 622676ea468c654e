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


def test_inbox_overflow_drops_and_counts(broker) -> None:
    t = _transport(broker, client_id="overflow", inbox_max=2)
    t.subscribe("plant/+/sensors", 1)
    t.start()
    try:
        assert t.wait_connected(5)
        time.sleep(0.2)
        handles = [t.publish("plant/d/sensors", str(i).encode(), qos=1) for i in range(5)]
        assert all(h.wait(5) for h in handles)
        deadline = time.monotonic() + 5
        while t.inbox_dropped < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert t.inbox.qsize() == 2
        assert t.inbox_dropped == 3
    finally:
        t.stop()
