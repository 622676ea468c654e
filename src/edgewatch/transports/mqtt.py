"""The MQTT transport: a small class over paho-mqtt 2.x (callback API version 2).

* ``connect_async`` + ``loop_start``: paho's network thread connects, reconnects with exponential
  back-off (``reconnect_delay_set``) and runs the callbacks below;
* callbacks only enqueue: messages go to ``inbox`` as ``(topic, payload, arrival_time)``, PUBACKs to the
  ack deque read by :meth:`MqttTransport.take_acks` (the durable outbox deletes a row only then);
* ``on_connect`` checks the reason code; only an accepted connection marks the transport connected,
  bumps ``generation``, re-subscribes every filter and publishes the birth message;
* QoS 1 messages published while disconnected are kept by paho (in memory) and sent after the next
  reconnect, before anything published later; QoS 0 messages are dropped (``RC_NO_CONN``).

TLS: ``ca`` verifies the broker (system CAs when omitted); ``cert``/``key`` authenticate this client;
``insecure=True`` skips the check that the broker's certificate names the host (the chain is still
verified) -- for brokers reached by IP address; never the default.

When a connection attempt fails, the first failure of an outage is explained in the log by repeating
the attempt by hand (:mod:`edgewatch.transports.diagnose`: nothing listening, wrong CA, host name not in
the certificate, ...). ``keepalive`` bounds how long a dead link (a network black hole) goes unnoticed:
paho pings after ``keepalive`` s of silence and gives up ``keepalive`` s later. The reconnect back-off
doubles from ``reconnect_min_s`` to ``reconnect_max_s``.

``session``: a persistent session -- MQTT 5 ``clean_start = false`` with a session expiry (3.1.1:
``clean_session = false``) under the fixed ``client_id`` -- so the broker keeps the subscriptions and
queues QoS 1 messages for the agent while it reconnects or restarts.

``broker_stats``: subscribe to Mosquitto's ``$SYS/broker/publish/messages/dropped`` (messages the broker
dropped because a client's queue was full, all clients together) and keep it in ``broker_dropped``
(None until the broker publishes it, or where ``$SYS`` is not readable).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edgewatch.transports import paho_buffered
from edgewatch.transports.base import InboundMessage, OutMessage, PublishAck, PublishHandle
from edgewatch.transports.deferred import paho  # paho.mqtt.client, without ssl and urllib.request (deferred.py)
from edgewatch.transports.diagnose import explain_connect_failure
from edgewatch.transports.inbox import Inbox
from edgewatch.transports.topics import validate_filter, validate_topic

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("edgewatch.mqtt")
_paho_log = logging.getLogger("edgewatch.mqtt.paho")


class _QuietFailedConnects(logging.Filter):
    """paho 2.2 logs an ERROR on every loop turn after a failed (e.g. TLS) connect; ``on_connect_fail``
    already reports the outage once, so drop that line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Client is not connected")


_paho_log.addFilter(_QuietFailedConnects())

PROTOCOLS = {"3.1.1": paho.MQTTv311, "5": paho.MQTTv5}
BROKER_DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
#: More unread acks than distinct message ids means the oldest are stale; the deque drops them.
_ACK_BACKLOG = 65_535


