"""The per-device alert state machine: turns a stream of (ts, score, threshold) into alert transitions.

Rules (all times are *reading* timestamps, never the wall clock; defaults in :class:`AlertConfig`):

* **Raise** — when the current reading is above the threshold (``score > T``) and at least ``k`` of
  the last ``n`` scored readings (this one included) were above it (default 5 of 10), or at once
  when it scores at least ``instant_ratio * T`` (default 4: a reading this far out is never noise
  the k-of-n rule should wait out — a one-sample spike), unless the device is in cool-down. The
  alert id is ``f"{device}-{ts_ms}"`` with ``ts_ms`` the raising reading's timestamp in whole
  milliseconds (rounded), so a replay and a live run of the same data give the same ids.
* **Clear** — after ``clear_after`` consecutive readings (default 10) strictly below the hysteresis
  threshold ``hysteresis * T`` (default 0.8 T), **and** once that calm has lasted the alert's off-delay.
  Any reading at or above ``hysteresis * T`` restarts the count.
* **Off-delay that follows the fault** (one fault, one alert) — an intermittent fault (cavitation, a
  loose contact, a valve that sticks now and then) calms down for a while and comes back; clearing at
  every calm stretch turns one fault into a train of raise/clear pairs (ISA-18.2's *chattering alarm*).
  While an alert is active, each calm stretch that ends with the deviation coming back is a *flicker*;
  the alert then clears only after a calm at least ``flicker_factor`` (default 2) times as long as the
  longest flicker it has seen, capped at ``max_off_delay_s`` (default 30 min). An alert whose deviation
  never came back clears after ``clear_after`` readings as before, so a fault that ends cleanly clears
  as fast as it did; ``flicker_factor = 0`` turns the rule off. Measured in docs/evaluation.md: it is
  what cut raises per fault event, where a longer fixed off-delay also delayed every clean clear.
* **Minimum duration** — an alert clears no sooner than ``min_active_s`` seconds (default 60) after it was
  raised. A fault that grows past the threshold (a misalignment developing) is raised on its first few
  readings above it, then dips under the hysteresis level for ``clear_after`` readings and comes back
  a minute later: cleared in between, that is two alerts for one fault (the demo's misalignment; most
  chattering alerts of the simulated pump). Held for a minute, the dip is a flicker and the alert stays
  one. It costs at most ``min_active_s`` of alert after a fault shorter than that (a spike), and nothing
  after a longer one. Measured in docs/evaluation.md. Not saved across a restart: an alert restored
  open may clear without waiting.
* **Cool-down** — for ``cooldown_s`` seconds (default 30) after a clear no new alert is raised.
  Readings keep entering the k-of-n window meanwhile, so an anomaly that persists through the
  cool-down raises at its first above-threshold reading after it.
* **Update** — while active, an ``update`` is emitted immediately when the severity rises, and
  otherwise when the reading is above ``T`` and at least ``update_interval_s`` (default 10 s) have
  passed since the last raised/update message.
* **Suppression while the machine is stopped** (ISA-18.2 "state-based" suppression) — with
  ``suppress_feature`` set (a run indicator such as the shaft speed or the motor current), no alert
  is *raised* while that feature reads below ``suppress_below``, nor for ``suppress_settle_s`` seconds
  (default 600) after it rises above it again: a machine that is stopped, or still warming up after a
  stop, is in states a model of normal operation has seen little of. Readings are still scored, an active
  alert still updates and clears, and readings keep entering the k-of-n window. The pipeline feeds the run
  indicator's value of every accepted reading to :meth:`AlertPolicy.note_run_state`. Without
  ``suppress_feature`` the pipeline uses the run indicator the bundle found in its training rows
  (manifest ``run_state``, :mod:`edgewatch.train.run_state`) unless ``suppress_from_bundle`` is false; a
  bundle without one suppresses nothing.
* **Severity** — from ``ratio = score / T`` (see :func:`severity_for`): ``minor`` below 2,
  ``major`` below 5, ``critical`` from 5. An alert's severity is the highest reached since it was
  raised; it never decreases while the alert is active.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgewatch.core.state import AlertState
from edgewatch.errors import ConfigError

SEVERITIES = ("minor", "major", "critical")
MAJOR_RATIO = 2.0  # score / threshold at which an alert becomes "major"
CRITICAL_RATIO = 5.0  # ... and "critical"
_RANK = {name: i for i, name in enumerate(SEVERITIES)}


def severity_for(score: float, threshold: float) -> str:
    """Severity of a score against a threshold: ``minor`` (ratio < 2), ``major`` (< 5), ``critical`` (>= 5).

    With a non-positive threshold the ratio is meaningless and every score above it is ``critical``.
    """
    ratio = score / threshold if threshold > 0 else math.inf
    if ratio < MAJOR_RATIO:
        return "minor"
    if ratio < CRITICAL_RATIO:
        return "major"
    return "critical"


def alert_id_for(device: str, ts: float) -> str:
    """Deterministic id of an alert raised by ``device`` at reading time ``ts`` (epoch seconds)."""
    return f"{device}-{round(ts * 1000)}"


@dataclass(frozen=True)
class AlertConfig:
    """Parameters of :class:`AlertPolicy` (see the module docstring for the rules)."""

    k: int = 5
    n: int = 10
    clear_after: int = 10
    hysteresis: float = 0.8
    cooldown_s: float = 30.0
    update_interval_s: float = 10.0
    instant_ratio: float = 4.0  # a reading scoring >= this x T raises at once; inf: never
    flicker_factor: float = 2.0  # clear only after a calm this many times the longest flicker; 0: off
    max_off_delay_s: float = 1800.0  # ... but never wait longer than this
    min_active_s: float = 60.0  # an alert clears no sooner than this after it was raised; 0: off
    suppress_feature: str = ""  # run indicator; "" = no suppression
    suppress_below: float = 0.0  # stopped while suppress_feature < this
    suppress_settle_s: float = 600.0  # ... and this long after it rises above it again
    # without suppress_feature: use the run indicator the bundle found in its training rows, if any
    suppress_from_bundle: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.suppress_from_bundle, bool):
            raise ConfigError("must be true or false", field="alerts.suppress_from_bundle")
        for name in ("k", "n", "clear_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError("must be a positive integer", field=f"alerts.{name}")
        if self.k > self.n:
            raise ConfigError(f"must not exceed alerts.n ({self.n})", field="alerts.k")
        if self.n > 64:
            raise ConfigError("must be at most 64", field="alerts.n")
        if not (0 < self.hysteresis <= 1):
            raise ConfigError("must be in (0, 1]", field="alerts.hysteresis")
        if isinstance(self.instant_ratio, bool) or not (
            isinstance(self.instant_ratio, int | float) and self.instant_ratio >= 1
        ):
            raise ConfigError("must be a number >= 1 (or inf to disable)", field="alerts.instant_ratio")
        if not math.isfinite(self.suppress_below):
            raise ConfigError("must be a finite number", field="alerts.suppress_below")
        for name in (
            "flicker_factor",
            "cooldown_s",
            "update_interval_s",
            "suppress_settle_s",
            "max_off_delay_s",
            "min_active_s",
        ):
            value = getattr(self, name)
            if not (0 <= value < math.inf):
                raise ConfigError("must be a finite number of seconds >= 0", field=f"alerts.{name}")


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """One transition of an alert: ``state`` is ``"raised"``, ``"update"`` or ``"cleared"``."""

    state: str
    alert_id: str
    severity: str


class AlertPolicy:
    """k-of-n raise, hysteresis clear, cool-down and rate-limited updates for one device."""

    __slots__ = (
        "_below",
        "_calm_since",
        "_history",
        "_last_emit",
        "_longest_flicker",
        "_mask",
        "_raised_at",
        "_suppress_until",
        "alert_id",
        "config",
        "cooldown_until",
        "device",
        "severity",
    )

    def __init__(self, device: str, config: AlertConfig | None = None) -> None:
        self.device = device
        self.config = config or AlertConfig()
        self._mask = (1 << self.config.n) - 1
        self._history = 0  # bit i set: the i-th most recent scored reading was above the threshold
        self._below = 0  # consecutive readings below the hysteresis threshold while active
        self._calm_since = math.inf  # ts of the first of those readings (inf: not calm)
        self._longest_flicker = 0.0  # longest calm stretch of the active alert that ended with a relapse
        self._raised_at = -math.inf  # ts of the active alert's raise (-inf: unknown, restored open)
        self._last_emit = -math.inf  # ts of the last raised/update message
        self.cooldown_until = -math.inf
        self._suppress_until = -math.inf  # inf while the machine is stopped
        self.alert_id: str | None = None
        self.severity: str | None = None

    @property
    def active(self) -> bool:
        return self.alert_id is not None

    @property
    def off_delay_s(self) -> float:
        """How long the active alert must stay calm to clear, beyond ``clear_after`` readings (see "Off-delay")."""
        return min(self.config.flicker_factor * self._longest_flicker, self.config.max_off_delay_s)

    def note_run_state(self, ts: float, value: float) -> None:
        """Feed the run indicator's value of an accepted reading (see "Suppression" above)."""
        if value < self.config.suppress_below:
            self._suppress_until = math.inf
        elif self._suppress_until == math.inf:  # the first running reading after a stop
            self._suppress_until = ts + self.config.suppress_settle_s

    def suppressed(self, ts: float) -> bool:
        """True while raising is suppressed: the machine is stopped or still settling after a stop."""
        return ts < self._suppress_until

    def observe(self, ts: float, score: float, threshold: float) -> AlertDecision | None:
        """Feed one scored reading (in timestamp order); return the transition it causes, if any."""
        above = score > threshold
        self._history = ((self._history << 1) | above) & self._mask
        if self.alert_id is None:
            if (
                above
                and ts >= self.cooldown_until
                and ts >= self._suppress_until
                and (self._history.bit_count() >= self.config.k or score >= self.config.instant_ratio * threshold)
            ):
                self.alert_id = alert_id_for(self.device, ts)
                self.severity = severity_for(score, threshold)
                self._below = 0
                self._calm_since = math.inf
                self._longest_flicker = 0.0
                self._last_emit = ts
                self._raised_at = ts
                return AlertDecision("raised", self.alert_id, self.severity)
            return None

        if score < self.config.hysteresis * threshold:
            if self._below == 0:
                self._calm_since = ts
            self._below += 1
            if (
                self._below >= self.config.clear_after
                and ts - self._calm_since >= self.off_delay_s
                and ts - self._raised_at >= self.config.min_active_s
            ):
                decision = AlertDecision("cleared", self.alert_id, self.severity or "minor")
                self.alert_id = None
                self.severity = None
                self._below = 0
                self._calm_since = math.inf
                self._longest_flicker = 0.0
                self._history = 0
                self.cooldown_until = ts + self.config.cooldown_s
                return decision
            return None
        if self._below:  # the deviation came back: a flicker
            self._longest_flicker = max(self._longest_flicker, ts - self._calm_since)
            self._calm_since = math.inf
        self._below = 0
        if not above:
            return None
        severity = severity_for(score, threshold)
        if _RANK[severity] > _RANK[self.severity or "minor"]:
            self.severity = severity
        elif ts - self._last_emit < self.config.update_interval_s:
            return None
        self._last_emit = ts
        return AlertDecision("update", self.alert_id, self.severity or severity)

    def snapshot(self) -> AlertState:
        """What a restart must remember (``-inf`` times are ``None``)."""
        return AlertState(
            alert_id=self.alert_id,
            severity=self.severity,  # type: ignore[arg-type]  # one of SEVERITIES
            history=self._history,
            below_run=self._below,
            calm_since=_saved(self._calm_since),
            longest_flicker_s=self._longest_flicker,
            last_emit_ts=_saved(self._last_emit),
            cooldown_until=_saved(self.cooldown_until),
            machine_stopped=self._suppress_until == math.inf,
            suppress_until=_saved(self._suppress_until),
        )

    @classmethod
    def restore(cls, device: str, state: AlertState, config: AlertConfig | None = None) -> AlertPolicy:
        """The policy of ``device`` as :meth:`snapshot` saved it, under ``config``."""
        policy = cls(device, config)
        policy.alert_id = state.alert_id
        policy.severity = state.severity if state.alert_id is not None else None
        policy._history = state.history & policy._mask
        policy._below = state.below_run
        policy._calm_since = _restored(state.calm_since, math.inf) if state.below_run else math.inf
        policy._longest_flicker = state.longest_flicker_s
        policy._last_emit = _restored(state.last_emit_ts)
        policy.cooldown_until = _restored(state.cooldown_until)
        policy._suppress_until = math.inf if state.machine_stopped else _restored(state.suppress_until)
        return policy


def _saved(ts: float) -> float | None:
    return None if math.isinf(ts) else ts


def _restored(ts: float | None, never: float = -math.inf) -> float:
    return never if ts is None else ts
