"""The sustained-deviation channel: a slow view of the per-sensor errors, for faults too small for one reading.

A sensor that drifts, or steps by less than its normal scatter, stays under the per-reading threshold for
every single reading, although it is off by the same amount, in the same direction, for many minutes. The
channel keeps, per device, two exponential moving averages of each feature's (weighted) error over *reading*
time — a slow one (time constant ``tau_s``, 900 s by default) and a fast one (``fast_tau_s``, 120 s) — and
its level is the largest over features of the smaller of the two::

    a_i      = 1 - exp(-(ts_i - ts_prev) / tau)           # per average; the first reading starts both
    avg_i    = avg_prev + a_i * (errors_i - avg_prev)
    level_i  = max_j min(slow_i[j], fast_i[j])             # higher = more anomalous

The slow average cancels the reading-to-reading noise, so normal levels are far less spread than single
scores and a threshold calibrated on them (the bundle's ``threshold.sustained``, from the same held-out rows
and rule as the per-reading threshold) catches a shift that no single reading shows. The fast one ends it:
once the shift is over, the fast average falls within minutes, while the slow one alone would keep an alert
up for up to an hour after a large fault. A sensor counts as shifted only while both are high. A shorter
fast average (30 s, 60 s) clears alerts sooner after a fault but lets the noise of a sensor left a little
off by a repair cross the threshold again: on the simulated pump it gave more false alarms and
chattering alerts than 120 s (docs/evaluation.md), so 120 s is the default.

**Recovering sensors.** After a fault, a slow sensor (a bearing temperature) lags back to normal over many
minutes: it is still off, but on its way back. :meth:`SustainedLevel.level` with ``recovering_ratio`` leaves
out each sensor whose fast average has fallen below that share (0.5 by default) of its slow one — an error
falling fast against its own recent past — so an alert clears, and stays cleared, when what is left is a
sensor returning, not a fault. A fault that persists keeps fast >= slow and is never left out;
one that grows even less so.

Only readings that are scored update it. The averages restart from the next reading's errors after a gap of
more than ``tau_s``, and the level is **warm** (judged at all) only once ``tau_s`` seconds of readings have
been averaged since they (re)started: a fresh average is one reading's noisy errors, which the lower
sustained threshold would mistake for a shift.

Readings taken while the device suppresses alerts (the machine stopped, or settling after a restart:
:mod:`edgewatch.core.alerts`) **restart** the averages (:meth:`SustainedLevel.restart`), so the channel
judges again only ``tau_s`` after the settle time ends. Averaging those readings in let the stop and the
restart's transients linger in the slow average past the settle time and raise an alert exactly when it
ended (docs/evaluation.md); holding the pre-stop averages instead still carried the ramp into the stop in
the fast average.
"""

from __future__ import annotations

import math

import numpy as np

from edgewatch.core.state import SustainedState

DEFAULT_TAU_S = 900.0
DEFAULT_FAST_TAU_S = 120.0


def _check_tau(name: str, value: float) -> float:
    if isinstance(value, bool) or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive number of seconds, got {value}")
    return float(value)


