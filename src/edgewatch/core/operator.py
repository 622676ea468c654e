"""What an operator may tell the agent about one machine: maintenance, an acknowledged alert, a sensitivity.

Commands arrive over MQTT (``edgewatch/<device>/<control>/set``, :mod:`edgewatch.agent.controls`); this module
reads them and keeps their effect per device (:class:`OperatorControls`, part of the saved device state):

* **maintenance** -- ``ON`` / ``OFF``, or ``{"state": "ON", "duration_s": 3600}`` (an automatic end; at most
  ``controls.max_maintenance_s``). While a device is in maintenance its readings are still checked and scored
  (visible on the score stream), but they reach neither the alert policy nor the adaptive threshold: no alert
  is raised, updated or cleared, and the threshold learns nothing from a machine being worked on. They are
  counted (the pipeline's ``maintenance`` counter). An alert active when maintenance begins stays active and
  goes on (updates, clear) after it. Readings are compared with the end in their own time.
* **acknowledge** -- ``PRESS`` (or empty), the alert id, or ``{"alert_id": ..., "by": "alice"}``: marks the
  device's active alert acknowledged; its next messages (update, cleared) carry ``acknowledged: {"by", "ts"}``.
  No active alert, or another alert's id, is refused.
* **sensitivity** -- a number in ``[controls.sensitivity_min, controls.sensitivity_max]`` (0.5-2 by default):
  readings are judged against ``threshold / sensitivity`` (2: twice as sensitive), reported as the threshold.

A command that cannot be applied raises :class:`CommandError` with a short reason (``bad_command``,
``out_of_range``, ``no_active_alert``); the agent publishes it on the device's error topic.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from edgewatch.core.state import OperatorState
from edgewatch.records import check

CONTROLS = ("maintenance", "acknowledge", "sensitivity")
ON, OFF = "ON", "OFF"


@dataclass(frozen=True)
class ControlsConfig:
    """The ``[controls]`` section: operator controls over MQTT and their bounds."""

    enabled: bool = True
    sensitivity_min: float = field(default=0.5, metadata=check(lambda v: 0 < v <= 1, "a number in (0, 1]"))
    sensitivity_max: float = field(default=2.0, metadata=check(lambda v: 1 <= v <= 100, "a number in [1, 100]"))
    max_maintenance_s: float = field(
        default=7 * 86400.0, metadata=check(lambda v: math.isfinite(v) and v > 0, "a positive number of seconds")
    )


class CommandError(Exception):
    """A command that cannot be applied; ``reason`` is a short code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CommandRejected:
    """A refused operator command, for the device's error topic."""

    device: str
    command: str
    reason: str
    message: str
    ts: float

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "command_rejected",
            "device": self.device,
            "command": self.command,
            "reason": self.reason,
            "message": self.message,
            "ts": self.ts,
        }


