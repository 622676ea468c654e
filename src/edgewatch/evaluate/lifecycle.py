"""The alert life cycle of one device, judged against labelled faults: does the alert clear when the machine
recovers, is one fault one alert, does it chatter?

Pure arithmetic on per-row arrays of one file (one device), in time order. Conventions are those of
:mod:`edgewatch.evaluate.events` (half-open row ranges, an event's *window* is its rows plus the rows within
the detection tolerance after its last row); ``flagged`` is the device's decision per row (alert **or**
sensor fault active, as for the false-alarm rate), ``alert_active`` the alert state alone.

* An **alert** is a maximal run of rows with ``alert_active``: raised by its first row, cleared by the row
  after its last (still active at the end of the file: not cleared).
* **False-alarm rate before / after faults**: the share of normal (label 0) rows that are flagged, split at
  the first fault event's first row: *before* is every normal row before it, *after* every normal row from
  there on, and *within 1 h* (:data:`POST_FAULT_S`) the normal rows at most that long after the last row of
  some fault event. Without any fault event every normal row is *before*.
* **Alerts per fault event**: an alert belongs to an event when it overlaps the event's rows or is raised
  inside its detection window after them. ``raises_per_event`` = alerts that belong to at least one event /
  detected events. Sensor faults are a separate message and are not counted as alerts here.
* **Chattering**: an alert raised at most :data:`CHATTER_S` (10 min) after the previous alert of the
  device cleared, unless it is raised inside the window of a fault event the previous alert did not
  belong to (a new fault is not chatter).
* **Time to clear** (per event with an alert): from the event's last row to the clearing row of the last
  alert that belongs to it, and from the first normal row after the event to that clear; 0 when that alert
  had cleared before (during the fault). An alert that never clears gives no time; it is counted in
  ``not_cleared``.

Zero denominators give NaN, as in :mod:`edgewatch.evaluate.metrics`. :func:`pool_lifecycle` pools files by
adding counts and concatenating the per-event records.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgewatch.evaluate._arrays import as_binary, as_seconds
from edgewatch.evaluate.events import EventResult, runs, window_ends

__all__ = [
    "CHATTER_S",
    "POST_FAULT_S",
    "AlertSpan",
    "FaultRecovery",
    "LifecycleResult",
    "RowShare",
    "alert_spans",
    "lifecycle",
    "pool_lifecycle",
]

POST_FAULT_S = 3600.0  # "within 1 h after a fault": the recovery a detector must accept
CHATTER_S = 600.0  # ISA-18.2-style chattering: raised again within 10 min of a clear

NAN = float("nan")


def _json_float(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True)
class RowShare:
    """``flagged`` of ``rows`` rows; ``rate`` is NaN without rows. ``a + b`` pools two files."""

    flagged: int = 0
    rows: int = 0

    def __add__(self, other: RowShare) -> RowShare:
        return RowShare(self.flagged + other.flagged, self.rows + other.rows)

    @property
    def rate(self) -> float:
        return self.flagged / self.rows if self.rows else NAN

    def to_json(self) -> dict[str, Any]:
        return {"rate": _json_float(self.rate), "flagged": self.flagged, "rows": self.rows}


@dataclass(frozen=True)
class AlertSpan:
    """One alert: raised at row ``start``, cleared at row ``end`` (the first row not in alert; the file's
    length and ``cleared`` false when it was still active at the end)."""

    start: int
    end: int
    cleared: bool


def alert_spans(alert_active: Any) -> list[AlertSpan]:
    """The alerts of one device, in time order, from its per-row alert state."""
    active = as_binary(alert_active, "alert_active")
    n = active.shape[0]
    return [AlertSpan(start, end, end < n) for start, end in runs(active)]


@dataclass(frozen=True)
class FaultRecovery:
    """One fault event's alerts: how many belong to it, and when the last of them cleared.

    ``clear_after_fault_s`` counts from the event's last row, ``clear_after_normal_s`` from the first normal
    row after it (None when no normal row follows). Both are None when no alert belongs to the event
    (``raises`` 0) or when the last one never cleared (``cleared`` false)."""

    start: int
    end: int
    fault_type: str | None
    detected: bool
    raises: int
    cleared: bool | None
    clear_after_fault_s: float | None
    clear_after_normal_s: float | None
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "fault_type": self.fault_type,
            "detected": self.detected,
            "raises": self.raises,
            "cleared": self.cleared,
            "clear_after_fault_s": self.clear_after_fault_s,
            "clear_after_normal_s": self.clear_after_normal_s,
            "source": self.source,
        }


def _median(values: Sequence[float]) -> float:
    return float(np.median(values)) if values else NAN


def _max(values: Sequence[float]) -> float:
    return float(max(values)) if values else NAN


@dataclass(frozen=True)
class LifecycleResult:
    """The life-cycle figures of one file, or of several pooled (see the module docstring)."""

    before_fault: RowShare
    after_fault: RowShare
    within_post_fault: RowShare
    raises: int
    raises_in_faults: int
    detected_events: int
    chattering: int
    faults: tuple[FaultRecovery, ...]

    @property
    def false_raises(self) -> int:
        """Alerts that belong to no fault event."""
        return self.raises - self.raises_in_faults

    @property
    def raises_per_event(self) -> float:
        """Alerts that belong to a fault event / detected events (NaN when none was detected)."""
        return self.raises_in_faults / self.detected_events if self.detected_events else NAN

    @property
    def not_cleared(self) -> int:
        """Fault events whose last alert was still active at the end of the file."""
        return sum(1 for f in self.faults if f.cleared is False)

    def _clear_times(self, after_normal: bool) -> list[float]:
        values = (f.clear_after_normal_s if after_normal else f.clear_after_fault_s for f in self.faults)
        return [v for v in values if v is not None]

    @property
    def median_clear_s(self) -> float:
        """Median time from a fault's last row to its alert's clear (events whose alert cleared)."""
        return _median(self._clear_times(False))

    @property
    def max_clear_s(self) -> float:
        return _max(self._clear_times(False))

    @property
    def median_clear_after_normal_s(self) -> float:
        """Median time from the first normal row after a fault to its alert's clear."""
        return _median(self._clear_times(True))

    @property
    def max_clear_after_normal_s(self) -> float:
        return _max(self._clear_times(True))

    def to_json(self) -> dict[str, Any]:
        return {
            "false_alarm_rate": {
                "before_first_fault": self.before_fault.to_json(),
                "after_fault": self.after_fault.to_json(),
                "within_post_fault": {**self.within_post_fault.to_json(), "window_s": POST_FAULT_S},
            },
            "alerts": {
                "raised": self.raises,
                "raised_in_faults": self.raises_in_faults,
                "raised_outside_faults": self.false_raises,
                "detected_events": self.detected_events,
                "raises_per_detected_event": _json_float(self.raises_per_event),
                "chattering": self.chattering,
                "chatter_window_s": CHATTER_S,
            },
            "clear": {
                "events_with_alert": sum(1 for f in self.faults if f.raises),
                "not_cleared": self.not_cleared,
                "median_after_fault_s": _json_float(self.median_clear_s),
                "max_after_fault_s": _json_float(self.max_clear_s),
                "median_after_first_normal_s": _json_float(self.median_clear_after_normal_s),
                "max_after_first_normal_s": _json_float(self.max_clear_after_normal_s),
            },
            "events": [f.to_json() for f in self.faults],
        }


