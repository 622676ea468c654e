"""The alert life cycle on hand-made sequences: false alarms before and after faults, alerts per fault event,
chattering and time to clear."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgewatch.evaluate.events import event_report
from edgewatch.evaluate.lifecycle import (
    AlertSpan,
    LifecycleResult,
    alert_spans,
    lifecycle,
    pool_lifecycle,
)

T0 = 1.7e9


def _rows(n: int, faults: list[tuple[int, int]], alerts: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    labels = np.zeros(n, dtype=np.int8)
    for a, b in faults:
        labels[a:b] = 1
    active = np.zeros(n, dtype=bool)
    for a, b in alerts:
        active[a:b] = True
    return labels, active


def _run(
    n: int,
    faults: list[tuple[int, int]],
    alerts: list[tuple[int, int]],
    *,
    step_s: float = 60.0,
    tolerance_s: float = 0.0,
    flagged: np.ndarray | None = None,
) -> LifecycleResult:
    labels, active = _rows(n, faults, alerts)
    t = T0 + np.arange(n) * step_s
    flags = active if flagged is None else flagged
    events = event_report(labels, flags, t, tolerance_s=tolerance_s)
    return lifecycle(labels, flags, active, t, events, tolerance_s=tolerance_s, source="f.csv")


def test_alert_spans_are_raise_to_clear() -> None:
    assert alert_spans([0, 1, 1, 0, 1]) == [AlertSpan(1, 3, True), AlertSpan(4, 5, False)]
    assert alert_spans([0, 0]) == []


def test_one_fault_one_alert_that_outlives_it_by_four_minutes() -> None:
    # rows a minute apart; fault on rows 5-7, alert raised on row 6 and cleared on row 11
    r = _run(20, [(5, 8)], [(6, 11)])
    assert (r.before_fault.flagged, r.before_fault.rows) == (0, 5)
    assert (r.after_fault.flagged, r.after_fault.rows) == (3, 12)  # rows 8, 9, 10 of the normal rows 8-19
    assert r.after_fault.rate == pytest.approx(0.25)
    assert (r.raises, r.raises_in_faults, r.false_raises, r.detected_events) == (1, 1, 0, 1)
    assert r.raises_per_event == 1.0 and r.chattering == 0
    (f,) = r.faults
    assert (f.raises, f.cleared, f.detected, f.source) == (1, True, True, "f.csv")
    assert f.clear_after_fault_s == 240.0  # last fault row 7 → clear on row 11
    assert f.clear_after_normal_s == 180.0  # first normal row 8 → row 11
    assert r.median_clear_s == r.max_clear_s == 240.0 and r.not_cleared == 0


def test_chattering_counts_re_raises_within_ten_minutes_but_not_a_new_fault() -> None:
    # fault A rows 10-19, fault B rows 30-34; alerts (raise row, clear row):
    #   2→4    before any fault: a false alarm
    #   12→15  raised in A, 8 min after the last clear: A is a new fault, not chatter
    #   17→23  raised again in A 2 min after the clear: chatter
    #   26→28  raised 3 min after the clear, outside any fault: chatter (and a false alarm)
    #   31→38  raised 3 min after the clear, inside B which the previous alert did not belong to: not chatter
    r = _run(60, [(10, 20), (30, 35)], [(2, 4), (12, 15), (17, 23), (26, 28), (31, 38)])
    assert (r.raises, r.raises_in_faults, r.false_raises) == (5, 3, 2)
    assert r.detected_events == 2 and r.raises_per_event == 1.5
    assert r.chattering == 2
    assert [f.raises for f in r.faults] == [2, 1]
    assert (r.before_fault.flagged, r.before_fault.rows) == (2, 10)
    # normal rows from row 10 on: 20-29 and 35-59; flagged 20-22, 26-27, 35-37
    assert (r.after_fault.flagged, r.after_fault.rows) == (8, 35)
    a, b = r.faults
    assert a.clear_after_fault_s == 240.0 and a.clear_after_normal_s == 180.0  # the last of A's alerts, 17→23
    assert b.clear_after_fault_s == 240.0 and b.clear_after_normal_s == 180.0  # 34 → 38


def test_a_raise_more_than_ten_minutes_after_the_clear_is_not_chatter() -> None:
    r = _run(40, [(5, 8)], [(6, 9), (20, 21)])
    assert r.chattering == 0 and r.false_raises == 1
    r = _run(40, [(5, 8)], [(6, 9), (19, 21)])  # exactly 10 min after the clear on row 9
    assert r.chattering == 1


def test_the_post_fault_window_is_one_hour_after_the_last_fault_row() -> None:
    n, step = 20, 600.0  # ten minutes a row; fault rows 2-3, last at 30 min
    flagged = np.zeros(n, dtype=bool)
    flagged[[0, 5, 12]] = True
    r = _run(n, [(2, 4)], [], step_s=step, flagged=flagged)
    assert (r.before_fault.flagged, r.before_fault.rows) == (1, 2)
    assert (r.within_post_fault.flagged, r.within_post_fault.rows) == (1, 6)  # rows 4-9: up to 90 min
    assert (r.after_fault.flagged, r.after_fault.rows) == (2, 16)


def test_an_alert_that_never_clears_and_a_fault_without_an_alert() -> None:
    r = _run(30, [(5, 10)], [(7, 30)])
    (f,) = r.faults
    assert f.raises == 1 and f.cleared is False and f.clear_after_fault_s is None
    assert r.not_cleared == 1 and math.isnan(r.median_clear_s)
    r = _run(30, [(5, 10)], [])
    (f,) = r.faults
    assert f.raises == 0 and f.cleared is None and not f.detected
    assert math.isnan(r.raises_per_event) and r.raises == 0


def test_an_alert_cleared_during_the_fault_took_no_time_to_clear() -> None:
    r = _run(30, [(5, 15)], [(6, 9)])
    assert r.faults[0].clear_after_fault_s == 0.0 and r.faults[0].clear_after_normal_s == 0.0


def test_a_raise_within_the_detection_tolerance_belongs_to_the_fault() -> None:
    late = [(5, 8)], [(9, 12)]  # raised two rows (2 min) after the fault's last row
    assert _run(30, *late).raises_in_faults == 0
    r = _run(30, *late, tolerance_s=180.0)
    assert r.raises_in_faults == 1 and r.detected_events == 1 and r.faults[0].clear_after_fault_s == 300.0


def test_without_faults_every_normal_row_is_before() -> None:
    flagged = np.zeros(10, dtype=bool)
    flagged[3] = True
    r = _run(10, [], [(3, 4)], flagged=flagged)
    assert (r.before_fault.flagged, r.before_fault.rows) == (1, 10)
    assert r.after_fault.rows == 0 and math.isnan(r.after_fault.rate)
    assert r.false_raises == 1 and r.faults == ()


def test_pooling_adds_counts_and_keeps_every_event() -> None:
    one = _run(20, [(5, 8)], [(6, 11)])
    two = _run(60, [(10, 20), (30, 35)], [(2, 4), (12, 15), (17, 23), (26, 28), (31, 38)])
    pooled = pool_lifecycle([one, two])
    assert pooled.raises == 6 and pooled.raises_in_faults == 4 and pooled.detected_events == 3
    assert pooled.chattering == 2 and len(pooled.faults) == 3
    assert pooled.before_fault.rows == 15 and pooled.after_fault.flagged == 11
    assert pooled.median_clear_s == 240.0 and pooled.max_clear_s == 240.0
    data = pooled.to_json()
    assert data["alerts"]["raises_per_detected_event"] == pytest.approx(4 / 3)
    assert data["false_alarm_rate"]["before_first_fault"] == {"rate": 2 / 15, "flagged": 2, "rows": 15}
    assert len(data["events"]) == 3
    with pytest.raises(ValueError):
        pool_lifecycle([])


def test_rows_must_line_up() -> None:
    labels, active = _rows(10, [(2, 4)], [])
    t = T0 + np.arange(10.0)
    with pytest.raises(ValueError):
        lifecycle(labels, active[:9], active, t, [])
