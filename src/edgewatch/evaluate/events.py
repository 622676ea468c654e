"""Event-level evaluation: was each labelled fault caught, how late, and how many false alarms.

Conventions (all row ranges are half-open, ``[start, end)``, in row indices of one file):

* An **event** is a maximal run of rows labelled 1. When per-row fault types are given, a run is also
  split where the fault type changes, so back-to-back faults of different types are separate events.
* An event's **window** is ``[start, end)`` plus, with ``tolerance_s > 0``, the rows after the event whose
  timestamp is at most ``timestamps[end - 1] + tolerance_s`` (never reaching into the next event). The
  tolerance exists for alert policies that need several readings (k-of-n) before they fire; it is 0 by
  default.
* A **false alarm event** is a maximal run of predicted-positive rows that *starts* outside every event
  window, even when it goes on into an event: the device was alarming before the fault began.
* An event is **detected** if at least one predicted-positive row lies in its window and belongs to a run
  that started inside an event window (this one, or an earlier event whose alert is still up). A run
  raised before the fault and still up when it starts does not detect it: it counts as a false alarm,
  not as a detection with zero delay. When the flags come from several channels (the device's alert and
  sensor-fault states), runs are credited per channel, so a sensor fault raised during the event still
  detects it while an earlier alert is up.
* **Delay** is ``timestamps[first detecting row] - timestamps[start]`` in seconds.
* **False alarms per day** divide the number of false alarm events by the normal time in days; normal
  time is measured by :func:`normal_duration_s`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgewatch.evaluate._arrays import as_binary, as_fault_types, as_seconds

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class EventResult:
    """One labelled fault event and whether it was detected.

    ``start``/``end`` are row indices (``end`` exclusive). ``delay_s`` and ``first_detection_row`` are
    ``None`` when the event was missed. ``start_time`` is the timestamp of row ``start`` and
    ``end_time`` that of the last labelled row ``end - 1``. ``source`` names the file (may be empty).
    """

    start: int
    end: int
    fault_type: str | None
    detected: bool
    delay_s: float | None
    first_detection_row: int | None
    start_time: float = 0.0
    end_time: float = 0.0
    source: str = ""

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last labelled row of the event."""
        return self.end_time - self.start_time

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FalseAlarmEvent:
    """A run of predicted-positive rows ``[start, end)`` that starts outside every labelled event."""

    start: int
    end: int
    start_time: float
    end_time: float
    source: str = ""

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last row of the run."""
        return self.end_time - self.start_time

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of ``True`` in a 1-D bool array, as half-open ``(start, end)`` row ranges."""
    m = np.asarray(mask, dtype=bool)
    if m.size == 0:
        return []
    padded = np.concatenate(([False], m, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(s), int(e)) for s, e in zip(edges[0::2], edges[1::2], strict=True)]


def segments(labels: Any, fault_types: Any = None) -> list[tuple[int, int]]:
    """Contiguous runs of label 1 as half-open ``(start, end)`` row ranges, in order.

    With ``fault_types`` (one name per row), a run is also split where the fault type changes.
    """
    lab = as_binary(labels, "labels")
    out = runs(lab)
    types = as_fault_types(fault_types, lab.shape[0])
    if types is None:
        return out
    split: list[tuple[int, int]] = []
    for start, end in out:
        s = start
        for i in range(start + 1, end):
            if types[i] != types[i - 1]:
                split.append((s, i))
                s = i
        split.append((s, end))
    return split


def window_ends(segs: list[tuple[int, int]], t: np.ndarray, tolerance_s: float) -> list[int]:
    """For each event ``segs[k]``, the exclusive end row of its window: the event plus the rows at most
    ``tolerance_s`` after its last row, never reaching into the next event."""
    if tolerance_s < 0 or not np.isfinite(tolerance_s):
        raise ValueError(f"tolerance_s must be a finite number >= 0, got {tolerance_s}")
    ends = []
    for k, (_, end) in enumerate(segs):
        limit = segs[k + 1][0] if k + 1 < len(segs) else t.shape[0]
        if tolerance_s > 0:
            last = int(np.searchsorted(t, t[end - 1] + tolerance_s, side="right"))
            ends.append(max(end, min(last, limit)))
        else:
            ends.append(end)
    return ends


