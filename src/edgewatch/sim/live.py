"""Publish simulated readings of N pumps to MQTT in (scaled) real time.

Each device ``pump-01``, ``pump-02``, ... gets its own recording (seed derived from the base seed and the
device index, so devices differ and runs repeat). Every tick, one row of every device is published to
``topic.format(device=...)`` as ``{"ts": <epoch s>, "values": {name: number | null, ...}}`` (``null``
marks a dropout). Ticks are paced with a monotonic clock at ``rate_hz × speedup`` per second; a late
tick is published at once (no catch-up sleep, no skipped rows). Timestamps are simulated time: they start
at ``start_time`` (default: now) and advance by ``1 / rate_hz`` per row whatever the speed-up.

paho-mqtt is imported only when a broker is actually used (:class:`edgewatch.rig.clients.Publisher`);
:func:`publish_recordings` takes any object with paho's ``publish(topic, payload, qos)``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from edgewatch.data.recording import Recording
from edgewatch.errors import ConfigError
from edgewatch.sim.simulator import simulate

DEFAULT_TOPIC = "plant/{device}/sensors"
DEFAULT_LIVE_DURATION_S = 3600.0


class Publisher(Protocol):
    """The part of ``paho.mqtt.client.Client`` used here."""

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> Any: ...


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
    from edgewatch.rig.clients import Publisher

    publisher = Publisher(url, client_id=client_id)
    try:
        return publish_recordings(recordings, publisher, topic=topic, speedup=speedup, qos=qos, stop=stop)
    finally:
        publisher.close()