class OperatorControls:
    """One device's operator state (see the module docstring)."""

    __slots__ = ("ack_alert_id", "ack_by", "ack_ts", "maintenance_since", "maintenance_until", "sensitivity")

    def __init__(self) -> None:
        self.maintenance_until: float | None = None  # None: off; inf: until turned off
        self.maintenance_since: float | None = None
        self.sensitivity = 1.0
        self.ack_alert_id: str | None = None
        self.ack_by: str | None = None
        self.ack_ts: float | None = None

    @property
    def maintenance(self) -> bool:
        return self.maintenance_until is not None

    def in_maintenance(self, ts: float) -> bool:
        """Whether a reading at ``ts`` falls in the maintenance period."""
        until = self.maintenance_until
        return until is not None and ts < until

    def acknowledged(self, alert_id: str) -> tuple[str, float] | None:
        """``(by, ts)`` when ``alert_id`` was acknowledged."""
        if self.ack_alert_id == alert_id and self.ack_ts is not None:
            return self.ack_by or "", self.ack_ts
        return None

    def alert_closed(self) -> None:
        """The acknowledged alert cleared: nothing is acknowledged any more."""
        self.ack_alert_id = self.ack_by = self.ack_ts = None

    def expire(self, now: float) -> bool:
        """End a maintenance period whose end has passed; True when it did."""
        if self.maintenance_until is not None and now >= self.maintenance_until:
            self.maintenance_until = self.maintenance_since = None
            return True
        return False

    def apply(self, control: str, payload: bytes, now: float, active_alert: str | None, config: ControlsConfig) -> None:
        """Apply one command (``control`` one of :data:`CONTROLS`); :class:`CommandError` when it cannot be."""
        text = payload.decode("utf-8", "replace").strip()
        if control == "maintenance":
            self._maintenance(text, now, config)
        elif control == "acknowledge":
            self._acknowledge(text, now, active_alert)
        elif control == "sensitivity":
            self._sensitivity(text, config)
        else:
            raise CommandError("bad_command", f"unknown control {control!r} (known: {', '.join(CONTROLS)})")

    def _maintenance(self, text: str, now: float, config: ControlsConfig) -> None:
        duration: Any = None
        state: Any = text
        if text.startswith("{"):
            doc = _json_object(text)
            state, duration = doc.get("state"), doc.get("duration_s")
        if not isinstance(state, str) or state.upper() not in (ON, OFF):
            raise CommandError(
                "bad_command", f'maintenance takes ON, OFF or {{"state": "ON", "duration_s": N}}, got {text!r}'
            )
        if state.upper() == OFF:
            self.maintenance_until = self.maintenance_since = None
            return
        if duration is not None:
            if isinstance(duration, bool) or not isinstance(duration, int | float) or not 0 < duration:
                raise CommandError("bad_command", f"duration_s must be a positive number of seconds, got {duration!r}")
            if duration > config.max_maintenance_s:
                raise CommandError(
                    "out_of_range",
                    f"duration_s {duration} is beyond controls.max_maintenance_s ({config.max_maintenance_s:g})",
                )
        self.maintenance_until = math.inf if duration is None else now + float(duration)
        if self.maintenance_since is None:
            self.maintenance_since = now

    def _acknowledge(self, text: str, now: float, active_alert: str | None) -> None:
        alert_id, by = None, None
        if text.startswith("{"):
            doc = _json_object(text)
            alert_id, by = doc.get("alert_id"), doc.get("by")
            if (alert_id is not None and not isinstance(alert_id, str)) or (by is not None and not isinstance(by, str)):
                raise CommandError("bad_command", "alert_id and by must be strings")
        elif text and text.upper() != "PRESS":
            alert_id = text
        if active_alert is None:
            raise CommandError("no_active_alert", "the device has no active alert to acknowledge")
        if alert_id is not None and alert_id != active_alert:
            raise CommandError("no_active_alert", f"alert {alert_id!r} is not active (active: {active_alert!r})")
        if self.ack_alert_id != active_alert:
            self.ack_alert_id, self.ack_by, self.ack_ts = active_alert, by, now

    def _sensitivity(self, text: str, config: ControlsConfig) -> None:
        raw: Any = text
        if text.startswith("{"):
            raw = _json_object(text).get("value")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise CommandError("bad_command", f"sensitivity takes a number, got {text!r}") from None
        if not (config.sensitivity_min <= value <= config.sensitivity_max):
            raise CommandError(
                "out_of_range",
                f"sensitivity {value:g} is outside [{config.sensitivity_min:g}, {config.sensitivity_max:g}]",
            )
        self.sensitivity = value

    def state_payloads(self) -> dict[str, bytes]:
        """The retained ``<control>/state`` payloads: ``ON``/``OFF``, the sensitivity, and the acknowledgement as
        ``{"alert_id", "by", "ts"}`` (all null: nothing acknowledged)."""
        ack = json.dumps({"alert_id": self.ack_alert_id, "by": self.ack_by, "ts": self.ack_ts}).encode()
        return {
            "maintenance": (ON if self.maintenance else OFF).encode(),
            "sensitivity": f"{self.sensitivity:g}".encode(),
            "acknowledge": ack,
        }

    def snapshot(self) -> OperatorState:
        until = self.maintenance_until
        return OperatorState(
            maintenance=until is not None,
            maintenance_until=None if until is None or math.isinf(until) else until,
            maintenance_since=self.maintenance_since,
            sensitivity=self.sensitivity,
            ack_alert_id=self.ack_alert_id,
            ack_by=self.ack_by,
            ack_ts=self.ack_ts,
        )

    @classmethod
    def restore(cls, state: OperatorState) -> OperatorControls:
        controls = cls()
        if state.maintenance:
            controls.maintenance_until = math.inf if state.maintenance_until is None else state.maintenance_until
            controls.maintenance_since = state.maintenance_since
        controls.sensitivity = state.sensitivity
        controls.ack_alert_id, controls.ack_by, controls.ack_ts = state.ack_alert_id, state.ack_by, state.ack_ts
        return controls


def _json_object(text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CommandError("bad_command", f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise CommandError("bad_command", "expected a JSON object")
    return doc
