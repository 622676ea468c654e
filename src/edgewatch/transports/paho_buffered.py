"""paho-mqtt's client with buffered socket reads and a short path for QoS 0 PUBLISH packets.

paho reads every incoming packet with at least three ``recv`` system calls (the command byte, each byte of
the remaining length, then the rest), one ``select`` and several Python objects and calls per packet (packet
dict, ``decode_publish``, ``MQTTMessage``, callback dispatch); for the agent's small QoS 0 readings that was
the larger half of the agent's CPU (docs/benchmarks.md). :class:`BufferedClient` changes two things:

* the connected socket is wrapped in :class:`BufferedSocket`, which reads up to 64 KiB at a time and hands
  paho the bytes it asks for from that buffer;
* after paho has read a packet, every further *complete QoS 0 PUBLISH* already in the buffer is cut out
  directly (topic and payload slices) and handed over together, one list of ``(topic, payload)`` per cut, to
  ``on_qos0_publish(messages)`` (one call and one arrival time per buffer, not per message); the
  first packet that is anything else (CONNACK, SUBACK, PUBACK, PINGRESP, a QoS 1/2 PUBLISH, an MQTT 5
  PUBLISH with properties or a topic alias, a packet not yet complete) stops the short path and goes through
  paho as before. Connecting, TLS, keepalive (the short path refreshes paho's "bytes received" time as paho
  does), QoS flows and reconnects stay paho's own code.

``read_pause_s`` (default 0): after each read the network thread pauses that long, so that readings arriving
meanwhile are read, cut out and handed over together -- fewer wake-ups and larger batches for the agent's
loop, at the price of up to that much latency for a reading. Outgoing packets need not wait for the pause:
:meth:`BufferedClient.wake_writer` (``MqttTransport.flush``, called by the agent's loop once per batch) has
the pause write what was published so far at once (see :meth:`BufferedClient._pause`). Measured in the agent
benchmark's latency phase (1,000 readings/s, 2 ms pause, a score message for every reading, one faulty reading
in 50), the agent's publish call -> its socket write: alerts 1.45 -> 0.20 ms median, scores 1.86 -> 0.13 ms;
reading written -> alert received 4.15 -> 3.13 ms median, -> score received 3.72 -> 2.24 ms (three alternating
runs each, the listener acknowledging at once: bench/agent.py). The rest of the agent's part is mostly the
reading waiting in the socket during a pause (about 1.3 ms median) -- the price of the batching, kept.

paho's own ``loop_read`` reads ``len(_out_messages) + len(_in_messages)`` packets per call whatever it is asked
for, every one on its slow path: with thousands of QoS 1 messages queued for sending (the operator controls'
retained states of 10,000 new devices, waiting for paho's in-flight window of 20) every reading took the slow
path until that queue drained -- 28 µs instead of 7.5 µs of the network thread per reading at 20,000 readings/s
(benchmarks/README.md, devices). :class:`BufferedClient` therefore reads exactly one packet through paho
(``_packet_read``, as one turn of paho's own loop) before going back to the short path.

It relies on paho 2.x internals that are not public API (``_create_socket``, whose result paho keeps as its
socket; ``_sock_recv`` calling ``recv`` on it; ``_packet_read`` and ``_loop_rc_handle``, one turn of paho's
``loop_read``; ``_in_packet["command"]`` being 0 between packets;
``_last_bytes_received`` under ``_msgtime_mutex``; ``_protocol``; ``want_write`` and ``loop_write`` called from
the network thread during the pause, as paho's own loop turn calls them); :func:`supported` checks them and the
transport falls back to the plain client without them, and ``tests/transports/test_paho_buffered.py`` checks
the behaviour against the installed paho through a real Mosquitto. paho's loop skips its ``select`` wait while
the socket reports ``pending()`` bytes (its handling of TLS sockets); :class:`BufferedSocket` reports its
buffered bytes there, so a buffered packet never waits for new network data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from edgewatch.transports.deferred import paho  # paho.mqtt.client, without ssl until TLS is used

READ_SIZE = 65536
MAX_READS_PER_CALL = 4
_MAX_VARINT_BYTES = 4

Qos0Sink = Callable[[list[tuple[bytes, bytes]]], None]


class BufferedSocket:
    """A connected (plain or TLS) socket whose ``recv`` is served from a buffer; other attributes pass
    through. Only paho's network thread reads from it."""

    __slots__ = ("_buffer", "_offset", "_sock", "reads")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buffer = b""
        self._offset = 0
        self.reads = 0  # recv calls on the socket

    def recv(self, size: int) -> bytes:
        offset = self._offset
        buffer: bytes = self._buffer
        if offset >= len(buffer):
            # may raise BlockingIOError / SSLWantReadError: paho handles them
            buffer = self._sock.recv(READ_SIZE)
            self.reads += 1
            if not buffer:
                return buffer  # the peer closed the connection
            self._buffer = buffer
            offset = 0
        end = offset + size
        self._offset = end
        return buffer[offset:end]

    def pending(self) -> int:
        """Bytes readable without waiting: those buffered here, plus (TLS) those decrypted in the socket."""
        buffered = len(self._buffer) - self._offset
        if buffered > 0:
            return buffered
        inner = getattr(self._sock, "pending", None)
        return int(inner()) if inner is not None else 0

    def take_qos0_publishes(self, mqtt5: bool, out: list[tuple[bytes, bytes]]) -> int:
        """Append every complete QoS 0 PUBLISH at the front of the buffer to ``out`` as ``(topic, payload)``; stop
        at the first packet that is not one (it stays in the buffer for paho). Returns how many were taken."""
        buf = self._buffer
        off = self._offset
        end = len(buf)
        taken = 0
        append = out.append
        while off + 4 <= end and buf[off] & 0xF6 == 0x30:  # PUBLISH, QoS 0 (dup and retain bits ignored)
            pos, length = _varint(buf, off + 1, end)
            if pos < 0 or pos + length > end or length < 2:
                break  # incomplete (or malformed: paho reports it)
            stop = pos + length
            topic_end = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
            if topic_end == pos + 2 or topic_end > stop:
                break  # empty topic (an MQTT 5 topic alias) or malformed: paho's path
            payload_start = topic_end
            if mqtt5:
                payload_start, properties = _varint(buf, topic_end, stop)
                if payload_start < 0 or properties:
                    break  # properties (user properties, topic alias, ...): paho's path
            append((buf[pos + 2 : topic_end], buf[payload_start:stop]))
            off = stop
            taken += 1
        self._offset = off
        return taken

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """MQTT variable byte integer at ``pos``: (position after it, value), or (-1, 0) if incomplete/too long."""
    value = 0
    shift = 0
    for _ in range(_MAX_VARINT_BYTES):
        if pos >= end:
            return -1, 0
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return pos, value
        shift += 7
    return -1, 0


