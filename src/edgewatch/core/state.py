"""The saved device state: one versioned record of everything the pipeline remembers about each device.

The agent saves it on shutdown and periodically (:mod:`edgewatch.agent.state`) and restores it at start, so
a restart keeps each device's adaptive threshold, alert state (including the run state behind alert
suppression), last accepted timestamp (a QoS 1 redelivery after a restart is still a duplicate), stuck-sensor
counters and missing sensors (a sensor stuck or missing before the restart still gets its ``recovered``
event, and is not scored meanwhile), for a bundle with a sustained-deviation channel its moving
averages, with a drift baseline its offsets, what operators set (maintenance, sensitivity, an
acknowledged alert) and when its messages came (a device silent before the restart is still silent after
it). Windows are not saved: they rebuild from the next readings. Version 3; a version 2 state (without
operator, silence and drift records, nor the alert's calm and flicker times) is read with them at their
defaults.

Per device::

    {"last_ts": float | null, "missing": [sensor, ...],
     "threshold": {"kind": "fixed" | "adaptive", "t0": float, "baseline", "level", "n_learned"},
     "alert": {"alert_id", "severity", "history", "below_run", "calm_since", "longest_flicker_s",
               "last_emit_ts", "cooldown_until", "machine_stopped", "suppress_until"},
     "stuck": {"last": [float | null, ...], "runs": [int, ...], "n_stuck": int},
     "sustained": {"tau_s", "fast_tau_s", "last_ts", "since", "smooth": [...], "fast": [...] | null} | null,
     "operator": {"maintenance", "maintenance_until", "maintenance_since", "sensitivity", "ack_alert_id",
                  "ack_by", "ack_ts"},
     "silence": {"last_seen", "gap_s", "gaps", "silent_since"},
     "drift": {"offset": [...], "last_ts": float | null} | null}

Times are epoch seconds of readings (``null``: never); ``stuck`` holds one item per model feature
(``null``: no value seen yet, as JSON has no NaN). :func:`load_state` refuses a malformed state with a
:class:`~edgewatch.errors.ConfigError` naming the dotted field (``state.devices.pump-1.alert.history``).

The file's bytes are :func:`encode_state` of the whole state, or -- a save taken a few devices at a time
(the agent's periodic save, :mod:`edgewatch.agent.state`) -- :func:`encode_head`, then the
:func:`encode_devices` pieces joined by ``,``, then :data:`STATE_TAIL`: the same bytes for the same devices.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from edgewatch.errors import ConfigError
from edgewatch.records import check, dump, load

STATE_VERSION = 3
READABLE_VERSIONS = (2, 3)  # a version 2 state has no operator and silence records: they start at their defaults
Severity = Literal["minor", "major", "critical"]

_time = check(math.isfinite, "a finite number or null")
_positive = check(lambda v: math.isfinite(v) and v > 0, "a positive finite number")
_count = check(lambda v: v >= 0, "a non-negative integer")
_NUMBERS = "finite numbers or nulls"


def _all_finite(values: Iterable[float]) -> bool:
    return all(map(math.isfinite, values))


@dataclass(frozen=True)
class ThresholdState:
    """A device's threshold: the calibrated ``t0``, and for an adaptive one the tracked median normal score
    (``level``), the ``baseline`` it is compared with and how many scores it learned. The current value is
    recomputed from them with the configuration in force."""

    kind: Literal["fixed", "adaptive"]
    t0: float = field(metadata=check(math.isfinite, "a finite number"))
    baseline: float | None = field(default=None, metadata=_positive)
    level: float | None = field(default=None, metadata=_positive)
    n_learned: int | None = field(default=None, metadata=_count)

    def __post_init__(self) -> None:
        if self.kind == "adaptive" and None in (self.baseline, self.level, self.n_learned):
            raise ConfigError("an adaptive threshold needs baseline, level and n_learned", field="threshold")


@dataclass(frozen=True)
class AlertState:
    """A device's alert policy (:mod:`edgewatch.core.alerts`): the active alert and its peak severity, the
    k-of-n history bits, the run of readings below the hysteresis threshold and when it started, the longest
    flicker of the active alert, and its times."""

    alert_id: str | None = field(default=None, metadata=check(bool, "a non-empty string or null"))
    severity: Severity | None = None
    history: int = field(default=0, metadata=_count)
    below_run: int = field(default=0, metadata=_count)
    calm_since: float | None = field(default=None, metadata=_time)
    longest_flicker_s: float = field(
        default=0.0, metadata=check(lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
    )
    last_emit_ts: float | None = field(default=None, metadata=_time)
    cooldown_until: float | None = field(default=None, metadata=_time)
    machine_stopped: bool = False
    suppress_until: float | None = field(default=None, metadata=_time)

    def __post_init__(self) -> None:
        if self.alert_id is not None and self.severity is None:
            raise ConfigError("an active alert needs a severity", field="alert.severity")


@dataclass(frozen=True)
class StuckCounters:
    """Per feature, the last value seen and how many identical values in a row; how many features are stuck."""

    # filter(None, ...) leaves out the nulls (and the zeros, finite anyway)
    last: tuple[float | None, ...] = field(metadata=check(lambda v: _all_finite(filter(None, v)), _NUMBERS))
    runs: tuple[int, ...] = field(metadata=check(lambda v: min(v, default=0) >= 0, "non-negative integers"))
    n_stuck: int = field(metadata=_count)


@dataclass(frozen=True)
class SustainedState:
    """The sustained-deviation channel's averages (:mod:`edgewatch.core.sustained`), with the time constants
    they were averaged with, the last reading's time and the time they started from."""

    tau_s: float
    fast_tau_s: float | None
    last_ts: float = field(metadata=_time)
    since: float = field(metadata=_time)
    smooth: tuple[float, ...]
    fast: tuple[float, ...] | None = None


