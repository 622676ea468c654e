"""Decision thresholds on the device: ``score > threshold.value`` is an anomalous reading.

:class:`FixedThreshold` keeps the bundle's calibrated value ``T0``. It is the default
(``ThresholdConfig.mode = "fixed"``): an adaptive threshold also learns *slow faults* — a sensor that
drifts or steps by less than the threshold raises the normal level it tracks, and the threshold walks
away from it (measured in docs/evaluation.md: it lost offset and drift events the fixed threshold caught).

:class:`AdaptiveThreshold` follows slow drift of the *normal* score level (sensor ageing, seasonal
load) without learning the anomalies it should detect:

* ``level`` is a streaming estimate of the median normal score, started at ``baseline`` and
  updated by fixed-step stochastic approximation (the "sign" rule of Robbins-Monro quantile
  tracking)::

      level += step   if score > level
      level -= step   if score < level        step = rate * baseline   (rate default 0.001)

  Only the *sign* of ``score - level`` matters, so one extreme score moves the level no more than
  a normal one; the level can move at most ``rate * baseline`` per learned score (about 50 % of
  the baseline per 500 scores), and in a stationary stream it jitters by a few percent.
* A score is learned only if it is below the current threshold **and** the device has no active
  alert (the pipeline passes ``alert_active``). Censoring at the threshold biases the median
  estimate down by a negligible amount when the threshold is a high quantile.
* During warm-up (the first ``warmup`` learned scores, default 300) the value stays ``T0``;
  afterwards ``value = T0 * clip(level / baseline, floor, ceiling)`` (defaults 0.8 and 1.5), so the
  threshold can never drift below 0.8 T0 or above 1.5 T0 however the stream behaves.
* ``baseline`` is the median validation score written by training (the artifact's
  ``threshold.validation_median``); where it is not positive it falls back to
  ``T0 / fallback_ratio`` (default 4, i.e. the median normal score is assumed to be a quarter of
  the threshold). A non-positive ``T0`` cannot be scaled: the threshold then stays fixed.

A restart saves and restores the level (:mod:`edgewatch.core.state`) when it was learned against the
same calibrated value; the value is recomputed from it with the configuration in force. A fixed threshold
is never taken from the saved state (:func:`keeps_saved_threshold`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from edgewatch.core.state import ThresholdState
from edgewatch.errors import ConfigError

if TYPE_CHECKING:
    from edgewatch.bundle import Threshold

THRESHOLD_MODES = ("adaptive", "fixed")


@dataclass(frozen=True)
class ThresholdConfig:
    """Parameters of the device threshold (see the module docstring for the rule)."""

    mode: str = "fixed"  # "fixed" or "adaptive"
    warmup: int = 300
    rate: float = 0.001
    floor: float = 0.8
    ceiling: float = 1.5
    fallback_ratio: float = 4.0
    sustained: bool = True  # judge the bundle's sustained-deviation level too, when it has one
    drift: str = "auto"  # drift baseline (core/drift.py): "auto" (bundles without a sustained channel), "on", "off"
    drift_tau_s: float = 600.0  # time constant of the drift baseline
    drift_learn_below: float = 0.5  # learn only readings judged below this x the threshold
    recovering_ratio: float = 0.5  # a sensor whose fast average fell below this x its slow one is on its
    # way back: left out of the sustained level (core/sustained.py); 0: off

    def __post_init__(self) -> None:
        if not isinstance(self.sustained, bool):
            raise ConfigError("must be true or false", field="thresholds.sustained")
        if self.drift not in ("auto", "on", "off"):
            raise ConfigError("must be one of auto, on, off", field="thresholds.drift")
        if isinstance(self.drift_tau_s, bool) or not (0 < self.drift_tau_s < math.inf):
            raise ConfigError("must be a positive finite number of seconds", field="thresholds.drift_tau_s")
        if isinstance(self.drift_learn_below, bool) or not (0 < self.drift_learn_below <= 1):
            raise ConfigError("must be in (0, 1]", field="thresholds.drift_learn_below")
        if isinstance(self.recovering_ratio, bool) or not (0 <= self.recovering_ratio < 1):
            raise ConfigError("must be in [0, 1)", field="thresholds.recovering_ratio")
        if self.mode not in THRESHOLD_MODES:
            raise ConfigError(f"must be one of {', '.join(THRESHOLD_MODES)}", field="thresholds.mode")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ConfigError("must be a non-negative integer", field="thresholds.warmup")
        if not (0 < self.rate < 1):
            raise ConfigError("must be between 0 and 1 (exclusive)", field="thresholds.rate")
        if not (0 < self.floor <= 1):
            raise ConfigError("must be in (0, 1]", field="thresholds.floor")
        if not (1 <= self.ceiling < math.inf):
            raise ConfigError("must be a finite number >= 1", field="thresholds.ceiling")
        if not (1 <= self.fallback_ratio < math.inf):
            raise ConfigError("must be a finite number >= 1", field="thresholds.fallback_ratio")


class DeviceThreshold(Protocol):
    """The interface the pipeline uses: read ``value``, then ``observe`` the score."""

    @property
    def value(self) -> float: ...

    def observe(self, score: float, *, alert_active: bool) -> bool: ...

    def snapshot(self) -> ThresholdState: ...


class FixedThreshold:
    """The calibrated threshold, unchanged."""

    __slots__ = ("_value",)
    kind = "fixed"

    def __init__(self, t0: float) -> None:
        self._value = _finite(t0, "threshold.value")

    @property
    def value(self) -> float:
        return self._value

    def observe(self, score: float, *, alert_active: bool) -> bool:
        """No learning; returns ``False``."""
        return False

    def snapshot(self) -> ThresholdState:
        return ThresholdState(kind="fixed", t0=self._value)


class AdaptiveThreshold:
    """Calibrated threshold scaled by the drift of the median normal score (see module docstring)."""

    __slots__ = ("_step", "_value", "baseline", "config", "level", "n_learned", "t0")
    kind = "adaptive"

    def __init__(self, t0: float, *, baseline: float | None = None, config: ThresholdConfig | None = None) -> None:
        self.config = config or ThresholdConfig()
        self.t0 = _finite(t0, "threshold.value")
        self.baseline = resolve_baseline(self.t0, baseline, self.config)
        self.level = self.baseline
        self.n_learned = 0
        self._step = self.config.rate * self.baseline
        self._value = self.t0

    @property
    def value(self) -> float:
        """The current threshold: ``score > value`` is anomalous."""
        return self._value

    @property
    def warmed_up(self) -> bool:
        return self.n_learned >= self.config.warmup

    def observe(self, score: float, *, alert_active: bool) -> bool:
        """Learn from ``score`` if it is normal (below the threshold, no active alert); return if it was."""
        if alert_active or not score < self._value or self.t0 <= 0:
            return False
        level = self.level
        if score > level:
            level += self._step
        elif score < level:
            level = max(level - self._step, self._step)
        self.level = level
        self.n_learned += 1
        if self.n_learned >= self.config.warmup:
            self._value = self._scaled(level)
        return True

    def _scaled(self, level: float) -> float:
        cfg = self.config
        ratio = min(max(level / self.baseline, cfg.floor), cfg.ceiling)
        return self.t0 * ratio

    def snapshot(self) -> ThresholdState:
        return ThresholdState(
            "adaptive", t0=self.t0, baseline=self.baseline, level=self.level, n_learned=self.n_learned
        )

    def _restore(self, level: float, n_learned: int) -> None:
        self.level = level
        self.n_learned = n_learned
        if n_learned >= self.config.warmup and self.t0 > 0:
            self._value = self._scaled(level)


def resolve_baseline(t0: float, baseline: float | None, config: ThresholdConfig) -> float:
    """The median normal score to compare the level with (see the module docstring for the fallback)."""
    if baseline is not None and math.isfinite(baseline) and baseline > 0:
        return float(baseline)
    fallback = abs(t0) / config.fallback_ratio
    return fallback if fallback > 0 else 1.0


def make_threshold(calibrated: Threshold, config: ThresholdConfig | None = None) -> FixedThreshold | AdaptiveThreshold:
    """Build the configured threshold from a model's calibrated one (its value and validation median)."""
    config = config or ThresholdConfig()
    if config.mode == "fixed":
        return FixedThreshold(calibrated.value)
    return AdaptiveThreshold(calibrated.value, baseline=calibrated.validation_median, config=config)


def keeps_saved_threshold(state: ThresholdState, calibrated: Threshold, config: ThresholdConfig) -> bool:
    """True when a restart keeps the saved threshold: an adaptive one, learned against this same calibrated
    value. A fixed threshold is always the bundle's (the saved ``t0`` may be of an older calibration, or
    damaged), and a level learned against another calibration means nothing for this one."""
    return config.mode == "adaptive" and state.kind == "adaptive" and state.t0 == calibrated.value


def restore_threshold(
    state: ThresholdState, calibrated: Threshold, config: ThresholdConfig
) -> FixedThreshold | AdaptiveThreshold:
    """The saved threshold under ``config`` (its value recomputed from the saved level) when
    :func:`keeps_saved_threshold`, else a fresh one from the ``calibrated`` threshold."""
    if not keeps_saved_threshold(state, calibrated, config):
        return make_threshold(calibrated, config)
    threshold = AdaptiveThreshold(state.t0, baseline=state.baseline, config=config)
    assert state.level is not None and state.n_learned is not None  # ThresholdState checks an adaptive one
    threshold._restore(state.level, state.n_learned)
    return threshold


def _finite(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ConfigError(f"must be a finite number, got {value!r}", field=field)
    return float(value)
