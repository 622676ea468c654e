"""Publish simulated readings of N pumps to MQTT in (scaled) real time.

Each device ``pump-01``, ``pump-02``, ... gets its own recording (seed derived from the base seed and the
device index, so devices differ and runs repeat). Every tick, one row of every device is published to
``topic.format(device=...)`` as ``{"ts": <epoch s>, "values": {name: number | null, ...}}`` (``null``
marks a dropout). Ticks are paced with a monotonic clock at ``rate_hz × speedup`` per second; a late
tick is published at once (no catch-up sleep, no skipped rows). Timestamps are simulated time: they start
at ``start_time`` (default: now) and advance by ``1 / rate_hz`` per row whatever the speed-up.

paho-mqtt (2.x, ``CallbackAPIVersion.VERSION2``) is imported only when a broker is actually used;
:func:`publish_recordings` takes any object with paho's ``publish(topic, payload, qos)``.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import numpy as np

from edgewatch.data.recording import Recording
from edgewatch.errors import ConfigError, MissingExtraError
from edgewatch.sim.simulator import simulate

log = logging.getLogger(__name__)

DEFAULT_TOPIC = "plant/{device}/sensors"
DEFAULT_LIVE_DURATION_S = 3600.0
CONNECT_TIMEOUT_S = 10.0


class Publisher(Protocol):
    """The part of ``paho.mqtt.client.Client`` used here."""

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> Any: ...


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


def device_ids(n: int) -> list[str]:
    """``pump-01`` … ``pump-NN`` (at least two digits, more when ``n`` needs them)."""
    width = max(2, len(str(n)))
    return [f"pump-{i:0{width}d}" for i in range(1, n + 1)]


def device_seed(seed: int, index: int) -> int:
    """The recording seed of device ``index`` (0-based) for base ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def payload(ts: float, names: Sequence[str], row: Sequence[float]) -> bytes:
    """One reading as compact JSON; NaN becomes ``null``."""
    values = {name: (None if math.isnan(v) else v) for name, v in zip(names, row, strict=True)}
    return json.dumps({"ts": ts, "values": values}, separators=(",", ":"), allow_nan=False).encode()


@dataclass
class LiveStats:
    """What a live run did. ``late_ticks`` counts ticks published more than one period after their due
    time; ``failed`` counts publishes the client refused (e.g. while disconnected: QoS 0 drops them)."""

    devices: int
    rows: int = 0
    messages: int = 0
    failed: int = 0
    elapsed_s: float = 0.0
    late_ticks: int = 0
    recordings: dict[str, Recording] = field(default_factory=dict, repr=False)


def publish_recordings(
    recordings: dict[str, Recording],
    publisher: Publisher,
    *,
    topic: str = DEFAULT_TOPIC,
    speedup: float = 1.0,
    qos: int = 0,
    max_rows: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    stop: threading.Event | None = None,
) -> LiveStats:
    """Publish row ``k`` of every recording at ``t0 + k / (rate_hz × speedup)`` (monotonic clock).

    All recordings must share length and rate. Stops after ``max_rows`` rows, at the end of the
    recordings, or when ``stop`` is set. Returns the counts.
    """
    if not recordings:
        return LiveStats(devices=0)
    first = next(iter(recordings.values()))
    n = min(len(first), max_rows) if max_rows is not None else len(first)
    period = 1.0 / (first.rate_hz * speedup)
    topics = {device: topic.format(device=device) for device in recordings}
    columns = {device: (rec.timestamps.tolist(), rec.values.tolist()) for device, rec in recordings.items()}
    stats = LiveStats(devices=len(recordings), recordings=recordings)
    t0 = clock()
    for k in range(n):
        if stop is not None and stop.is_set():
            break
        due = t0 + k * period
        now = clock()
        if now < due:
            sleep(due - now)
        elif now > due + period:
            stats.late_ticks += 1
        for device, (timestamps, rows) in columns.items():
            body = payload(timestamps[k], recordings[device].features, rows[k])
            result = publisher.publish(topics[device], body, qos)
            if getattr(result, "rc", 0):
                stats.failed += 1
            stats.messages += 1
        stats.rows = k + 1
    stats.elapsed_s = clock() - t0
    return stats


def connect(url: str, *, client_id: str = "", connect_timeout_s: float = CONNECT_TIMEOUT_S) -> Any:
    """Connect a paho-mqtt 2.x client to ``url`` and start its network loop; return the client.

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


def disconnect(client: Any, last: Any = None, *, timeout_s: float = 10.0) -> None:
    """Wait for the last queued message to leave, then disconnect and stop the network loop."""
    try:
        if last is not None:
            last.wait_for_publish(timeout=timeout_s)
    except (RuntimeError, ValueError) as exc:  # not connected any more / queue full
        log.warning("could not flush the last message: %s", exc)
    finally:
        client.disconnect()
        client.loop_stop()


class _TrackingPublisher:
    """Remember the last publish result so the queue can be flushed before disconnecting."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.last: Any = None

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> Any:
        self.last = self.client.publish(topic, payload, qos=qos)
        return self.last


def publish_live(
    url: str,
    *,
    devices: int = 1,
    rate_hz: float = 1.0,
    duration_s: float | None = None,
    n_rows: int | None = None,
    speedup: float = 1.0,
    topic: str = DEFAULT_TOPIC,
    qos: int = 0,
    seed: int = 0,
    start_time: float | str | None = None,
    client_id: str = "",
    stop: threading.Event | None = None,
    **simulate_kwargs: Any,
) -> LiveStats:
    """Simulate ``devices`` pumps and publish them to the broker at ``url``.

    Length: ``n_rows`` or ``duration_s`` (simulated seconds; wall time is that / ``speedup``), default one
    hour. Other keyword arguments (``n_features``, ``faults``, ``fault_count``, ...) go to
    :func:`edgewatch.sim.simulate`. Raises :class:`ConfigError` for bad arguments or an unreachable broker.
    """
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise ConfigError(f"must be a positive integer, got {devices!r}", field="devices")
    if not (math.isfinite(speedup) and speedup > 0):
        raise ConfigError(f"must be a positive number, got {speedup!r}", field="speedup")
    if qos not in (0, 1, 2):
        raise ConfigError(f"must be 0, 1 or 2, got {qos!r}", field="qos")
    if "{device}" not in topic:
        raise ConfigError(f"must contain {{device}}, got {topic!r}", field="topic")
    if n_rows is None and duration_s is None:
        duration_s = DEFAULT_LIVE_DURATION_S
    start = round(time.time(), 3) if start_time is None else start_time
    recordings = {
        device: simulate(
            n_rows=n_rows,
            duration_s=duration_s,
            rate_hz=rate_hz,
            seed=device_seed(seed, i),
            start_time=start,
            **simulate_kwargs,
        )
        for i, device in enumerate(device_ids(devices))
    }
    client = connect(url, client_id=client_id)
    publisher = _TrackingPublisher(client)
    try:
        return publish_recordings(recordings, publisher, topic=topic, speedup=speedup, qos=qos, stop=stop)
    finally:
        disconnect(client, publisher.last)
