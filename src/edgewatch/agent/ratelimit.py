"""Per-device rate limiting of scoring: a token bucket per device, fed by a monotonic clock.

Policy: a reading that arrives when its device's bucket is empty is **dropped and counted** (it is never
parsed or scored; the drops appear as ``rate_limited_total`` in the stats). The bucket holds one
second's worth of readings (at least one; ``burst`` overrides it), so a device publishing at or below
the rate is never touched and short bursts pass. Dropping rather than queueing keeps memory bounded
and the latency of the readings that are scored low; windowed models see the stream at the limited rate.

``rate_hz = 0`` means no limit. The agent sets the rate to ``min(max_rate_hz, thermal_rate_hz)`` while
the thermal guard throttles, and back to ``max_rate_hz`` afterwards.
"""

from __future__ import annotations

from collections import Counter


class RateLimiter:
    """Token buckets keyed by device id."""

    def __init__(self, rate_hz: float = 0.0, *, burst: float | None = None) -> None:
        self.dropped: Counter[str] = Counter()
        self._buckets: dict[str, tuple[float, float]] = {}  # device -> (tokens, last refill time)
        self._burst = burst
        self.rate_hz = 0.0
        self.set_rate(rate_hz)

    def set_rate(self, rate_hz: float) -> None:
        """Change the limit for every device (0: unlimited); buckets keep their current fill."""
        if rate_hz < 0:
            raise ValueError("rate_hz must be >= 0")
        self.rate_hz = float(rate_hz)
        self._capacity = self._burst if self._burst is not None else max(1.0, self.rate_hz)

    def allow(self, device: str, now: float) -> bool:
        """Take one token for ``device`` at monotonic time ``now``; False (and counted) when empty."""
        if self.rate_hz <= 0:
            return True
        tokens, last = self._buckets.get(device, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - last) * self.rate_hz)
        if tokens < 1.0:
            self._buckets[device] = (tokens, now)
            self.dropped[device] += 1
            return False
        self._buckets[device] = (tokens - 1.0, now)
        return True
