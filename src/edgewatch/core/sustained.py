"""The sustained-deviation channel: a slow view of the per-sensor errors, for faults too small for one reading.

A sensor that drifts, or steps by less than its normal scatter, stays under the per-reading threshold for
every single reading, although it is off by the same amount, in the same direction, for many minutes. The
channel keeps, per device, an exponential moving average of each feature's (weighted) error with time
constant ``tau_s`` seconds of *reading* time, and its level is the largest of them::

    a_i      = 1 - exp(-(ts_i - ts_prev) / tau_s)        # first reading: the average starts at its errors
    smooth_i = smooth_prev + a_i * (errors_i - smooth_prev)
    level_i  = max_j smooth_i[j]                          # higher = more anomalous

Averaging cancels the reading-to-reading noise, so normal levels are far less spread than single scores and
a threshold calibrated on them (the bundle's ``threshold.sustained``, from the same held-out rows and rule
as the per-reading threshold) catches a shift that no single reading shows. Only readings that are scored
update it. The average restarts from the next reading's errors after a gap of more than ``tau_s``, and it
is **warm** (judged at all) only once it has averaged ``tau_s`` seconds of readings since it (re)started:
a fresh average is one reading's noisy errors, which the lower sustained threshold would mistake for a shift.

The pipeline compares ``level / sustained_threshold`` with ``score / threshold`` and hands the alert policy
the larger of the two (see :mod:`edgewatch.core.pipeline`). Pure numpy; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


class SustainedLevel:
    """Per-device exponential moving average of the per-feature errors (see the module docstring)."""

    __slots__ = ("last_ts", "since", "smooth", "tau_s")

    def __init__(self, tau_s: float) -> None:
        if not (tau_s > 0 and math.isfinite(tau_s)):
            raise ValueError(f"tau_s must be a positive number of seconds, got {tau_s}")
        self.tau_s = float(tau_s)
        self.smooth: np.ndarray | None = None
        self.last_ts: float | None = None
        self.since: float | None = None  # ts of the reading the current average started from

    def update(self, ts: float, feature_errors: np.ndarray) -> float | None:
        """Add one scored reading's per-feature errors; return the new level (max over features), or None
        while the average is not warm yet."""
        errors = np.asarray(feature_errors, dtype=np.float64)
        smooth, last = self.smooth, self.last_ts
        if smooth is None or last is None or smooth.shape != errors.shape or ts - last > self.tau_s:
            smooth = errors.copy()
            self.since = float(ts)
        else:
            alpha = -math.expm1(-max(ts - last, 0.0) / self.tau_s)
            smooth += alpha * (errors - smooth)
        self.smooth, self.last_ts = smooth, float(ts)
        if self.since is None or ts - self.since < self.tau_s:
            return None
        return float(smooth.max())

    def to_state(self) -> dict[str, Any]:
        return {
            "tau_s": self.tau_s,
            "last_ts": self.last_ts,
            "since": self.since,
            "smooth": None if self.smooth is None else [float(v) for v in self.smooth],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], tau_s: float, n_features: int) -> SustainedLevel:
        """Restore a saved average; one saved with another ``tau_s`` or feature count starts afresh."""
        level = cls(tau_s)
        smooth, last, since = state.get("smooth"), state.get("last_ts"), state.get("since")
        if (
            isinstance(smooth, list)
            and len(smooth) == n_features
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in (last, since))
            and float(state.get("tau_s", -1.0)) == level.tau_s
        ):
            values = np.asarray(smooth, dtype=np.float64)
            if np.isfinite(values).all() and (values >= 0).all() and math.isfinite(last) and since <= last:
                level.smooth, level.last_ts, level.since = values, float(last), float(since)
        return level


def sustained_levels(feature_errors: np.ndarray, timestamps: np.ndarray, tau_s: float) -> np.ndarray:
    """The channel's level for each row of one time-ordered run of scored rows, NaN while not warm
    (training-side calibration; the device computes the same one reading at a time with
    :class:`SustainedLevel`)."""
    errors = np.asarray(feature_errors, dtype=np.float64)
    ts = np.asarray(timestamps, dtype=np.float64)
    if errors.ndim != 2 or ts.shape != (errors.shape[0],):
        raise ValueError(f"expected errors (n, F) and timestamps (n,), got {errors.shape} and {ts.shape}")
    level = SustainedLevel(tau_s)
    out = np.full(errors.shape[0], np.nan)
    for i, (t, row) in enumerate(zip(ts.tolist(), errors, strict=True)):
        value = level.update(t, row)
        if value is not None:
            out[i] = value
    return out