@dataclass(frozen=True)
class OperatorState:
    """What operators set for the device (:mod:`edgewatch.core.operator`): maintenance (with its automatic end,
    wall-clock epoch seconds; null: until turned off), the sensitivity factor and the acknowledged alert."""

    maintenance: bool = False
    maintenance_until: float | None = field(default=None, metadata=_time)
    maintenance_since: float | None = field(default=None, metadata=_time)
    sensitivity: float = field(default=1.0, metadata=_positive)
    ack_alert_id: str | None = None
    ack_by: str | None = None
    ack_ts: float | None = field(default=None, metadata=_time)


@dataclass(frozen=True)
class SilenceState:
    """When the device's last message arrived (wall clock), the longest gap it learned between messages (slowly
    forgotten) and from how many gaps, and since when it is silent (null: it is not) (:mod:`edgewatch.core.silence`)."""

    last_seen: float | None = field(default=None, metadata=_time)
    gap_s: float | None = field(default=None, metadata=_positive)
    gaps: int = field(default=0, metadata=_count)
    silent_since: float | None = field(default=None, metadata=_time)


@dataclass(frozen=True)
class DriftState:
    """The drift baseline (:mod:`edgewatch.core.drift`): the offset per feature in scaled units, and the time of
    the last reading it saw."""

    offset: tuple[float, ...] = field(metadata=check(lambda v: _all_finite(v), "finite numbers"))
    last_ts: float | None = field(default=None, metadata=_time)


@dataclass(frozen=True)
class DeviceSnapshot:
    """Everything saved about one device."""

    threshold: ThresholdState
    alert: AlertState
    stuck: StuckCounters
    last_ts: float | None = field(default=None, metadata=_time)
    missing: tuple[str, ...] = ()
    sustained: SustainedState | None = None
    operator: OperatorState = field(default_factory=OperatorState)
    silence: SilenceState = field(default_factory=SilenceState)
    drift: DriftState | None = None


@dataclass(frozen=True)
class PipelineState:
    """The saved state of every device of one pipeline, taken with the model ``model_id``."""

    version: int
    model_id: str
    devices: dict[str, DeviceSnapshot] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.version != STATE_VERSION:
            raise ConfigError(f"expected a version {STATE_VERSION} device state, got {self.version}", field="version")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: saving or restoring the state makes or reads some ten records and
    lists per device, none of them garbage, and the collector walked the growing heap again and again (40% of
    a 50,000-device save or restore). It is turned back on after (unless it was off), and collects then as
    usual."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def load_state(data: Any, model_id: str) -> PipelineState:
    """The saved state in ``data`` (parsed JSON), checked to be of this version and of ``model_id``."""
    if isinstance(data, dict) and data.get("version") not in READABLE_VERSIONS:
        raise ConfigError(f"expected a version {STATE_VERSION} device state", field="state.version")
    if isinstance(data, dict) and data.get("version") != STATE_VERSION:
        data = {**data, "version": STATE_VERSION}
    state = load(PipelineState, data, "state")
    if state.model_id != model_id:
        raise ConfigError(
            f"state was saved with model {state.model_id!r}, this pipeline runs {model_id!r}; start without it",
            field="state.model_id",
        )
    return state


STATE_TAIL = b"}}"  # closes the devices object and the state


def encode_state(data: Any) -> bytes:
    """A whole state (:meth:`Pipeline.state_snapshot <edgewatch.core.pipeline.Pipeline.state_snapshot>`) as
    the bytes of the state file."""
    return json.dumps(data, allow_nan=False, separators=(",", ":")).encode("utf-8")


def encode_head(model_id: str) -> bytes:
    """The state file's bytes up to its first device: ``{"version":3,"model_id":"...","devices":{``."""
    whole = encode_state(dump(PipelineState(STATE_VERSION, model_id)))  # ...,"devices":{}}
    return whole[: -len(STATE_TAIL)]


def encode_devices(devices: Mapping[str, DeviceSnapshot]) -> bytes:
    """``devices`` as members of the state file's ``devices`` object, ``"a":{...},"b":{...}`` (none: ``b""``),
    the bytes :func:`encode_state` writes for them."""
    return encode_state({name: dump(snapshot) for name, snapshot in devices.items()})[1:-1]
