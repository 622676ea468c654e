"""The buffered paho client (``transports/paho_buffered.py``): the QoS 0 short path on crafted byte streams, and
every message through a real Mosquitto -- QoS 0, QoS 1, retained, MQTT 5 with properties -- arriving once and
in order (per QoS), with and without the read pause."""

from __future__ import annotations

import struct
import threading
import time
from types import SimpleNamespace

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edgewatch.rig.clients import Publisher
from edgewatch.transports import paho_buffered
from edgewatch.transports.mqtt import MqttTransport
from edgewatch.transports.paho_buffered import BufferedSocket


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish(topic: bytes, payload: bytes, *, flags: int = 0, properties: bytes | None = None) -> bytes:
    body = struct.pack("!H", len(topic)) + topic
    if flags & 0x06:
        body += struct.pack("!H", 7)  # packet id of a QoS 1/2 message
    if properties is not None:
        body += _varint(len(properties)) + properties
    body += payload
    return bytes([0x30 | flags]) + _varint(len(body)) + body


class _Stream:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def recv(self, size: int) -> bytes:
        chunk, self.data = self.data[:size], self.data[size:]
        if not chunk:
            raise BlockingIOError
        return chunk


def _taken(data: bytes, mqtt5: bool = False) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """What the short path hands over from ``data``, and the bytes it leaves for paho."""
    sock = BufferedSocket(_Stream(data))
    sock.recv(0)  # fill the buffer
    got: list[tuple[bytes, bytes]] = []
    sock.take_qos0_publishes(mqtt5, got)
    rest = b""
    try:
        while True:
            rest += sock.recv(1 << 20)
    except BlockingIOError:
        pass
    return got, rest


def test_installed_paho_has_what_the_buffered_client_needs() -> None:
    assert paho_buffered.supported()


def test_short_path_takes_complete_qos0_publishes_and_stops_at_anything_else() -> None:
    big = b"x" * 300  # a two-byte remaining length
    puback = b"\x40\x02\x00\x07"
    stream = _publish(b"a/1", b"one") + _publish(b"a/2", big, flags=0x01) + puback + _publish(b"a/3", b"three")
    got, rest = _taken(stream)
    assert got == [(b"a/1", b"one"), (b"a/2", big)]  # retained QoS 0 is taken too
    assert rest == puback + _publish(b"a/3", b"three")


@pytest.mark.parametrize(
    "packet",
    [
        _publish(b"a/1", b"qos1", flags=0x02),
        _publish(b"a/1", b"qos2", flags=0x04),
        _publish(b"", b"empty topic (an alias)"),
        _publish(b"a/1", b"complete")[:-3],  # not complete yet
    ],
    ids=["qos1", "qos2", "empty-topic", "incomplete"],
)
def test_short_path_leaves_other_packets_to_paho(packet: bytes) -> None:
    assert _taken(packet) == ([], packet)


def test_short_path_in_mqtt5_takes_only_publishes_without_properties() -> None:
    plain = _publish(b"a/1", b"one", properties=b"")
    with_alias = _publish(b"a/2", b"two", properties=b"\x23\x00\x01")  # topic alias 1
    got, rest = _taken(plain + with_alias, mqtt5=True)
    assert got == [(b"a/1", b"one")]
    assert rest == with_alias


@pytest.mark.mqtt
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
@pytest.mark.parametrize("pause", [0.0, 0.005])
def test_every_message_arrives_once_in_order_through_mosquitto(broker, protocol: str, pause: float) -> None:
    transport = MqttTransport(broker.host, broker.port, client_id="buffered", protocol=protocol, read_pause_s=pause)
    assert isinstance(transport._client, paho_buffered.BufferedClient)
    transport.subscribe("plant/+/sensors", 1)
    transport.start()
    sent: list[tuple[str, bytes]] = []
    try:
        assert transport.wait_connected(5)
        time.sleep(0.2)
        publisher = Publisher(broker.url, max_queued=0)
        client = publisher.client
        if protocol == "5":  # a second client speaking MQTT 5, publishing with properties
            client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
            client.connect(broker.host, broker.port)
            client.loop_start()
            time.sleep(0.2)
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = ("k", "v")
        for i in range(3000):
            topic, payload = f"plant/d{i % 7}/sensors", b'{"i": %d}' % i + b" " * (i % 500)
            qos = 1 if i % 97 == 0 else 0
            extra = {"properties": props} if protocol == "5" and i % 50 == 0 else {}
            client.publish(topic, payload, qos=qos, retain=i % 301 == 0, **extra)
            sent.append((topic, payload))
        received = []
        deadline = time.monotonic() + 20
        while len(received) < len(sent) and time.monotonic() < deadline:
            received += transport.inbox.take(1000, 0.2)
        publisher.close()
        if client is not publisher.client:
            client.loop_stop()
            client.disconnect()
    finally:
        transport.stop()
    got = [(m.topic, m.payload) for m in received]
    assert sorted(got) == sorted(sent)  # each once
    # in order within each QoS: MQTT orders messages of one QoS only (the publisher holds back QoS 1
    # messages beyond its in-flight window while QoS 0 ones go on)
    for qos in (0, 1):
        mine = {m for i, m in enumerate(sent) if (i % 97 == 0) == (qos == 1)}
        assert [m for m in got if m in mine] == [m for m in sent if m in mine]
    assert transport.inbox_dropped == 0


