"""An in-memory transport with the MQTT transport's interface, for unit tests of pure logic.

Deterministic and synchronous: ``start()`` connects at once, ``publish`` "sends" at once, and acks arrive
immediately (``auto_ack=True``) or when the test calls :meth:`MemoryTransport.ack`. A test can cut the
connection (``set_online(False)``): QoS 0 publishes then fail with ``RC_NO_CONN`` and QoS 1 messages wait
and are re-sent, in order and flagged ``dup`` if they had been sent, when ``set_online(True)``
reconnects -- what paho-mqtt does.

Several transports can share a :class:`MemoryBroker`, which routes messages between them, keeps retained
messages and publishes a client's last will when its connection drops (not when it stops cleanly).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from edgewatch.transports.base import (
    RC_NO_CONN,
    RC_SUCCESS,
    InboundMessage,
    PublishAck,
    PublishHandle,
)
from edgewatch.transports.inbox import Inbox
from edgewatch.transports.topics import topic_matches, validate_filter, validate_topic


@dataclass(frozen=True)
class SentMessage:
    """A message as it reached the (memory) broker."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool = False


class MemoryBroker:
    """Routes messages between :class:`MemoryTransport` s; keeps retained messages; fires last wills."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._clients: list[MemoryTransport] = []
        self.retained: dict[str, SentMessage] = {}
        self.log: list[SentMessage] = []  # every message the broker accepted, in order

    def _attach(self, client: MemoryTransport) -> None:
        with self._lock:
            if client not in self._clients:
                self._clients.append(client)

    def _detach(self, client: MemoryTransport) -> None:
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)

    def _accept(self, message: SentMessage) -> None:
        with self._lock:
            self.log.append(message)
            if message.retain:
                if message.payload:
                    self.retained[message.topic] = message
                else:
                    self.retained.pop(message.topic, None)
            for client in list(self._clients):
                client._route(message)

    def _retained_for(self, topic_filter: str) -> list[SentMessage]:
        with self._lock:
            return [m for t, m in self.retained.items() if topic_matches(topic_filter, t)]


class MemoryTransport:
    """A transport that lives in memory; see the module docstring."""

    def __init__(
        self,
        broker: MemoryBroker | None = None,
        *,
        client_id: str = "memory",
        will: tuple[str, bytes, int, bool] | None = None,
        birth: tuple[str, bytes, int, bool] | None = None,
        auto_ack: bool = True,
        inbox_max: int = 10_000,
    ) -> None:
        self.broker = broker
        self.client_id = client_id
        self.will = will
        self.birth = birth
        self.auto_ack = auto_ack
        self.inbox: Inbox[InboundMessage] = Inbox(inbox_max)
        self.sent: list[SentMessage] = []  # what reached the broker, in order, re-sends included
        self._lock = threading.RLock()
        self._acked = threading.Condition(self._lock)
        self._acks: deque[PublishAck] = deque()
        self._acked_mids: set[int] = set()
        self._subscriptions: dict[str, int] = {}
        self._pending: dict[int, tuple[SentMessage, bool]] = {}  # mid -> (message, was sent), QoS > 0
        self._mid = 0
        self._online = True
        self._started = False
        self._connected = False
        self._generation = 0
        self._inbox_dropped = 0

    # -- the Transport interface -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def inbox_dropped(self) -> int:
        return self._inbox_dropped

    def start(self) -> None:
        with self._lock:
            self._started = True
            if self._online:
                self._connect()

    def stop(self, timeout: float = 2.0) -> None:
        with self._lock:
            self._started = False
            self._connected = False
            if self.broker is not None:
                self.broker._detach(self)

    def wait_connected(self, timeout: float) -> bool:
        return self._connected

    def subscribe(self, topic_filter: str, qos: int = 0) -> None:
        validate_filter(topic_filter)
        with self._lock:
            self._subscriptions[topic_filter] = qos
            if self._connected:
                self._deliver_retained(topic_filter)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> PublishHandle:
        validate_topic(topic)
        with self._lock:
            self._mid = self._mid % 65535 + 1
            mid = self._mid
            self._acked_mids.discard(mid)
            message = SentMessage(topic, bytes(payload), qos, retain)
            if qos == 0:
                if not self._connected:
                    return PublishHandle(mid, RC_NO_CONN, qos)
                self._send(message)
                self._ack(mid)
                return PublishHandle(mid, RC_SUCCESS, qos, self._waiter(mid))
            self._pending[mid] = (message, False)
            if not self._connected:
                return PublishHandle(mid, RC_NO_CONN, qos, self._waiter(mid))
            self._pending[mid] = (message, True)
            self._send(message)
            if self.auto_ack:
                self.ack(mid)
            return PublishHandle(mid, RC_SUCCESS, qos, self._waiter(mid))

    def take_acks(self) -> list[PublishAck]:
        with self._lock:
            acks = list(self._acks)
            self._acks.clear()
            return acks

    # -- test controls -----------------------------------------------------------------------------

    def set_online(self, online: bool) -> None:
        """Cut (False) or restore (True) the connection. A cut fires the last will on the broker."""
        with self._lock:
            self._online = online
            if not online and self._connected:
                self._connected = False
                if self.broker is not None:
                    self.broker._detach(self)
                    if self.will is not None:
                        topic, payload, qos, retain = self.will
                        self.broker._accept(SentMessage(topic, payload, qos, retain))
            elif online and self._started and not self._connected:
                self._connect()

    def ack(self, mid: int, *, ok: bool = True, reason: str = "Success") -> None:
        """Acknowledge QoS 1 message ``mid`` as the broker would (only if it was sent)."""
        with self._lock:
            entry = self._pending.get(mid)
            if entry is None or not entry[1]:
                return
            del self._pending[mid]
            self._ack(mid, ok=ok, reason=reason)

    def ack_all(self) -> None:
        with self._lock:
            for mid in [m for m, (_, sent) in self._pending.items() if sent]:
                self.ack(mid)

    def deliver(self, topic: str, payload: bytes, arrival_time: float | None = None) -> bool:
        """Put an incoming message in the inbox, as if the broker sent it; False when the inbox is full."""
        item = InboundMessage(topic, bytes(payload), time.time() if arrival_time is None else arrival_time)
        try:
            self.inbox.put_nowait(item)
            return True
        except queue.Full:
            self._inbox_dropped += 1
            return False

    @property
    def unacked(self) -> list[int]:
        """Mids of QoS 1 messages not acknowledged yet (sent or waiting for a connection)."""
        with self._lock:
            return list(self._pending)

    # -- internals ---------------------------------------------------------------------------------

    def _connect(self) -> None:
        self._connected = True
        self._generation += 1
        if self.broker is not None:
            self.broker._attach(self)
        for topic_filter in self._subscriptions:
            self._deliver_retained(topic_filter)
        if self.birth is not None:
            topic, payload, qos, retain = self.birth
            self.publish(topic, payload, qos, retain)
        for mid, (message, was_sent) in list(self._pending.items()):
            resent = SentMessage(message.topic, message.payload, message.qos, message.retain, dup=was_sent)
            self._pending[mid] = (message, True)
            self._send(resent)
            if self.auto_ack:
                self.ack(mid)

    def _send(self, message: SentMessage) -> None:
        self.sent.append(message)
        if self.broker is not None:
            self.broker._accept(message)

    def _ack(self, mid: int, *, ok: bool = True, reason: str = "Success") -> None:
        self._acks.append(PublishAck(mid, ok, reason))
        self._acked_mids.add(mid)
        self._acked.notify_all()

    def _waiter(self, mid: int) -> Callable[[float], bool]:
        def wait(timeout: float) -> bool:
            with self._acked:
                return self._acked.wait_for(lambda: mid in self._acked_mids, timeout)

        return wait

    def _route(self, message: SentMessage) -> None:
        if not self._connected:
            return
        if any(topic_matches(f, message.topic) for f in self._subscriptions):
            self.deliver(message.topic, message.payload)

    def _deliver_retained(self, topic_filter: str) -> None:
        if self.broker is not None:
            for message in self.broker._retained_for(topic_filter):
                self.deliver(message.topic, message.payload)
