"""The agent's health: availability status, periodic statistics and the thermal guard.

Topics (``<id>`` is ``health.agent_id``):

* ``edgewatch/<id>/status`` (retained, QoS 1): ``online`` published on every accepted connection,
  ``offline`` set as the last will (the broker publishes it when the agent vanishes), ``stopped`` on a
  clean shutdown;
* ``edgewatch/<id>/stats`` (QoS 0, every ``stats_interval_s``): the JSON of :meth:`AgentStats.snapshot`;
* ``edgewatch/<id>/event`` (QoS 1, through the outbox): one JSON message per event an operator must see,
  e.g. ``{"event": "outbox_corrupt", "moved_to": ...}`` (:mod:`edgewatch.agent.recovery`);
* ``edgewatch/<id>/thermal`` (retained, QoS 1): ``{"state": "throttled"|"normal", ...}`` when the
  thermal guard changes state.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.agent.metrics import Histogram, Sample
from edgewatch.transports.base import OutMessage
from edgewatch.transports.topics import agent_topic

log = logging.getLogger("edgewatch.health")

ONLINE = b"online"
OFFLINE = b"offline"
STOPPED = b"stopped"


def status_topic(agent_id: str) -> str:
    return agent_topic(agent_id, "status")


def event_topic(agent_id: str) -> str:
    """Events an operator must see once (e.g. ``outbox_corrupt``), QoS 1 through the outbox."""
    return agent_topic(agent_id, "event")


def birth_message(agent_id: str) -> OutMessage:
    """``online``, retained: published by the transport after every accepted connection."""
    return OutMessage(status_topic(agent_id), ONLINE, 1, True)


def will_message(agent_id: str) -> OutMessage:
    """``offline``, retained: the broker publishes it when the agent's connection dies."""
    return OutMessage(status_topic(agent_id), OFFLINE, 1, True)


def stopped_message(agent_id: str) -> OutMessage:
    """``stopped``, retained: published by a clean shutdown (which suppresses the will)."""
    return OutMessage(status_topic(agent_id), STOPPED, 1, True)


class AgentStats:
    """Counters and latency samples of the scoring loop; thread-safe (the metrics server reads them).

    Latency is per reading, from MQTT arrival to the end of the batch that scored it (queueing included),
    kept for the last ``samples`` readings.
    """

    def __init__(self, samples: int = 2048) -> None:
        self._lock = threading.Lock()
        self._latency_ms: deque[float] = deque(maxlen=samples)
        self.latency_histogram = Histogram()  # every reading since start, for Prometheus (agent/metrics.py)
        self.readings_total = 0
        self.scored_total = 0
        self.rate_limited_total = 0
        self.rejected_total: Counter[str] = Counter()
        self.alerts_total: Counter[str] = Counter()
        self.sensor_faults_total = 0
        self.batches_total = 0
        self._window_start = time.monotonic()
        self._window_readings = 0

    def record_batch(self, arrival_times: list[float], done_wall: float) -> None:
        """One batch of readings handed to the pipeline; ``done_wall`` is ``time.time()`` after it."""
        with self._lock:
            self.batches_total += 1
            self.readings_total += len(arrival_times)
            self._window_readings += len(arrival_times)
            if len(arrival_times) < 16:
                recent = self._latency_ms
                histogram = self.latency_histogram
                counts, bounds, total = histogram.counts, histogram.bounds, 0.0
                for t in arrival_times:
                    x = done_wall - t
                    recent.append(x * 1000.0)
                    counts[bisect_left(bounds, x)] += 1
                    total += x
                histogram.total += total
            else:  # a larger batch: numpy per batch is cheaper than Python per reading
                latencies = done_wall - np.asarray(arrival_times, dtype=np.float64)
                self._latency_ms.extend((latencies * 1000.0).tolist())
                self.latency_histogram.observe_many(latencies)

    def record_event(self, kind: str, detail: str = "", count: int = 1) -> None:
        """``kind`` is ``scored``, ``rejected`` (detail: reason), ``alert`` (detail: state) or ``fault``;
        ``count`` such events (the loop counts a batch's scored readings in one call)."""
        with self._lock:
            if kind == "scored":
                self.scored_total += count
            elif kind == "rejected":
                self.rejected_total[detail] += count
            elif kind == "alert":
                self.alerts_total[detail] += count
            elif kind == "fault":
                self.sensor_faults_total += count

    def record_rate_limited(self, count: int = 1) -> None:
        with self._lock:
            self.rate_limited_total += count

    def latency_samples(self) -> list[Sample]:
        """The arrival-to-scored latency of every reading since start as a Prometheus histogram."""
        with self._lock:
            return self.latency_histogram.samples(
                "edgewatch_latency_seconds", "Arrival-to-scored latency of each reading (queueing included)."
            )

    def latency_ms(self) -> tuple[float | None, float | None]:
        """(p50, p99) of the recent per-reading latencies in milliseconds, or (None, None)."""
        with self._lock:
            samples = np.fromiter(self._latency_ms, dtype=np.float64)
        if samples.size == 0:
            return None, None
        p50, p99 = percentiles(samples, (50.0, 99.0))
        return round(float(p50), 3), round(float(p99), 3)

    def snapshot(self, **gauges: Any) -> dict[str, Any]:
        """Stats since the previous snapshot (rates) and totals, plus the given gauges, as JSON-able data."""
        now = time.monotonic()
        p50, p99 = self.latency_ms()
        with self._lock:
            elapsed = max(now - self._window_start, 1e-9)
            rate = self._window_readings / elapsed
            self._window_start, self._window_readings = now, 0
            data = {
                "ts": round(time.time(), 3),
                "readings_per_s": round(rate, 3),
                "latency_ms_p50": p50,
                "latency_ms_p99": p99,
                "readings_total": self.readings_total,
                "scored_total": self.scored_total,
                "rate_limited_total": self.rate_limited_total,
                "rejected_total": dict(self.rejected_total),
                "alerts_total": dict(self.alerts_total),
                "sensor_faults_total": self.sensor_faults_total,
            }
        data.update(gauges)
        return data


