"""The benchmarks' bare MQTT publisher (``edgewatch.bench.wire``): packet bytes, pacing, and a real broker."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import pytest

from edgewatch.bench.wire import connect, disconnect, publish_packet, write_paced
from edgewatch.rig.broker import MosquittoBroker
from edgewatch.rig.clients import Listener, parse_mqtt_url


def test_publish_packet_bytes() -> None:
    # fixed header 0x30 (PUBLISH, QoS 0), remaining length 7 = 2 (topic length) + 3 (topic) + 2 (payload)
    assert publish_packet("a/b", b"hi") == b"\x30\x07\x00\x03a/bhi"
    assert publish_packet(b"a/b", b"hi") == publish_packet("a/b", b"hi")
    assert publish_packet("t", b"") == b"\x30\x03\x00\x01t"


@pytest.mark.parametrize(
    ("remaining", "encoded"),
    [
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (321, b"\xc1\x02"),  # the MQTT 3.1.1 specification's example
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
    ],
)
def test_publish_packet_remaining_length(remaining: int, encoded: bytes) -> None:
    payload = b"x" * (remaining - 2 - 1)  # topic "t": 2 length bytes + 1
    packet = publish_packet("t", payload)
    assert packet[0] == 0x30
    assert packet[1 : 1 + len(encoded)] == encoded
    assert packet[1 + len(encoded) :] == b"\x00\x01t" + payload
    assert len(packet) == 1 + len(encoded) + remaining


def _drain(sock: socket.socket, into: bytearray) -> threading.Thread:
    def read() -> None:
        while chunk := sock.recv(65536):
            into.extend(chunk)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_write_paced_counts_what_reached_the_socket() -> None:
    ours, theirs = socket.socketpair()
    received = bytearray()
    reader = _drain(theirs, received)
    times: list[float] = []

    def packet(i: int, now: float) -> bytes:
        times.append(now)
        return publish_packet("t", str(i).encode())

    written = write_paced(ours, 1000.0, 100, packet, slot_s=0.01)
    ours.close()
    reader.join(5)
    theirs.close()
    assert written.messages == 100 and written.extras == 0
    assert written.bytes == len(received) == sum(len(publish_packet("t", str(i).encode())) for i in range(100))
    assert 0.09 <= written.seconds < 0.5 and written.rate <= 1000.0 * 1.001
    assert written.kept(tolerance=0.5)
    assert len(set(times)) == 10  # ten slots of ten messages, each slot one ``now``


def test_write_paced_reports_a_writer_that_fell_behind() -> None:
    ours, theirs = socket.socketpair()
    reader = _drain(theirs, bytearray())

    def slow(_i: int, _now: float) -> bytes:
        time.sleep(0.004)
        return publish_packet("t", b"x")

    written = write_paced(ours, 1000.0, 50, slow, slot_s=0.001)  # 4 ms a message: at most 250/s
    ours.close()
    reader.join(5)
    theirs.close()
    assert written.messages == 50
    assert written.rate < 400 and not written.kept()
    assert written.max_late_s > 0.05


def test_write_paced_extras_count_but_not_towards_the_rate() -> None:
    ours, theirs = socket.socketpair()
    reader = _drain(theirs, bytearray())
    written = write_paced(
        ours, 1000.0, 20, lambda i, _n: publish_packet("t", b"x"), slot_s=0.01, extra=lambda _s, _n: [b"\xc0\x00"]
    )
    ours.close()
    reader.join(5)
    theirs.close()
    assert written.messages == 22 and written.extras == 2
    assert written.kept(tolerance=0.5)


@pytest.mark.mqtt
def test_written_packets_reach_a_real_mosquitto(broker: MosquittoBroker, listen: Callable[..., Listener]) -> None:
    listener = listen("wire/#")
    address = parse_mqtt_url(broker.url)
    sock = connect(address.host, address.port, client_id="test-wire")
    big = b"y" * 20_000  # a 3-byte remaining length
    try:
        written = write_paced(
            sock,
            2000.0,
            200,
            lambda i, _now: publish_packet(f"wire/{i % 4}", b'{"i":%d}' % i),
            slot_s=0.005,
            extra=lambda slot, _now: [publish_packet("wire/big", big)] if slot == 0 else [],
        )
    finally:
        disconnect(sock)
    assert written.messages == 201
    messages = listener.wait_for(lambda m: len(m) >= 201, timeout=10)
    assert len(messages) == 201
    assert sorted(m.payload for m in messages if m.topic != "wire/big") == sorted(b'{"i":%d}' % i for i in range(200))
    assert [m.payload for m in messages if m.topic == "wire/big"] == [big]
    assert [m.payload for m in messages if m.topic == "wire/3"][:3] == [b'{"i":3}', b'{"i":7}', b'{"i":11}']