class SustainedLevel:
    """Per-device slow and fast moving averages of the per-feature errors (see the module docstring).
    ``fast_tau_s=None`` keeps the slow average only (level = its maximum).

    Both averages live in one ``(2, F)`` array (``(1, F)`` without the fast one), so a reading costs a
    handful of numpy operations whatever the number of averages; the smoothing factors are recomputed only
    when the interval between readings changes.
    """

    __slots__ = ("_alpha", "_avg", "_dt", "_taus", "fast_tau_s", "last_ts", "since", "tau_s")

    def __init__(self, tau_s: float, fast_tau_s: float | None = DEFAULT_FAST_TAU_S) -> None:
        self.tau_s = _check_tau("tau_s", tau_s)
        self.fast_tau_s = None if fast_tau_s is None else _check_tau("fast_tau_s", fast_tau_s)
        taus = [self.tau_s] if self.fast_tau_s is None else [self.tau_s, self.fast_tau_s]
        self._taus = np.array(taus, dtype=np.float64)[:, None]
        self._avg: np.ndarray | None = None  # (1 or 2, F): the slow average, then the fast one
        self._dt = math.nan  # interval the cached smoothing factors are for
        self._alpha = np.zeros_like(self._taus)
        self.last_ts: float | None = None
        self.since: float | None = None  # ts of the reading the current averages started from

    @property
    def smooth(self) -> np.ndarray | None:
        """The slow average per feature (None before the first reading)."""
        return None if self._avg is None else self._avg[0]

    @property
    def fast(self) -> np.ndarray | None:
        """The fast average per feature (None before the first reading or without one)."""
        return None if self._avg is None or self._avg.shape[0] < 2 else self._avg[1]

    def update(self, ts: float, feature_errors: np.ndarray) -> float | None:
        """Add one scored reading's per-feature errors; return the new level (max over features), or None
        while the averages are not warm yet."""
        errors = np.asarray(feature_errors, dtype=np.float64)
        avg, last = self._avg, self.last_ts
        if avg is None or last is None or avg.shape[1:] != errors.shape or ts - last > self.tau_s:
            avg = self._avg = np.tile(errors, (self._taus.shape[0], 1))
            self.since = float(ts)
        else:
            dt = ts - last if ts > last else 0.0
            if dt != self._dt:
                self._alpha = -np.expm1(-dt / self._taus)
                self._dt = dt
            avg += self._alpha * (errors - avg)
        self.last_ts = float(ts)
        if self.since is None or ts - self.since < self.tau_s:
            return None
        if avg.shape[0] == 1:
            return float(avg[0].max())
        return float(np.minimum(avg[0], avg[1]).max())  # ~2x faster than avg.min(axis=0) for 16 values

    def level(self, recovering_ratio: float = 0.0) -> float:
        """The current level (as :meth:`update` returned it), leaving out the sensors that are recovering:
        fast average below ``recovering_ratio`` times the slow one (0: none left out; 0.0 when all are)."""
        if self._avg is None:
            raise ValueError("no reading averaged yet")
        recovering = self.recovering(recovering_ratio) if recovering_ratio > 0 else None
        if recovering is None:
            return float(self._avg.min(axis=0).max())
        kept = np.where(recovering, 0.0, self._avg.min(axis=0))
        return float(kept.max())

    def recovering(self, recovering_ratio: float) -> np.ndarray | None:
        """Per feature: is it recovering (fast average below ``recovering_ratio`` times the slow one)? None
        before the first reading or without a fast average."""
        if self._avg is None or self._avg.shape[0] < 2:
            return None
        mask: np.ndarray = self._avg[1] < recovering_ratio * self._avg[0]
        return mask

    def restart(self) -> None:
        """Forget the averages (a reading the device does not judge): the next update starts them afresh,
        and the level is judged again once ``tau_s`` seconds of readings are averaged."""
        self._avg = None
        self.last_ts = None
        self.since = None

    def per_feature(self) -> np.ndarray:
        """Each feature's current contribution to the level (the smaller of its two averages)."""
        if self._avg is None:
            raise ValueError("no reading averaged yet")
        least: np.ndarray = self._avg.min(axis=0)
        return least

    def snapshot(self) -> SustainedState | None:
        """What a restart must remember (None before the first reading)."""
        if self._avg is None or self.last_ts is None or self.since is None:
            return None
        fast = self.fast
        return SustainedState(
            tau_s=self.tau_s,
            fast_tau_s=self.fast_tau_s,
            last_ts=self.last_ts,
            since=self.since,
            smooth=tuple(self._avg[0].tolist()),
            fast=None if fast is None else tuple(fast.tolist()),
        )

    @classmethod
    def restore(
        cls, state: SustainedState | None, tau_s: float, n_features: int, fast_tau_s: float | None
    ) -> SustainedLevel:
        """Saved averages; averages saved with other time constants or another feature count start afresh."""
        level = cls(tau_s, fast_tau_s)
        if state is None or (state.tau_s, state.fast_tau_s) != (level.tau_s, level.fast_tau_s):
            return level
        averages = [state.smooth] if state.fast is None else [state.smooth, state.fast]
        usable = all(len(a) == n_features and all(math.isfinite(v) and v >= 0 for v in a) for a in averages)
        if not usable or len(averages) != level._taus.shape[0] or state.since > state.last_ts:
            return level
        level._avg = np.array(averages, dtype=np.float64)
        level.last_ts, level.since = state.last_ts, state.since
        return level


def sustained_levels(
    feature_errors: np.ndarray, timestamps: np.ndarray, tau_s: float, fast_tau_s: float | None = DEFAULT_FAST_TAU_S
) -> np.ndarray:
    """The channel's level for each row of one time-ordered run of scored rows, NaN while not warm
    (training-side calibration; the device computes the same one reading at a time with
    :class:`SustainedLevel`)."""
    errors = np.asarray(feature_errors, dtype=np.float64)
    ts = np.asarray(timestamps, dtype=np.float64)
    if errors.ndim != 2 or ts.shape != (errors.shape[0],):
        raise ValueError(f"expected errors (n, F) and timestamps (n,), got {errors.shape} and {ts.shape}")
    level = SustainedLevel(tau_s, fast_tau_s)
    out = np.full(errors.shape[0], np.nan)
    for i, (t, row) in enumerate(zip(ts.tolist(), errors, strict=True)):
        value = level.update(t, row)
        if value is not None:
            out[i] = value
    return out