@dataclass(frozen=True)
class ThermalChange:
    """The guard switched state: ``throttled`` True (too hot) or False (cooled down)."""

    throttled: bool
    temperature_c: float
    limit_c: float
    rate_hz: float

    def to_json(self) -> dict[str, Any]:
        return {
            "state": "throttled" if self.throttled else "normal",
            "temperature_c": round(self.temperature_c, 2),
            "limit_c": self.limit_c,
            "rate_hz": self.rate_hz if self.throttled else None,  # None: back to the configured rate
        }


def percentiles(samples: np.ndarray, q: tuple[float, ...]) -> np.ndarray:
    """``np.percentile(samples, q)`` for a non-empty 1-d float array of finite values, by numpy's own steps
    for its default (linear) method, so the same numbers: ``np.percentile`` itself imports ``numpy.ma`` on its
    first call (numpy 2.x, through ``np.unique``), 1.2 MB of the agent's memory for two numbers a second. The
    samples are sorted by Python's ``sorted`` (the same order for finite floats): ``np.sort`` of float64 runs
    numpy's SIMD sorting code, which nothing else on the agent's run path uses -- 0.3-0.4 MB of numpy's code
    pages resident for a sort of at most a few thousand numbers once a second."""
    ordered = np.array(sorted(np.asarray(samples, dtype=np.float64).tolist()), dtype=np.float64)
    last = ordered.size - 1
    virtual = last * np.true_divide(np.asarray(q, dtype=np.float64), 100)
    below = np.floor(virtual)
    above = below + 1
    beyond = virtual >= last  # numpy takes the largest value there
    below[beyond] = -1
    above[beyond] = -1
    low, high = ordered[below.astype(np.intp)], ordered[above.astype(np.intp)]
    gamma = virtual - below.astype(np.intp)
    diff = high - low
    result: np.ndarray = low + diff * gamma
    np.subtract(high, diff * (1 - gamma), out=result, where=gamma >= 0.5)
    return result


class ThermalGuard:
    """Watches the CPU temperature; above ``limit_c``, scoring drops to ``throttled_rate_hz`` per device.

    The sysfs file holds millidegrees Celsius (``48312``); a value below 1000 is taken as whole degrees
    (some boards' drivers). Throttling ends once the temperature is below ``limit_c - hysteresis_c``.
    A missing or unreadable file disables the guard (logged once); ``temperature_c`` is then None.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        limit_c: float,
        hysteresis_c: float,
        throttled_rate_hz: float,
        read_interval_s: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.limit_c = limit_c
        self.hysteresis_c = hysteresis_c
        self.throttled_rate_hz = throttled_rate_hz
        self.read_interval_s = read_interval_s
        self.throttled = False
        self.temperature_c: float | None = None
        self._next_read = float("-inf")
        self._warned = False

    def read_celsius(self) -> float | None:
        """The current temperature, or None when the file is missing or unreadable."""
        try:
            value = float(self.path.read_text().strip())
        except (OSError, ValueError) as exc:
            if not self._warned:
                log.warning("cannot read the CPU temperature from %s (%s); thermal guard off", self.path, exc)
                self._warned = True
            return None
        self._warned = False
        return value / 1000.0 if abs(value) >= 1000 else value

    def update(self, now: float) -> ThermalChange | None:
        """Read the temperature (at most every ``read_interval_s`` of monotonic ``now``); return a change."""
        if now < self._next_read:
            return None
        self._next_read = now + self.read_interval_s
        temp = self.read_celsius()
        self.temperature_c = temp
        if temp is None:
            return None
        if not self.throttled and temp > self.limit_c:
            self.throttled = True
            log.warning(
                "CPU at %.1f °C (limit %.1f °C): scoring at most %.3g readings/s per device",
                temp,
                self.limit_c,
                self.throttled_rate_hz,
            )
            return ThermalChange(True, temp, self.limit_c, self.throttled_rate_hz)
        if self.throttled and temp < self.limit_c - self.hysteresis_c:
            self.throttled = False
            log.warning("CPU back to %.1f °C: full scoring rate restored", temp)
            return ThermalChange(False, temp, self.limit_c, self.throttled_rate_hz)
        return None