def lifecycle(
    labels: Any,
    flagged: Any,
    alert_active: Any,
    timestamps: Any,
    events: Sequence[EventResult],
    *,
    tolerance_s: float = 0.0,
    source: str = "",
) -> LifecycleResult:
    """The life-cycle figures of one file. ``events`` are its labelled fault events as
    :func:`edgewatch.evaluate.events.event_report` found them with the same ``tolerance_s``."""
    lab = as_binary(labels, "labels")
    n = lab.shape[0]
    flag = as_binary(flagged, "flagged")
    active = as_binary(alert_active, "alert_active")
    if flag.shape[0] != n or active.shape[0] != n:
        raise ValueError(f"flagged and alert_active must have {n} rows, got {flag.shape[0]} and {active.shape[0]}")
    t = as_seconds(timestamps, n)
    segs = [(e.start, e.end) for e in events]
    windows = list(zip([s for s, _ in segs], window_ends(segs, t, tolerance_s), strict=True))
    spans = alert_spans(active)

    def belongs(span: AlertSpan, window: tuple[int, int]) -> bool:
        return span.start < window[1] and span.end > window[0]

    normal = ~lab
    first = min((s for s, _ in segs), default=n)
    before = normal.copy()
    before[first:] = False
    after = normal & ~before
    recent = np.zeros(n, dtype=bool)
    for _, end in segs:
        last = end - 1
        recent[end : int(np.searchsorted(t, t[last] + POST_FAULT_S, side="right"))] = True
    recent &= normal

    faults = []
    for event, window in zip(events, windows, strict=True):
        mine = [s for s in spans if belongs(s, window)]
        faults.append(_recovery(event, mine, lab, t, source))
    in_faults = sum(1 for s in spans if any(belongs(s, w) for w in windows))
    chatter = 0
    for prev, span in itertools.pairwise(spans):
        if t[span.start] - t[prev.end] > CHATTER_S:
            continue
        new_fault = any(w[0] <= span.start < w[1] and not belongs(prev, w) for w in windows)
        chatter += not new_fault
    return LifecycleResult(
        before_fault=RowShare(int((flag & before).sum()), int(before.sum())),
        after_fault=RowShare(int((flag & after).sum()), int(after.sum())),
        within_post_fault=RowShare(int((flag & recent).sum()), int(recent.sum())),
        raises=len(spans),
        raises_in_faults=in_faults,
        detected_events=sum(1 for e in events if e.detected),
        chattering=chatter,
        faults=tuple(faults),
    )


