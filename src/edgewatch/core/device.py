"""Per-device state of the pipeline, and its JSON snapshot for restarts.

A snapshot holds, per device, the adaptive threshold, the alert state, the last accepted
timestamp (so an MQTT QoS 1 redelivery after a restart is still a duplicate), the stuck-sensor run
counters, the names of the sensors currently reporting null (so a sensor reported stuck or
missing before a restart still gets its ``recovered`` event, and a stuck sensor is not scored
again meanwhile) and, for bundles with a sustained-deviation channel, its moving averages. Windows
are not saved: they rebuild from the next readings.

Per device (``version`` 1)::

    {"last_ts": float | null, "threshold": {...}, "alert": {...},
     "stuck": {"last": [float | null, ...], "runs": [int, ...], "n_stuck": int},
     "missing": [sensor name, ...],
     "sustained": {"tau_s": float, "fast_tau_s": float | null, "last_ts": float | null,
                   "since": float | null, "smooth": [float, ...] | null, "fast": [float, ...] | null}}  # optional

``stuck`` holds one ``last``/``runs`` item per model feature (``null``: no value seen yet, as
JSON has no NaN). ``stuck``, ``missing`` and ``sustained`` were added without a version bump: a snapshot
without them (older agents) restores with fresh stuck/missing tracking, and older agents ignore
them. On restore ``n_stuck`` is recounted from ``runs`` with the current check configuration, and
the counters of features the current configuration does not watch are reset.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from edgewatch.core.alerts import AlertConfig, AlertPolicy
from edgewatch.core.checks import StuckDetector, StuckState
from edgewatch.core.sustained import SustainedLevel
from edgewatch.core.thresholds import AdaptiveThreshold, FixedThreshold, ThresholdConfig, threshold_from_state
from edgewatch.errors import ConfigError

STATE_VERSION = 1

DeviceThreshold = FixedThreshold | AdaptiveThreshold


class DeviceState:
    """Everything the pipeline remembers about one device."""

    __slots__ = ("alert", "history", "last_ts", "missing", "name", "recent", "stuck", "sustained", "threshold")

    def __init__(
        self,
        name: str,
        threshold: DeviceThreshold,
        alert: AlertPolicy,
        stuck: StuckState,
        sustained: SustainedLevel | None = None,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.alert = alert
        self.stuck = stuck
        self.sustained = sustained  # None: the bundle has no sustained-deviation channel
        self.last_ts: float | None = None  # ts of the last accepted reading
        self.missing: tuple[str, ...] = ()  # sensors currently reporting null
        self.history: np.ndarray | None = None  # last window-1 scaled rows (window > 1 only)
        self.recent: list[int] | None = None  # pipeline batch-local: pool rows of the current window

    def to_state(self) -> dict[str, Any]:
        state = {
            "last_ts": self.last_ts,
            "threshold": self.threshold.to_state(),
            "alert": self.alert.to_state(),
            "stuck": self.stuck.to_state(),
            "missing": list(self.missing),
        }
        if self.sustained is not None:
            state["sustained"] = self.sustained.to_state()
        return state


def snapshot(devices: Mapping[str, DeviceState], model_id: str) -> dict[str, Any]:
    """A JSON-safe snapshot of every device's persistent state."""
    return {
        "version": STATE_VERSION,
        "model_id": model_id,
        "devices": {name: dev.to_state() for name, dev in devices.items()},
    }


