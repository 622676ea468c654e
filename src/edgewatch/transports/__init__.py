"""Message transports behind one small interface (see ``base.Transport``).

* ``MqttTransport`` (``mqtt.py``): paho-mqtt 2.x, MQTT 3.1.1 or 5, TLS, reconnect with back-off; the
  tests' in-memory double with the same interface is ``tests/transports/memory.py``.

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

__all__ = [
    "InboundMessage",
    "OutMessage",
    "PublishAck",
    "PublishHandle",
    "Transport",
]
