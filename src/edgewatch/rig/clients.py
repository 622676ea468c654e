"""Plain MQTT clients (paho-mqtt 2.x, imported when one is made): one that publishes and one that listens.

They drive and watch the system from outside, as sensors and dashboards would: ``simulate --mqtt``
publishes with them, the demo and the agent benchmark listen with them, and so do the tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from edgewatch.errors import ConfigError, MissingExtraError

CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class BrokerAddress:
    """A parsed ``mqtt://[user[:password]@]host[:port]`` (``mqtts://`` for TLS)."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_mqtt_url(url: str) -> BrokerAddress:
    """Parse a broker URL; ports default to 1883 (``mqtt``) and 8883 (``mqtts``)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise ConfigError(f"not a broker URL: {url!r} (example: mqtt://127.0.0.1:1883)", field="mqtt")
    tls = scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ConfigError(f"bad port in {url!r}", field="mqtt") from None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return BrokerAddress(host=parts.hostname, port=port, tls=tls, username=user, password=password)


def connect(
    url: str, *, client_id: str = "", max_queued: int | None = None, connect_timeout_s: float = CONNECT_TIMEOUT_S
) -> Any:
    """Connect a paho-mqtt 2.x client to ``url`` and start its network loop; return the client. ``max_queued``
    sets paho's outgoing queue limit (0: none).

    Raises :class:`MissingExtraError` without paho-mqtt and :class:`ConfigError` (field ``mqtt``) if the
    broker cannot be reached or refuses the connection.
    """
    try:
        from paho.mqtt import client as mqtt
    except ImportError:
        raise MissingExtraError("paho-mqtt", "edge") from None
    address = parse_mqtt_url(url)
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    if address.username is not None:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set()
    if max_queued is not None:
        client.max_queued_messages_set(max_queued)
    connected = threading.Event()
    outcome: dict[str, Any] = {}

    def on_connect(_client: Any, _userdata: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        outcome["reason"] = reason_code
        connected.set()

    client.on_connect = on_connect
    try:
        client.connect(address.host, address.port, keepalive=60)
    except OSError as exc:
        raise ConfigError(f"cannot connect to {address.host}:{address.port}: {exc}", field="mqtt") from None
    client.loop_start()
    if not connected.wait(connect_timeout_s):
        client.loop_stop()
        raise ConfigError(f"no answer from {address.host}:{address.port} within {connect_timeout_s:g} s", field="mqtt")
    reason = outcome["reason"]
    if reason.is_failure:
        client.loop_stop()
        raise ConfigError(f"broker {address.host}:{address.port} refused the connection: {reason}", field="mqtt")
    return client


class Publisher:
    """A connected client that publishes; :meth:`close` waits for the last message to leave first."""

    def __init__(self, url: str, *, client_id: str = "", max_queued: int | None = None) -> None:
        self.client = connect(url, client_id=client_id, max_queued=max_queued)
        self.last: Any = None

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> Any:
        """Hand one message to paho; returns its ``MQTTMessageInfo`` (``rc`` non-zero: refused)."""
        self.last = self.client.publish(topic, payload, qos=qos)
        return self.last

    def send(self, device: str, payloads: Iterable[bytes], qos: int = 1, timeout_s: float = 10.0) -> None:
        """Publish readings of ``device`` to ``plant/<device>/sensors`` and wait until each has left."""
        for info in [self.publish(f"plant/{device}/sensors", p, qos) for p in payloads]:
            info.wait_for_publish(timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        try:
            if self.last is not None:
                self.last.wait_for_publish(timeout=timeout_s)
        except (RuntimeError, ValueError):  # not connected any more / queue full: nothing more to flush
            pass
        finally:
            self.client.disconnect()
            self.client.loop_stop()


class Message(NamedTuple):
    topic: str
    payload: bytes
    retain: bool


class Listener:
    """A client subscribed to ``topics`` (at ``qos``) that keeps every message in ``messages`` (``keep``) and hands
    each to ``on_message(topic, payload, received)``, ``received`` being ``time.time()`` at arrival. Both
    happen on paho's network thread; the constructor returns once the subscription is acknowledged."""

    def __init__(
        self,
        url: str,
        topics: str | Iterable[str],
        *,
        on_message: Callable[[str, bytes, float], None] | None = None,
        keep: bool = True,
        client_id: str = "",
        qos: int = 1,
    ) -> None:
        self.messages: list[Message] = []
        self._keep = keep
        self._hook = on_message
        self._cond = threading.Condition()
        subscribed = threading.Event()
        self.client = connect(url, client_id=client_id)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.subscribe([(t, qos) for t in ([topics] if isinstance(topics, str) else topics)])
        if not subscribed.wait(5):
            raise ConfigError(f"the broker did not acknowledge the subscription to {topics}", field="mqtt")

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        received = time.time()
        if self._hook is not None:
            self._hook(message.topic, message.payload, received)
        if self._keep:
            with self._cond:
                self.messages.append(Message(message.topic, message.payload, bool(message.retain)))
                self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Message]], bool], timeout: float = 5.0) -> list[Message]:
        """Wait until ``predicate(messages)`` holds; return the messages (``TimeoutError`` listing them)."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.messages), timeout):
                raise TimeoutError(f"timed out; messages so far: {self.messages!r}")
            return list(self.messages)

    def payloads(self, topic: str) -> list[bytes]:
        with self._cond:
            return [m.payload for m in self.messages if m.topic == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