def _recovery(event: EventResult, spans: list[AlertSpan], lab: np.ndarray, t: np.ndarray, source: str) -> FaultRecovery:
    """One event's record from the alerts that belong to it."""
    cleared: bool | None = None
    after_fault = after_normal = None
    if spans:
        last = spans[-1]
        cleared = last.cleared
        if cleared:
            clear_t = float(t[last.end])
            after_fault = max(0.0, clear_t - float(t[event.end - 1]))
            following = np.flatnonzero(~lab[event.end :])
            if following.size:
                after_normal = max(0.0, clear_t - float(t[event.end + int(following[0])]))
    return FaultRecovery(
        start=event.start,
        end=event.end,
        fault_type=event.fault_type,
        detected=event.detected,
        raises=len(spans),
        cleared=cleared,
        clear_after_fault_s=after_fault,
        clear_after_normal_s=after_normal,
        source=source or event.source,
    )


def pool_lifecycle(results: Sequence[LifecycleResult]) -> LifecycleResult:
    """Pool several files: add the row shares and counts, concatenate the per-event records."""
    if not results:
        raise ValueError("pool_lifecycle() needs at least one LifecycleResult")
    total = results[0]
    for r in results[1:]:
        total = LifecycleResult(
            before_fault=total.before_fault + r.before_fault,
            after_fault=total.after_fault + r.after_fault,
            within_post_fault=total.within_post_fault + r.within_post_fault,
            raises=total.raises + r.raises,
            raises_in_faults=total.raises_in_faults + r.raises_in_faults,
            detected_events=total.detected_events + r.detected_events,
            chattering=total.chattering + r.chattering,
            faults=total.faults + r.faults,
        )
    return total