def restore_devices(
    state: Mapping[str, Any],
    *,
    model_id: str,
    threshold_config: ThresholdConfig,
    alert_config: AlertConfig,
    new_threshold: Callable[[], DeviceThreshold],
    stuck_detector: StuckDetector,
    features: Sequence[str],
    sustained_taus: tuple[float, float | None] | None = None,
) -> dict[str, DeviceState]:
    """Rebuild devices from :func:`snapshot` output; raise :class:`ConfigError` naming the bad field.

    The snapshot must come from the same ``model_id``. A threshold saved under another threshold
    mode than ``threshold_config.mode`` is replaced by ``new_threshold()``. A device entry without
    ``stuck`` or ``missing`` (an older snapshot) gets fresh stuck/missing-sensor tracking. With
    ``sustained_taus`` (the slow and fast time constants of the bundle's sustained-deviation channel) the
    saved moving averages are restored; missing, malformed or saved with other time constants, they start
    afresh.
    """
    index = {name: j for j, name in enumerate(features)}
    if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
        raise ConfigError(f"expected a version {STATE_VERSION} pipeline snapshot", field="state.version")
    if state.get("model_id") != model_id:
        raise ConfigError(
            f"snapshot was taken with model {state.get('model_id')!r}, this pipeline runs "
            f"{model_id!r}; start without it",
            field="state.model_id",
        )
    saved = state.get("devices")
    if not isinstance(saved, Mapping):
        raise ConfigError("must be an object", field="state.devices")
    restored: dict[str, DeviceState] = {}
    for name, entry in saved.items():
        try:
            if not isinstance(entry, Mapping):
                raise ConfigError("must be an object", field="state")
            last_ts = entry.get("last_ts")
            if last_ts is not None and (
                isinstance(last_ts, bool)
                or not isinstance(last_ts, int | float)
                or not math.isfinite(last_ts)
            ):
                raise ConfigError("must be a finite number or null", field="state.last_ts")
            saved_threshold = entry.get("threshold")
            if isinstance(saved_threshold, Mapping) and saved_threshold.get("kind") == threshold_config.mode:
                threshold = threshold_from_state(saved_threshold, threshold_config)
            else:
                threshold = new_threshold()
            alert = AlertPolicy.from_state(entry.get("alert", {}), alert_config)
            if alert.device != name:
                raise ConfigError(f"belongs to device {alert.device!r}", field="state.alert.device")
            stuck = _restore_stuck(entry, stuck_detector)
            missing = _restore_missing(entry, index)
        except ConfigError as exc:
            field = (exc.field or "state").replace("state", f"state.devices.{name}", 1)
            message = str(exc)[len(exc.field) + 2 :] if exc.field else str(exc)
            raise ConfigError(message, field=field) from None
        sustained = None
        if sustained_taus is not None:
            saved_sustained = entry.get("sustained")
            sustained = SustainedLevel.from_state(
                saved_sustained if isinstance(saved_sustained, Mapping) else {},
                sustained_taus[0],
                len(index),
                sustained_taus[1],
            )
        dev = DeviceState(name, threshold, alert, stuck, sustained)
        dev.last_ts = None if last_ts is None else float(last_ts)
        dev.missing = missing
        restored[name] = dev
    return restored


def _restore_stuck(entry: Mapping[str, Any], detector: StuckDetector) -> StuckState:
    """The saved stuck-sensor counters, made consistent with the current check configuration.

    ``n_stuck`` is recounted rather than trusted: with another ``min_stuck_run`` or
    ``stuck_detection`` setting than the saving agent's, a saved count could disagree with the
    runs and leave the device "stuck" for good (or go negative on the next recovery).
    """
    if "stuck" not in entry:
        return detector.new_state()
    stuck = StuckState.from_state(entry["stuck"], detector.n_features)
    watched = set(detector.watched)
    for j in range(detector.n_features):
        if j not in watched:
            stuck.last[j] = math.nan
            stuck.runs[j] = 0
    stuck.n_stuck = len(detector.stuck_features(stuck))
    return stuck


def _restore_missing(entry: Mapping[str, Any], index: Mapping[str, int]) -> tuple[str, ...]:
    """The saved names of the sensors reporting null, in feature order (as the parser reports them)."""
    if "missing" not in entry:
        return ()
    saved = entry["missing"]
    if not isinstance(saved, list):
        raise ConfigError("must be a list of feature names", field="state.missing")
    seen: set[str] = set()
    for i, name in enumerate(saved):
        if not isinstance(name, str) or name not in index:
            raise ConfigError(f"item {i} ({name!r}) is not a feature of this model", field="state.missing")
        if name in seen:
            raise ConfigError(f"item {i} ({name!r}) is listed twice", field="state.missing")
        seen.add(name)
    return tuple(sorted(seen, key=index.__getitem__))