@pytest.mark.mqtt
def test_qos0_readings_keep_the_short_path_while_qos1_messages_wait_for_paho_s_window(broker) -> None:
    """paho's own loop_read reads one packet per message in flight or queued, all on its slow path; with thousands
    of QoS 1 messages waiting (10,000 new devices' retained states) every reading took it. The buffered client
    reads one packet through paho at a time: the readings stay on the short path."""
    transport = MqttTransport(broker.host, broker.port, client_id="backlog", protocol="5")
    transport.subscribe("plant/+/sensors", 0)
    slow = []
    on_message = transport._on_message
    transport._client.on_message = lambda *a: (slow.append(1), on_message(*a))  # type: ignore[func-returns-value]
    transport._client.max_inflight_messages_set(1)  # a long backlog of QoS 1 messages
    transport.start()
    received = []
    try:
        assert transport.wait_connected(5)
        time.sleep(0.2)
        for i in range(3000):
            transport.publish(f"edgewatch/d{i}/maintenance/state", b"OFF", 1, False)
        assert transport.queued > 1000
        publisher = Publisher(broker.url, max_queued=0)
        for i in range(2000):
            publisher.client.publish(f"plant/d{i % 7}/sensors", b'{"i": %d}' % i, qos=0)
        deadline = time.monotonic() + 20
        while len(received) < 2000 and time.monotonic() < deadline:
            received += transport.inbox.take(1000, 0.2)
        publisher.close()
    finally:
        transport.stop()
    assert len(received) == 2000
    assert len(slow) < 200, f"{len(slow)} of 2000 readings took paho's slow path"


class _Recorder:
    def __init__(self) -> None:
        self.writes = 0
        self.written = threading.Event()
        self.queued = False


def _paused_client(recorder: _Recorder) -> paho_buffered.BufferedClient:
    client = paho_buffered.BufferedClient(paho.CallbackAPIVersion.VERSION2, read_pause_s=2.0)

    def loop_write() -> paho.MQTTErrorCode:
        recorder.writes += 1
        recorder.queued = False
        recorder.written.set()
        return paho.MQTTErrorCode.MQTT_ERR_SUCCESS

    client.want_write = lambda: recorder.queued  # type: ignore[method-assign]
    client.loop_write = loop_write  # type: ignore[method-assign]
    client._sock = SimpleNamespace(close=lambda: None)  # "connected"
    return client


def test_wake_writer_writes_queued_packets_during_the_read_pause() -> None:
    """A plain sleep held what the agent published until the pause had ended (and paho had read again): the
    pause now writes as soon as it is woken, and goes on pausing. The check is on the mechanism: the write
    happened while the pause (2 s) was still running."""
    recorder = _Recorder()
    client = _paused_client(recorder)
    outcome: list[paho.MQTTErrorCode] = []
    pause = threading.Thread(target=lambda: outcome.append(client._pause(2.0)))
    pause.start()
    try:
        time.sleep(0.05)  # (not needed for correctness: a wake-up before the pause starts is kept by the event)
        recorder.queued = True
        client.wake_writer()
        assert recorder.written.wait(1.9)
        assert pause.is_alive()  # written within the pause, not after it
        assert recorder.writes == 1 and client.pause_writes == 1
    finally:
        pause.join()
    assert outcome == [paho.MQTTErrorCode.MQTT_ERR_SUCCESS]
    assert recorder.writes == 1  # the rest of the pause: nothing more to write


def test_wake_writer_with_nothing_queued_does_not_wake_the_pause() -> None:
    recorder = _Recorder()
    client = _paused_client(recorder)
    client.wake_writer()  # nothing queued: no wake-up (a step that published nothing costs the pause nothing)
    assert not client._write_due.is_set()
    recorder.queued = True
    client.wake_writer()
    assert client._write_due.is_set()
    assert client._pause(0.01) == paho.MQTTErrorCode.MQTT_ERR_SUCCESS  # set before the pause: written in it
    assert recorder.writes == 1


@pytest.mark.mqtt
def test_a_flushed_publish_leaves_during_the_read_pause_through_mosquitto(broker, listen) -> None:  # type: ignore[no-untyped-def]
    """With a long read pause (1 s), a message published and flushed while the network thread pauses reaches a
    subscriber within that pause; unflushed it waited for the pause to end and for paho's next turn."""
    listener = listen("edgewatch/#")
    transport = MqttTransport(broker.host, broker.port, client_id="flushing", protocol="5", read_pause_s=1.0)
    transport.subscribe("plant/+/sensors", 0)
    transport.start()
    client = transport._client
    assert isinstance(client, paho_buffered.BufferedClient)
    try:
        assert transport.wait_connected(5)
        time.sleep(1.2)  # past the pauses of connecting
        publisher = Publisher(broker.url, max_queued=0)
        publisher.client.publish("plant/d1/sensors", b"{}", qos=0)
        assert transport.inbox.take(1, 5.0)  # handed over: the network thread now pauses 1 s
        started = time.monotonic()
        transport.publish("edgewatch/d1/score", b"x", 0, False)
        transport.flush()
        listener.wait_for(lambda ms: any(m.topic == "edgewatch/d1/score" for m in ms), timeout=5)
        elapsed = time.monotonic() - started
        publisher.close()
    finally:
        transport.stop()
    assert client.pause_writes >= 1
    assert elapsed < 0.9, f"{elapsed:.3f} s: written after the pause"  # sanity bound; typically ~1 ms