def _checked_rows(labels: Any, predicted: Any, timestamps: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated 0/1 labels, 0/1 predictions and epoch-second timestamps of one file, all of one length."""
    lab = as_binary(labels, "labels")
    n = lab.shape[0]
    pred = as_binary(predicted, "predicted")
    if pred.shape[0] != n:
        raise ValueError(f"predicted has {pred.shape[0]} rows, expected {n}")
    return lab, pred, as_seconds(timestamps, n)


def event_report(
    labels: Any,
    predicted: Any,
    timestamps: Any,
    fault_types: Any = None,
    *,
    tolerance_s: float = 0.0,
    source: str = "",
    channels: Sequence[Any] | None = None,
) -> list[EventResult]:
    """Evaluate every labelled event of one file (see the module docstring for the rules).

    ``channels`` are the separate flags whose union is ``predicted`` (e.g. the device's alert state and its
    sensor-fault state). With them, a run is credited per channel: a sensor fault raised during an event
    detects it even while an alert raised before the event is still up."""
    lab, pred, t = _checked_rows(labels, predicted, timestamps)
    n = lab.shape[0]
    types = as_fault_types(fault_types, n)
    segs = segments(lab, types)
    stops = window_ends(segs, t, tolerance_s)
    covered = _covered(n, segs, stops)
    credited = _credited(pred, covered)
    for channel in channels or ():
        flags = as_binary(channel, "channel")
        if flags.shape != pred.shape or (flags & ~pred).any():
            raise ValueError("every channel must have one flag per row and lie inside predicted")
        credited |= _credited(flags, covered)
    results = []
    for (start, end), stop in zip(segs, stops, strict=True):
        hits = np.flatnonzero(credited[start:stop])
        first = int(start + hits[0]) if hits.size else None
        results.append(
            EventResult(
                start=start,
                end=end,
                fault_type=types[start] if types is not None else None,
                detected=first is not None,
                delay_s=float(t[first] - t[start]) if first is not None else None,
                first_detection_row=first,
                start_time=float(t[start]),
                end_time=float(t[end - 1]),
                source=source,
            )
        )
    return results


def false_alarm_events(
    labels: Any,
    predicted: Any,
    timestamps: Any,
    *,
    tolerance_s: float = 0.0,
    source: str = "",
) -> list[FalseAlarmEvent]:
    """Runs of predicted-positive rows that start outside every labelled event and its tolerance window."""
    lab, pred, t = _checked_rows(labels, predicted, timestamps)
    n = lab.shape[0]
    segs = segments(lab)
    covered = _covered(n, segs, window_ends(segs, t, tolerance_s))
    return [
        FalseAlarmEvent(start, end, float(t[start]), float(t[end - 1]), source)
        for start, end in runs(pred)
        if not covered[start]
    ]


def _covered(n: int, segs: list[tuple[int, int]], stops: list[int]) -> np.ndarray:
    """Rows inside some event's window (the event plus its tolerance rows)."""
    covered = np.zeros(n, dtype=bool)
    for (start, _), stop in zip(segs, stops, strict=True):
        covered[start:stop] = True
    return covered


def _credited(pred: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Predicted-positive rows of runs that started inside an event window: the rows that may detect."""
    credited = np.zeros(pred.shape[0], dtype=bool)
    for start, end in runs(pred):
        if covered[start]:
            credited[start:end] = True
    return credited


def normal_duration_s(labels: Any, timestamps: Any) -> float:
    """Seconds of normal (label 0) time in one file.

    Each normal row counts for the interval to the next row. Intervals longer than 10 times the median
    sampling interval (data gaps, device off) and the last row count as one median interval, so an
    outage does not inflate the normal time.
    """
    lab = as_binary(labels, "labels")
    n = lab.shape[0]
    t = as_seconds(timestamps, n)
    if n == 0:
        return 0.0
    if n == 1:
        return 0.0
    dt = np.diff(t)
    median = float(np.median(dt))
    dt = np.where(dt > 10 * median, median, dt)
    dt = np.append(dt, median)
    return float(dt[~lab].sum())


def false_alarms_per_day(n_false_alarms: int, normal_duration_s: float) -> float:
    """False alarm events per 24 h of normal time; NaN when there was no normal time."""
    if not normal_duration_s > 0:
        return float("nan")
    return n_false_alarms * SECONDS_PER_DAY / normal_duration_s
