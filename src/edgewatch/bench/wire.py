"""A bare MQTT 3.1.1 publisher for the benchmarks: QoS 0 PUBLISH packets written straight to a TCP socket.

Why not paho: ``paho.Client.publish`` with ``loop_start`` only queues a packet; paho's network thread writes
it. Paced from a loop in the same process, that thread gets the GIL only when the loop lets go of it: the
agent benchmark's sustained ladder paced paho by busy-waiting, so its messages piled up inside paho (the
benchmark process at 100% CPU, its RSS growing) and reached the broker in bursts that overflowed the agent's
inbox -- the ladder measured its publisher, not the agent. And paho's publish path cannot keep 20,000
messages/s here anyway (the ``devices`` benchmark).

Here the calling thread writes: :func:`write_paced` builds the packets due in each time slot, hands them to
one ``sendall`` and sleeps until the next slot. What it counts is what ``sendall`` accepted (bytes in the
kernel's socket buffer, on their way to the broker), so :attr:`Written.rate` is the rate achieved on the
wire, and a writer that cannot keep up says so (:meth:`Written.kept`) instead of queueing.

Only what the benchmarks need: CONNECT without credentials or TLS, QoS 0 PUBLISH, DISCONNECT. The socket is
never read after the CONNACK (a QoS 0 publisher with no subscriptions gets nothing back).
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

DISCONNECT = b"\xe0\x00"


def publish_packet(topic: str | bytes, payload: bytes) -> bytes:
    """One MQTT 3.1.1 PUBLISH packet, QoS 0, no DUP, no RETAIN: ``0x30``, the remaining length (1-4 byte
    varint, 7 bits a byte, least significant first), the topic (2-byte big-endian length + UTF-8), the payload.
    No packet identifier (QoS 0 has none)."""
    name = topic.encode() if isinstance(topic, str) else topic
    body = struct.pack("!H", len(name)) + name + payload
    length = len(body)
    if length > 268_435_455:
        raise ValueError(f"an MQTT packet holds at most 268,435,455 bytes, not {length}")
    header = bytearray([0x30])
    while True:
        byte, length = length & 0x7F, length >> 7
        header.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(header) + body


def connect(
    host: str, port: int, *, client_id: str | None = None, keepalive_s: int = 0, timeout_s: float = 10.0
) -> socket.socket:
    """Open a TCP connection (``TCP_NODELAY``: each slot's write leaves at once) and connect as an MQTT 3.1.1
    client with a clean session; return the blocking socket once the broker has accepted (CONNACK return code
    0). ``keepalive_s`` 0 (the default) turns the broker's keep-alive check off, as this client never sends
    PINGREQ. Raises :class:`RuntimeError` if the broker refuses or does not answer with a CONNACK."""
    name = (client_id or f"bench-wire-{os.getpid()}").encode()
    sock = socket.create_connection((host, port), timeout=timeout_s)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        variable = b"\x00\x04MQTT\x04\x02" + struct.pack("!H", keepalive_s)  # protocol level 4, clean session
        body = variable + struct.pack("!H", len(name)) + name
        sock.sendall(bytes([0x10, len(body)]) + body)  # the body stays below 128 bytes for client ids < 100
        connack = b""
        while len(connack) < 4:
            chunk = sock.recv(4 - len(connack))
            if not chunk:
                break
            connack += chunk
        if len(connack) != 4 or connack[0] != 0x20 or connack[3] != 0:
            raise RuntimeError(f"the broker refused the benchmark's publisher: {connack!r}")
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return sock


def disconnect(sock: socket.socket) -> None:
    """Send DISCONNECT (the broker then drops the session without a will) and close the socket."""
    try:
        sock.sendall(DISCONNECT)
    except OSError:
        pass
    finally:
        sock.close()


@dataclass(frozen=True)
class Written:
    """What :func:`write_paced` handed to ``sendall``. ``seconds`` runs from the first slot's start to the end
    of the last slot, or to the return of the last ``sendall`` if that was later, so a writer that kept up
    reports the asked rate and one that fell behind less. ``messages`` includes the ``extras`` (the packets of
    ``extra``). ``max_late_s``: the latest any slot's write began after its due time."""

    asked_rate: float
    messages: int
    bytes: int
    seconds: float
    max_late_s: float
    extras: int = 0

    @property
    def rate(self) -> float:
        """Messages per second achieved on the wire."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def kept(self, tolerance: float = 0.01) -> bool:
        """Whether the writer held the asked rate (the extras not counted), within ``tolerance`` (a fraction)."""
        paced = (self.messages - self.extras) / self.seconds if self.seconds > 0 else 0.0
        return paced >= self.asked_rate * (1.0 - tolerance)


def write_paced(
    sock: socket.socket,
    rate_hz: float,
    count: int,
    packet: Callable[[int, float], bytes],
    *,
    slot_s: float = 0.01,
    extra: Callable[[int, float], list[bytes]] | None = None,
) -> Written:
    """Write ``count`` messages at ``rate_hz`` in slots of ``slot_s`` seconds; return what was written.

    Slot ``k`` is due ``k * slot_s`` after the start; the thread sleeps until then (never spins), takes
    ``now = time.time()``, builds ``packet(i, now)`` for every message ``i`` due by the end of the slot
    (``floor((k + 1) * rate_hz * slot_s)`` in all, at most ``count``) plus ``extra(k, now)`` if given, and
    writes them with one ``sendall``. ``now`` is taken just before the packets are built and written: use it
    as the time a message was sent (a reading's ``ts``, the start of a latency). With ``slot_s = 1 / rate_hz``
    each message has its own slot and its own ``now``.

    A writer that falls behind (``sendall`` blocking because the broker does not read, or this process not
    getting the CPU) writes the overdue slots one after another without sleeping, each with its own messages
    and its own ``now``, and :class:`Written` shows the lower rate and how late it got. Extra packets count
    as messages too. Blocks the calling thread for about ``count / rate_hz`` seconds.
    """
    if rate_hz <= 0 or slot_s <= 0:
        raise ValueError("rate_hz and slot_s must be positive")
    per_slot = rate_hz * slot_s
    start = time.perf_counter()
    written = messages = size = extras = 0
    late = 0.0
    slot = 0
    while written < count:
        due = start + slot * slot_s
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        late = max(late, time.perf_counter() - due)
        now = time.time()
        upto = min(count, int((slot + 1) * per_slot + 1e-9))
        chunk = [packet(i, now) for i in range(written, upto)]
        if extra is not None:
            more = extra(slot, now)
            chunk.extend(more)
            extras += len(more)
        if chunk:
            data = b"".join(chunk)
            sock.sendall(data)
            size += len(data)
            messages += len(chunk)
        written = upto
        slot += 1
    elapsed = max(time.perf_counter(), start + slot * slot_s) - start
    return Written(
        asked_rate=rate_hz, messages=messages, bytes=size, seconds=elapsed, max_late_s=late, extras=extras
    )
