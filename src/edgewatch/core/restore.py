"""What a restart takes from the saved device state, what it takes from the bundle, and what it drops.

The saved state (:mod:`edgewatch.core.state`) is a cache of what the devices taught the agent, never a
second source of the model's configuration:

* **Thresholds.** In fixed mode the threshold is always the bundle's calibrated value: the saved ``t0`` is
  ignored, so a re-calibrated bundle with the same model id takes effect and a damaged state file cannot
  switch detection off. An adaptive threshold keeps its learned level only when it was saved by the adaptive
  mode against the same calibrated value (:func:`~edgewatch.core.thresholds.keeps_saved_threshold`);
  otherwise it starts afresh from the bundle.
* **Times beyond the clock.** A saved time more than ``checks.max_clock_skew_s`` after ``now`` (a state
  written while a device's clock was wrong) would make every true reading "out of order" and keep a
  cool-down or suppression going for years: the device's last time and its alert policy's times are
  dropped, and its sustained-deviation averages start afresh.
* Everything else (alert state, k-of-n history, stuck and missing sensors, sustained averages) comes from
  the state -- except which alert is open: the agent's outbox writes that with every alert message
  (:mod:`edgewatch.agent.outbox_tables`), so it is newer than a state saved every few minutes, and
  :func:`reopen_alerts` makes the devices agree with it. An alert raised before a ``kill -9`` is then still
  open after the restart, and the device's next normal readings send its ``cleared``.

:class:`RestoreReport` says which device got what; the agent logs :meth:`RestoreReport.describe` at INFO.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgewatch.core.alerts import AlertPolicy
from edgewatch.core.checks import StuckDetector
from edgewatch.core.config import PipelineConfig
from edgewatch.core.device import DeviceState, restore_device
from edgewatch.core.state import AlertState, DeviceSnapshot, PipelineState
from edgewatch.core.thresholds import keeps_saved_threshold
from edgewatch.errors import ConfigError

if TYPE_CHECKING:
    from edgewatch.bundle import SustainedChannel, Threshold


@dataclass(frozen=True)
class RestoreReport:
    """The outcome of restoring a saved state: device names sorted in each group."""

    devices: int = 0
    thresholds_from_state: tuple[str, ...] = ()  # adaptive, learned against this calibration
    thresholds_from_bundle: tuple[str, ...] = ()  # fixed mode, or saved under another mode or calibration
    future_times_dropped: tuple[str, ...] = ()
    open_alerts: tuple[str, ...] = ()
    calibrated: float | None = None  # the bundle's threshold in force

    def describe(self) -> str:
        """One line for the log: what came from the state, what from the bundle, what was dropped."""
        parts = [f"{self.devices} device(s): alert state, sensor counters and averages from the state"]
        if self.thresholds_from_bundle:
            value = "" if self.calibrated is None else f" ({self.calibrated:.6g})"
            parts.append(f"threshold from the bundle{value} for {_names(self.thresholds_from_bundle)}")
        if self.thresholds_from_state:
            parts.append(f"learned adaptive threshold from the state for {_names(self.thresholds_from_state)}")
        if self.open_alerts:
            parts.append(f"{len(self.open_alerts)} open alert(s): {_names(self.open_alerts)}")
        if self.future_times_dropped:
            parts.append(
                f"times beyond the clock (future) dropped for {_names(self.future_times_dropped)}"
                " (their next readings are accepted)"
            )
        return "; ".join(parts)


def _names(names: tuple[str, ...], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def bound_times(saved: DeviceSnapshot, limit: float | None) -> tuple[DeviceSnapshot, bool]:
    """``saved`` with every time after ``limit`` dropped (see the module docstring); True when any was.
    ``limit=None`` checks nothing."""
    if limit is None:
        return saved, False

    def beyond(ts: float | None) -> bool:
        return ts is not None and ts > limit

    alert = saved.alert
    alert_times = ("last_emit_ts", "cooldown_until", "suppress_until")
    late_alert = [name for name in alert_times if beyond(getattr(alert, name))]
    sustained = saved.sustained
    late_sustained = sustained is not None and (beyond(sustained.last_ts) or beyond(sustained.since))
    if not (beyond(saved.last_ts) or late_alert or late_sustained):
        return saved, False
    if late_alert:
        alert = AlertState(**{**dataclasses.asdict(alert), **dict.fromkeys(late_alert)})
    return (
        dataclasses.replace(
            saved,
            last_ts=None if beyond(saved.last_ts) else saved.last_ts,
            alert=alert,
            sustained=None if late_sustained else sustained,
        ),
        True,
    )


def restore_devices(
    state: PipelineState,
    limit: float | None,
    *,
    calibrated: Threshold,
    config: PipelineConfig,
    stuck_detector: StuckDetector,
    features: tuple[str, ...],
    channel: SustainedChannel | None,
    drift: bool = False,
) -> tuple[dict[str, DeviceState], RestoreReport]:
    """Every saved device restored by the rules of the module docstring (times after ``limit`` dropped), and
    the report; :class:`ConfigError` naming ``state.devices.<name>.<field>`` when one does not fit the model."""
    restored: dict[str, DeviceState] = {}
    from_state, dropped = [], []
    for name, saved in state.devices.items():
        saved, late = bound_times(saved, limit)
        if late:
            dropped.append(name)
        if keeps_saved_threshold(saved.threshold, calibrated, config.thresholds):
            from_state.append(name)
        try:
            restored[name] = restore_device(
                name,
                saved,
                calibrated=calibrated,
                thresholds=config.thresholds,
                alerts=config.alerts,
                stuck_detector=stuck_detector,
                features=features,
                channel=channel,
                drift=drift,
            )
        except ConfigError as exc:
            raise ConfigError(exc.message, field=f"state.devices.{name}.{exc.field}") from None
    report = RestoreReport(
        devices=len(restored),
        thresholds_from_state=tuple(sorted(from_state)),
        thresholds_from_bundle=tuple(sorted(set(restored) - set(from_state))),
        future_times_dropped=tuple(sorted(dropped)),
        open_alerts=tuple(sorted(n for n, d in restored.items() if d.alert.active)),
        calibrated=calibrated.value,
    )
    return restored, report


def reopen_alerts(
    devices: Mapping[str, DeviceState],
    new_device: Callable[[str], DeviceState],
    marks: Mapping[str, tuple[str | None, str | None]],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Make each device's open alert the one ``marks`` (device -> ``(alert_id, severity)``, ``alert_id`` None:
    none open) says the world was last told of; a device with an open alert and no saved state is created.
    Returns the devices whose alert was re-opened and those whose alert was closed."""
    opened: list[str] = []
    closed: list[str] = []
    for name, (alert_id, severity) in sorted(marks.items()):
        device = devices.get(name)
        if device is None:
            if alert_id is None:
                continue
            device = new_device(name)
        policy = device.alert
        if policy.alert_id == alert_id:
            continue
        saved = policy.snapshot()
        reopened = AlertState(
            **{
                **dataclasses.asdict(saved),
                "alert_id": alert_id,
                "severity": (severity or "minor") if alert_id is not None else None,
                "below_run": 0,
            }
        )
        device.alert = AlertPolicy.restore(name, reopened, policy.config)
        (opened if alert_id is not None else closed).append(name)
    return tuple(opened), tuple(closed)