def supported() -> bool:
    """Whether the installed paho has what :class:`BufferedClient` builds on."""
    probe = paho.Client(CallbackAPIVersion.VERSION2)
    return (
        callable(getattr(paho.Client, "_create_socket", None))
        and callable(getattr(paho.Client, "_sock_recv", None))
        and callable(getattr(paho.Client, "_packet_read", None))
        and callable(getattr(paho.Client, "_loop_rc_handle", None))
        and isinstance(getattr(probe, "_in_packet", None), dict)
        and "command" in probe._in_packet
        and hasattr(probe, "_last_bytes_received")
        and hasattr(probe, "_msgtime_mutex")
        and hasattr(probe, "_protocol")
        and callable(getattr(paho.Client, "want_write", None))
        and callable(getattr(paho.Client, "loop_write", None))
    )


class BufferedClient(paho.Client):
    """``paho.mqtt.client.Client`` reading through a :class:`BufferedSocket`, complete QoS 0 PUBLISH packets
    going to ``on_qos0_publish`` (see the module docstring); ``on_message`` gets every other message."""

    def __init__(
        self, *args: Any, on_qos0_publish: Qos0Sink | None = None, read_pause_s: float = 0.0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.on_qos0_publish = on_qos0_publish
        self.read_pause_s = read_pause_s
        self.pause_writes = 0  # loop_write calls made during a read pause (``_pause``)
        self._write_due = threading.Event()  # set by wake_writer: write during the read pause

    def _create_socket(self) -> Any:
        return BufferedSocket(super()._create_socket())

    def _read_one(self) -> MQTTErrorCode:
        """One packet through paho: one turn of paho's ``loop_read``, which itself reads one packet per message
        in flight whatever ``max_packets`` says (see the module docstring)."""
        if self._sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        rc: MQTTErrorCode = self._packet_read()
        if rc > 0:
            handled: MQTTErrorCode = self._loop_rc_handle(rc)
            return handled
        return MQTTErrorCode.MQTT_ERR_SUCCESS  # read one, or MQTT_ERR_AGAIN (nothing complete yet)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        # One packet through paho; every further buffered packet is read below, QoS 0 PUBLISH packets on the
        # short path.
        rc = self._read_one()
        current = self._sock
        if not isinstance(current, BufferedSocket):
            return rc
        sock: BufferedSocket = current
        sink = self.on_qos0_publish
        mqtt5 = self._protocol == paho.MQTTv5
        last_read = sock.reads + MAX_READS_PER_CALL
        # Back to paho's loop after a few socket reads even while data keeps coming: it must also write
        # (PUBACKs, the agent's own messages, pings) -- a flood must not starve the connection's other half.
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is current and sock.reads < last_read:
            if sink is not None and self._in_packet["command"] == 0:
                cut: list[tuple[bytes, bytes]] = []
                if sock.take_qos0_publishes(mqtt5, cut):
                    with self._msgtime_mutex:
                        self._last_bytes_received = time.monotonic()
                    sink(cut)
            if sock.pending() <= 0:
                break
            rc = self._read_one()  # the next packet, through paho
        if self.read_pause_s > 0.0 and rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            rc = self._pause(self.read_pause_s)
        return rc

    def wake_writer(self) -> None:
        """Ask the network thread to write the packets queued so far now, even in a read pause (any thread).

        Call it once after publishing a group of messages (the agent's loop: once per batch): a pause then
        writes them all in one go instead of waking once per message.
        """
        if self.want_write():  # nothing queued (or already written): no wake-up
            self._write_due.set()

    def _pause(self, seconds: float) -> MQTTErrorCode:
        """Wait ``seconds`` without reading (see the module docstring), writing what :meth:`wake_writer` asks for.

        paho wakes its network thread for an outgoing packet by a byte on its socket pair, which only its own
        ``select`` watches: with a plain ``time.sleep`` here every packet the agent's loop published was held
        until the pause ended and paho's next turn had read once more (and paused again) -- 1.4 ms (alerts) to
        1.8 ms (scores) median of the agent's publish -> socket write at 1,000 readings/s, 2 ms pause. The pause
        waits on an event instead; when it is set, the packets queued by then are written at once
        (``loop_write``, what paho's own turn would do) and the pause goes on until ``seconds`` have passed.
        Reading still waits for the pause to end, so the batching is kept. A packet queued without
        :meth:`wake_writer` is written as before: its socket-pair byte wakes paho's next ``select``.

        Cost, measured in the agent benchmark's latency phase (1,000 readings/s, a score message for every
        reading, about 2.4 readings per batch), four alternating runs each: agent CPU 292 -> 315 µs per reading
        (one more wake-up of the network thread per batch, and the writes no longer grouped across batches).
        Waiting on paho's socket pair instead (a wake-up per message) cost about twice that; the loop thread
        writing the packets itself while the network thread paused (no wake-up at all, under a lock) cost
        the same as this. With nothing queued :meth:`wake_writer` does not wake the pause: in the sustained
        ladder (a score message every 1000th reading) the CPU per reading did not change (2,000/s: 62-66 vs
        61-70 µs; 10,000/s: 17.4-19.0 vs 17.6-19.2 µs, two runs each).
        """
        due = self._write_due
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0.0 or not due.wait(remaining):
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            due.clear()  # before looking at the queue: a packet queued after this is seen by the next wait
            if self.want_write():
                self.pause_writes += 1
                rc: MQTTErrorCode = self.loop_write()
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or self._sock is None:
                    return rc  # paho's loop turn handles both, as after its own loop_write
