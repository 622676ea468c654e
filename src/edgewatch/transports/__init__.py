"""Message transports behind one small interface (see ``base.Transport``).

* ``MqttTransport`` (``mqtt.py``): paho-mqtt 2.x, MQTT 3.1.1 or 5, TLS, reconnect with back-off;
* ``MemoryTransport`` / ``MemoryBroker`` (``memory.py``): in memory, deterministic, for unit tests.

Callbacks only enqueue: incoming messages land in ``transport.inbox`` as ``(topic, payload,
arrival_time)``; broker acknowledgements are read with ``transport.take_acks()``.
"""

from edgewatch.transports.base import (
    InboundMessage,
    OutMessage,
    PublishAck,
    PublishHandle,
    Transport,
)
from edgewatch.transports.memory import MemoryBroker, MemoryTransport

__all__ = [
    "InboundMessage",
    "MemoryBroker",
    "MemoryTransport",
    "OutMessage",
    "PublishAck",
    "PublishHandle",
    "Transport",
]