@dataclass(frozen=True)
class TlsSettings:
    """TLS for ``mqtts://``: CA file (None: system CAs), client certificate and key, hostname check."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False

    def context(self) -> ssl.SSLContext:
        """The SSL context for these settings (certificate chain always verified)."""
        import ssl  # here, not at module level: a plain mqtt:// agent never loads it (4.4 MB; deferred.py)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.ca:
            context.load_verify_locations(cafile=self.ca)
        else:
            context.load_default_certs()
        if self.cert:
            context.load_cert_chain(self.cert, self.key)
        context.check_hostname = not self.insecure
        return context


@dataclass(frozen=True)
class SessionSettings:
    """A persistent session the broker keeps ``expiry_s`` seconds after a disconnect (MQTT 5)."""

    expiry_s: int = 86400


class MqttTransport:
    """A connection to one MQTT broker; see the module docstring for the threading contract."""

    def __init__(
        self,
        host: str,
        port: int = 1883,
        *,
        client_id: str = "",
        protocol: str = "5",
        keepalive: int = 15,
        username: str | None = None,
        password: str | None = None,
        tls: TlsSettings | None = None,
        will: OutMessage | None = None,
        birth: OutMessage | None = None,
        reconnect_min_s: int = 1,
        reconnect_max_s: int = 5,
        inbox_max: int = 10_000,
        session: SessionSettings | None = None,
        broker_stats: bool = False,
        read_pause_s: float = 0.0,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
        if session is not None and not client_id:
            raise ValueError("a persistent session needs a fixed client_id")
        self.host = host
        self.port = port
        self.protocol = protocol
        self.keepalive = keepalive
        self.birth = birth
        self.inbox: Inbox[InboundMessage] = Inbox(inbox_max)
        self._acks: deque[PublishAck] = deque(maxlen=_ACK_BACKLOG)
        self._subscriptions: dict[str, int] = {}
        self._connected = threading.Event()
        self._generation = 0
        self._inbox_dropped = 0
        self._failures_logged = 0
        self.session = session
        self.broker_stats = broker_stats
        self.broker_dropped: int | None = None
        self._hold_s = keepalive / 2  # longest wait for inbox room for a QoS 1 reading (keepalive must go on)
        self._sys_mid: int | None = None
        self._tls = tls
        self._tls_context = tls.context() if tls is not None else None

        clean_session = None if protocol == "5" else session is None  # MQTT 5: clean_start at connect
        self._client: paho.Client
        if paho_buffered.supported():  # buffered reads and a short path for QoS 0 readings
            self._client = paho_buffered.BufferedClient(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=PROTOCOLS[protocol],
                clean_session=clean_session,
                on_qos0_publish=self._on_qos0,
                read_pause_s=read_pause_s,
            )
        else:
            self._client = paho.Client(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=PROTOCOLS[protocol],
                clean_session=clean_session,
            )
        self._client.enable_logger(_paho_log)
        self._client.reconnect_delay_set(min_delay=reconnect_min_s, max_delay=reconnect_max_s)
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls is not None and self._tls_context is not None:
            self._client.tls_set_context(self._tls_context)
            self._client.tls_insecure_set(tls.insecure)
        if will is not None:
            validate_topic(will.topic)
            self._client.will_set(will.topic, will.payload, will.qos, will.retain)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe

    # -- the Transport interface -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def inbox_dropped(self) -> int:
        return self._inbox_dropped

    @property
    def queued(self) -> int:
        """QoS 1/2 messages handed to paho and not yet acknowledged (in flight or waiting for the window)."""
        return len(getattr(self._client, "_out_messages", ()))

    def start(self) -> None:
        """Connect in paho's background thread; returns at once (see :meth:`wait_connected`)."""
        kwargs: dict[str, Any] = {"keepalive": self.keepalive}
        if self.protocol == "5":
            kwargs["clean_start"] = self.session is None
            if self.session is not None:
                properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                properties.SessionExpiryInterval = self.session.expiry_s
                kwargs["properties"] = properties
        self._client.connect_async(self.host, self.port, **kwargs)
        self._client.loop_start()
        session = "persistent session" if self.session is not None else "clean session"
        log.info(
            "connecting to mqtt broker %s:%d (MQTT %s, %s, keepalive %d s)",
            self.host,
            self.port,
            self.protocol,
            session,
            self.keepalive,
        )
        if self.protocol == "3.1.1":
            log.warning(
                "MQTT 3.1.1: the broker acknowledges a publish it refused (e.g. by its ACL) as delivered, so such "
                "an alert would be lost without a trace; use mqtt.protocol = \"5\" where the broker supports it"
            )

    def stop(self, timeout: float = 2.0) -> None:
        """Disconnect cleanly -- the broker does not publish the last will -- and end the network thread."""
        self._client.disconnect()
        self._connected.clear()
        self._client.loop_stop()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def subscribe(self, topic_filter: str, qos: int = 0) -> None:
        validate_filter(topic_filter)
        self._subscriptions[topic_filter] = qos
        if self.connected:
            self._client.subscribe(topic_filter, qos)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> PublishHandle:
        info = self._client.publish(topic, payload, qos, retain)

        def wait(timeout: float) -> bool:
            if info.rc == paho.MQTT_ERR_SUCCESS:
                info.wait_for_publish(timeout)
                return info.is_published()
            # Queued while disconnected: paho keeps rc=NO_CONN even after a later successful send,
            # so its public wait refuses; poll the flag its on_publish path sets.
            deadline = time.monotonic() + timeout
            while not getattr(info, "_published", False):
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.01)
            return True

        return PublishHandle(info.mid, int(info.rc), qos, wait)

    def flush(self) -> None:
        """Have what was published so far written now rather than after the network thread's read pause
        (``read_pause_s``; :meth:`~edgewatch.transports.paho_buffered.BufferedClient.wake_writer`). The agent's
        loop calls it once per batch, after the batch's alerts and scores. A no-op on the plain paho client,
        whose network thread is woken by every publish."""
        client = self._client
        if isinstance(client, paho_buffered.BufferedClient):
            client.wake_writer()

    def take_acks(self) -> list[PublishAck]:
        acks = []
        while True:
            try:
                acks.append(self._acks.popleft())
            except IndexError:
                return acks

    # -- paho callbacks (network thread): enqueue and return ---------------------------------------

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._connected.clear()
            log.warning("mqtt broker %s:%d refused the connection: %s", self.host, self.port, reason)
            return
        self._generation += 1
        self._failures_logged = 0
        if self._subscriptions:
            client.subscribe(list(self._subscriptions.items()))
        if self.broker_stats:
            self._sys_mid = client.subscribe(BROKER_DROPPED_TOPIC, 0)[1]
        if self.birth is not None:
            client.publish(*self.birth)
        self._connected.set()
        log.info("connected to mqtt broker %s:%d", self.host, self.port)

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        # One line per outage, not one per back-off attempt.
        if self._failures_logged == 0:
            ca = self._tls.ca if self._tls is not None else None
            why = explain_connect_failure(self.host, self.port, self._tls_context, ca=ca)
            log.warning("cannot reach mqtt broker %s:%d: %s; retrying with back-off", self.host, self.port, why)
        self._failures_logged += 1

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected and reason.is_failure:
            log.warning("lost the connection to mqtt broker %s:%d: %s", self.host, self.port, reason)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # a topic that is not UTF-8 cannot name a device
            self._inbox_dropped += 1
            return
        self._receive(topic, bytes(message.payload), hold_s=self._hold_s if message.qos else 0.0)

    def _on_qos0(self, messages: list[tuple[bytes, bytes]]) -> None:
        """QoS 0 messages cut out of one read buffer by
        :class:`~edgewatch.transports.paho_buffered.BufferedClient`, in order: one arrival time (they were read
        together), into the inbox in one go; those it has no room for are dropped (counted)."""
        now = time.time()
        batch = []
        for topic, payload in messages:
            try:
                name = topic.decode("utf-8")
            except UnicodeDecodeError:
                self._inbox_dropped += 1
                continue
            if self.broker_stats and name == BROKER_DROPPED_TOPIC:
                self._receive(name, payload)
                continue
            batch.append(InboundMessage(name, payload, now))
        if batch:
            self._inbox_dropped += self.inbox.put_many(batch)

    def _receive(self, topic: str, payload: bytes, hold_s: float = 0.0) -> None:
        """Into the inbox; when it is full, a QoS 0 message is dropped (counted) at once, a QoS 1/2 one waits
        up to ``hold_s`` for room first: paho acknowledges it only after this returns, so meanwhile the
        broker holds the following ones (its inflight window, then its queue) instead of the agent
        acknowledging readings it then drops."""
        if self.broker_stats and topic == BROKER_DROPPED_TOPIC:
            try:
                self.broker_dropped = int(payload)
            except ValueError:
                pass
            return
        message = InboundMessage(topic, payload, time.time())
        deadline = None
        while True:
            try:
                self.inbox.put_nowait(message)
                return
            except queue.Full:
                now = time.monotonic()
                deadline = deadline or now + hold_s
                if now >= deadline:
                    self._inbox_dropped += 1
                    return
                time.sleep(0.002)

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        self._acks.append(PublishAck(mid, not reason.is_failure, str(reason)))

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, reasons: list[Any], properties: Any) -> None:
        for code in reasons:
            if not code.is_failure:
                continue
            if mid == self._sys_mid:
                log.info("the broker does not let this agent read %s (%s)", BROKER_DROPPED_TOPIC, code)
            else:
                log.error("mqtt broker refused a subscription: %s", code)
