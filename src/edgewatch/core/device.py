"""What the pipeline remembers about one device, and how it is saved and restored across restarts
(the saved form is :class:`edgewatch.core.state.DeviceSnapshot`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from edgewatch.core.alerts import AlertConfig, AlertPolicy
from edgewatch.core.checks import StuckDetector, StuckState
from edgewatch.core.drift import DriftBaseline
from edgewatch.core.events import SensorFault
from edgewatch.core.operator import OperatorControls
from edgewatch.core.silence import SilenceWatch
from edgewatch.core.state import DeviceSnapshot
from edgewatch.core.sustained import SustainedLevel
from edgewatch.core.thresholds import AdaptiveThreshold, FixedThreshold, ThresholdConfig, restore_threshold
from edgewatch.errors import ConfigError

if TYPE_CHECKING:
    from edgewatch.bundle import SustainedChannel, Threshold

DeviceThreshold = FixedThreshold | AdaptiveThreshold


class DeviceState:
    """Everything the pipeline remembers about one device."""

    __slots__ = (
        "alert",
        "drift",
        "history",
        "last_ts",
        "missing",
        "name",
        "operator",
        "recent",
        "silence",
        "stuck",
        "sustained",
        "threshold",
    )

    def __init__(
        self,
        name: str,
        threshold: DeviceThreshold,
        alert: AlertPolicy,
        stuck: StuckState,
        sustained: SustainedLevel | None = None,
        drift: DriftBaseline | None = None,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.alert = alert
        self.stuck = stuck
        self.sustained = sustained  # None: the bundle has no sustained-deviation channel
        self.drift = drift  # None: no drift baseline
        self.last_ts: float | None = None  # ts of the last accepted reading
        self.missing: tuple[str, ...] = ()  # sensors currently reporting null
        self.history: np.ndarray | None = None  # last window-1 scaled rows (window > 1 only)
        self.recent: list[int] | None = None  # pipeline batch-local: pool rows of the current window
        self.operator = OperatorControls()  # maintenance, sensitivity, acknowledged alert (core/operator.py)
        self.silence = SilenceWatch()  # when its messages came (core/silence.py)

    def snapshot(self) -> DeviceSnapshot:
        """What a restart must remember (the window rebuilds from the next readings)."""
        return DeviceSnapshot(
            threshold=self.threshold.snapshot(),
            alert=self.alert.snapshot(),
            stuck=self.stuck.snapshot(),
            last_ts=self.last_ts,
            missing=self.missing,
            sustained=None if self.sustained is None else self.sustained.snapshot(),
            operator=self.operator.snapshot(),
            silence=self.silence.snapshot(),
            drift=None if self.drift is None else self.drift.snapshot(),
        )


def restore_device(
    name: str,
    saved: DeviceSnapshot,
    *,
    calibrated: Threshold,
    thresholds: ThresholdConfig,
    alerts: AlertConfig,
    stuck_detector: StuckDetector,
    features: tuple[str, ...],
    channel: SustainedChannel | None,
    drift: bool = False,
) -> DeviceState:
    """The device as ``saved``, under the configuration in force: a threshold saved under another mode, and
    sustained-deviation averages saved with other time constants, start afresh. :class:`ConfigError` naming
    the field (relative to the device) when the saved counters or sensors do not fit the model."""
    unknown = [s for s in saved.missing if s not in features]
    if unknown or len(set(saved.missing)) != len(saved.missing):
        raise ConfigError(
            f"must name each of the model's features at most once, got {list(saved.missing)}", field="missing"
        )
    sustained = None
    if channel is not None:
        sustained = SustainedLevel.restore(saved.sustained, channel.tau_s, len(features), channel.fast_tau_s)
    baseline = (
        DriftBaseline.restore(saved.drift, len(features), thresholds.drift_tau_s, thresholds.drift_learn_below)
        if drift
        else None
    )
    device = DeviceState(
        name,
        restore_threshold(saved.threshold, calibrated, thresholds),
        AlertPolicy.restore(name, saved.alert, alerts),
        stuck_detector.restore(saved.stuck),
        sustained,
        baseline,
    )
    device.last_ts = saved.last_ts
    device.missing = tuple(f for f in features if f in saved.missing)  # in feature order, as the parser reports
    device.operator = OperatorControls.restore(saved.operator)
    device.silence = SilenceWatch.restore(saved.silence)
    return device


def missing_transition(dev: DeviceState, missing: tuple[str, ...], ts: float, pending: list[object]) -> None:
    """Append the ``missing`` sensor-fault events of a reading missing ``missing`` (onsets and recoveries
    against the device's last set), and remember the new set."""
    before = dev.missing
    if missing == before:
        return
    recovered = tuple(name for name in before if name not in missing)
    started = tuple(name for name in missing if name not in before)
    if recovered:
        pending.append(SensorFault(dev.name, "missing", "recovered", recovered, ts))
    if started:
        pending.append(SensorFault(dev.name, "missing", "active", started, ts))
    dev.missing = missing
