"""Input plausibility checks, applied per device before a reading is scored.

* **Clock** — a reading whose ``ts`` is more than ``CheckConfig.max_clock_skew_s`` (default 300 s) after
  its arrival time is rejected as ``future_timestamp``: one bad packet or a device with a wrong clock would
  otherwise become the device's last accepted time, and every later (true) reading would be refused as out
  of order. Late readings (``ts`` before arrival, e.g. a device catching up from its buffer) are accepted.
* **Order** — a reading whose ``ts`` is not after the device's last *accepted* reading is rejected:
  ``duplicate_timestamp`` when equal (typically an MQTT QoS 1 redelivery), ``out_of_order`` when
  earlier.
* **Range** — a value far outside the training range is rejected as ``out_of_range``: allowed is
  ``[min - R*span, max + R*span]`` with ``span = max(max - min, 6*std, 1e-9)`` from the bundle's
  ``feature_stats`` and ``R = CheckConfig.range_factor`` (default 10). The band is deliberately wide:
  real faults push values somewhat beyond the training range and those readings must be scored;
  only physically implausible values (unit mix-ups, sentinel values such as -9999) are rejected.
* **Stuck sensors** — feature ``j`` is *stuck* once its value has been identical for ``N_j``
  consecutive accepted readings, where ``N_j = max(min_stuck_run, ceil(stuck_run_factor *
  longest_constant_run_j))`` (defaults 30 and 2). Only features whose training data varied
  (``std > 0``) are watched, and the ``longest_constant_run`` term keeps sensors that are naturally
  constant for long stretches from false-alarming. A stuck feature recovers with the first reading
  whose value differs. Readings with missing (null) values do not advance or reset the runs.

Nothing here reads a clock or does I/O; the pipeline owns the per-device state objects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgewatch.bundle import FeatureStats
from edgewatch.core.state import StuckCounters
from edgewatch.core.timestamps import format_ts
from edgewatch.errors import ConfigError

CHECK_REASONS = ("out_of_order", "duplicate_timestamp", "out_of_range", "future_timestamp")
MIN_SPAN = 1e-9


@dataclass(frozen=True)
class CheckConfig:
    """Parameters of the plausibility checks (see the module docstring for the rules)."""

    range_factor: float = 10.0  # R; math.inf disables the range check
    min_stuck_run: int = 30
    stuck_run_factor: float = 2.0
    stuck_detection: bool = True
    max_clock_skew_s: float = 300.0  # how far a reading's ts may be after its arrival; inf disables

    def __post_init__(self) -> None:
        if not self.max_clock_skew_s > 0:
            message = "must be a positive number of seconds (or inf to disable)"
            raise ConfigError(message, field="checks.max_clock_skew_s")
        if not self.range_factor > 0:
            raise ConfigError("must be a positive number (or inf to disable)", field="checks.range_factor")
        if isinstance(self.min_stuck_run, bool) or not isinstance(self.min_stuck_run, int):
            raise ConfigError("must be an integer", field="checks.min_stuck_run")
        if self.min_stuck_run < 2:
            raise ConfigError("must be at least 2", field="checks.min_stuck_run")
        if not (math.isfinite(self.stuck_run_factor) and self.stuck_run_factor >= 0):
            raise ConfigError("must be a non-negative number", field="checks.stuck_run_factor")


def check_clock(ts: float, arrival_time: float, max_skew_s: float) -> str | None:
    """A message if ``ts`` is more than ``max_skew_s`` seconds after ``arrival_time``, else ``None``."""
    if ts <= arrival_time + max_skew_s:
        return None
    return (
        f"timestamp {format_ts(ts)} is {ts - arrival_time:.0f} s after the reading arrived "
        f"({format_ts(arrival_time)}); "
        f"the limit is checks.max_clock_skew_s = {max_skew_s:g} s (is the device's clock wrong?)"
    )


def check_order(ts: float, last_ts: float | None) -> tuple[str, str] | None:
    """Return ``(reason, message)`` if ``ts`` is not after ``last_ts``, else ``None``."""
    if last_ts is None or ts > last_ts:
        return None
    if ts == last_ts:
        return "duplicate_timestamp", f"timestamp {format_ts(ts)} repeats the last accepted reading"
    return (
        "out_of_order",
        f"timestamp {format_ts(ts)} is earlier than the last accepted reading ({format_ts(last_ts)})",
    )


class RangeCheck:
    """Vectorised out-of-range test against the training statistics (raw units)."""

    def __init__(self, stats: Sequence[FeatureStats], range_factor: float = 10.0) -> None:
        self.names = tuple(s.name for s in stats)
        lo = np.array([s.min for s in stats], dtype=np.float64)
        hi = np.array([s.max for s in stats], dtype=np.float64)
        std = np.array([s.std for s in stats], dtype=np.float64)
        span = np.maximum(np.maximum(hi - lo, 6.0 * std), MIN_SPAN)
        if math.isinf(range_factor):
            self.low = np.full_like(lo, -np.inf)
            self.high = np.full_like(hi, np.inf)
        else:
            self.low = lo - range_factor * span
            self.high = hi + range_factor * span

    def violations(self, x: np.ndarray) -> list[bool]:
        """For raw rows ``x`` of shape ``(n, F)``, whether each row has a value outside the band.

        NaN (missing) values never count as out of range.
        """
        if x.shape[0] == 0:
            return []
        flags: list[bool] = np.any((x < self.low) | (x > self.high), axis=1).tolist()
        return flags

    def explain(self, row: np.ndarray) -> tuple[str, str]:
        """``(feature, message)`` for the first out-of-range value of one raw row."""
        bad = np.flatnonzero((row < self.low) | (row > self.high))
        j = int(bad[0]) if bad.size else 0
        return self.names[j], (
            f"feature {self.names[j]!r}: value {float(row[j]):.6g} is far outside the training range "
            f"(plausible: {self.low[j]:.6g} .. {self.high[j]:.6g})"
        )


class StuckState:
    """Per-device run counters of the stuck-sensor check."""

    __slots__ = ("last", "n_stuck", "runs")

    def __init__(self, n_features: int) -> None:
        self.last: list[float] = [math.nan] * n_features
        self.runs: list[int] = [0] * n_features
        self.n_stuck = 0

    @property
    def active(self) -> bool:
        return self.n_stuck > 0

    def snapshot(self) -> StuckCounters:
        """What a restart must remember; a missing (NaN) last value is saved as ``None``."""
        last = tuple(float(v) if math.isfinite(v) else None for v in self.last)
        return StuckCounters(last=last, runs=tuple(self.runs), n_stuck=self.n_stuck)


_NO_CHANGE: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())


class StuckDetector:
    """Stuck-sensor rule for one manifest; state lives in one :class:`StuckState` per device."""

    def __init__(self, stats: Sequence[FeatureStats], config: CheckConfig) -> None:
        self.n_features = len(stats)
        self.run_needed = tuple(
            max(config.min_stuck_run, math.ceil(config.stuck_run_factor * s.longest_constant_run)) for s in stats
        )
        watched = [j for j, s in enumerate(stats) if s.std > 0] if config.stuck_detection else []
        self._watch = tuple((j, self.run_needed[j]) for j in watched)

    @property
    def watched(self) -> tuple[int, ...]:
        """Indices of the features that are checked for stuck values."""
        return tuple(j for j, _ in self._watch)

    def new_state(self) -> StuckState:
        return StuckState(self.n_features)

    def update(self, state: StuckState, values: Sequence[float]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Feed one complete reading; return ``(newly_stuck, recovered)`` feature indices."""
        last = state.last
        runs = state.runs
        started: list[int] | None = None
        ended: list[int] | None = None
        for j, needed in self._watch:
            v = values[j]
            if v == last[j]:
                run = runs[j] + 1
                runs[j] = run
                if run == needed:
                    if started is None:
                        started = []
                    started.append(j)
            else:
                if runs[j] >= needed:
                    if ended is None:
                        ended = []
                    ended.append(j)
                last[j] = v
                runs[j] = 1
        if started is None and ended is None:
            return _NO_CHANGE
        new = tuple(started or ())
        rec = tuple(ended or ())
        state.n_stuck += len(new) - len(rec)
        return new, rec

    def restore(self, counters: StuckCounters) -> StuckState:
        """The saved counters, made consistent with this detector's configuration: features it does not watch
        start afresh, and ``n_stuck`` is recounted rather than trusted (with another ``min_stuck_run`` or
        ``stuck_detection`` than the saving agent's, the saved count could disagree with the runs and leave
        the device "stuck" for good). :class:`ConfigError` unless there is one counter per feature."""
        for name, values in (("last", counters.last), ("runs", counters.runs)):
            if len(values) != self.n_features:
                raise ConfigError(f"must hold {self.n_features} items, one per feature", field=f"stuck.{name}")
        state = self.new_state()
        watched = set(self.watched)
        for j in watched:
            saved = counters.last[j]
            state.last[j] = math.nan if saved is None else saved
            state.runs[j] = counters.runs[j]
        state.n_stuck = len(self.stuck_features(state))
        return state

    def stuck_features(self, state: StuckState) -> tuple[int, ...]:
        """Indices of the features currently stuck for this device."""
        return tuple(j for j, needed in self._watch if state.runs[j] >= needed)
