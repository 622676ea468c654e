"""What the agent needs from a message transport, and the small value types that cross it.

Threading contract (shared by every transport):

* network callbacks only *enqueue*: incoming messages go to ``transport.inbox`` (a bounded
  :class:`~edgewatch.transports.inbox.Inbox` of :class:`InboundMessage`, read in batches; when it is full
  the message is dropped and
  ``transport.inbox_dropped`` counts it), broker acknowledgements go to an internal deque read with
  :meth:`Transport.take_acks`;
* ``publish`` may be called from any thread and never blocks on the network;
* ``connected`` is true only after the broker accepted the connection (a refused CONNACK does not count);
  ``generation`` increases by one on every accepted (re)connection, so a consumer can notice a reconnect
  it did not see happen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from edgewatch.transports.inbox import Inbox

#: ``PublishHandle.rc`` values (the paho-mqtt numbering, so MQTT handles pass through unchanged).
RC_SUCCESS = 0
RC_NO_CONN = 4
RC_QUEUE_SIZE = 15


class InboundMessage(NamedTuple):
    """One message as received: ``arrival_time`` is wall-clock seconds (``time.time()``) at receipt."""

    topic: str
    payload: bytes
    arrival_time: float


class OutMessage(NamedTuple):
    """A message to publish later: the last will and the birth (``online``) message of a transport."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True)
class PublishHandle:
    """The result of handing one message to a transport.

    ``mid`` identifies the message in later :class:`PublishAck` s. ``rc`` is ``RC_SUCCESS`` when the
    message was written (or queued for writing) on a live connection; ``RC_NO_CONN`` when there was no
    connection (QoS 0: the message is gone; QoS 1/2: the transport keeps it and sends it after the next
    reconnect); ``RC_QUEUE_SIZE`` when the transport refused it.
    """

    mid: int
    rc: int
    qos: int
    waiter: Callable[[float], bool] | None = field(default=None, repr=False, compare=False)

    def wait(self, timeout: float) -> bool:
        """Block until the broker acknowledged this message (QoS 0: until written); False on timeout.

        Does not consume the message's :class:`PublishAck`.
        """
        if self.waiter is None or not self.accepted:
            return False
        return self.waiter(timeout)

    @property
    def accepted(self) -> bool:
        """True when the transport will deliver (or try to deliver) the message."""
        return self.rc == RC_SUCCESS or (self.rc == RC_NO_CONN and self.qos > 0)


@dataclass(frozen=True)
class PublishAck:
    """The broker acknowledged message ``mid`` (PUBACK for QoS 1; for QoS 0: written to the socket).

    ``ok`` is False when the broker answered with a failure reason code (MQTT 5, e.g. "Not authorized"):
    the broker will never take that message, so retrying it is pointless.
    """

    mid: int
    ok: bool = True
    reason: str = "Success"


class Transport(Protocol):
    """A publish/subscribe connection to a broker: ``MqttTransport``, or in the tests the in-memory double
    ``tests/transports/memory.py``."""

    inbox: Inbox[InboundMessage]

    @property
    def connected(self) -> bool: ...

    @property
    def generation(self) -> int: ...

    @property
    def inbox_dropped(self) -> int: ...

    def start(self) -> None:
        """Begin connecting in the background; returns at once. Reconnects by itself with back-off."""
        ...

    def stop(self, timeout: float = 2.0) -> None:
        """Disconnect cleanly (no last will) and stop the network thread."""
        ...

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected or ``timeout`` seconds passed; return ``connected``."""
        ...

    def subscribe(self, topic_filter: str, qos: int = 0) -> None:
        """Subscribe now if connected, and again after every reconnect."""
        ...

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> PublishHandle:
        """Hand one message to the transport; never blocks on the network."""
        ...

    def take_acks(self) -> list[PublishAck]:
        """Remove and return the acknowledgements received since the last call, oldest first."""
        ...
