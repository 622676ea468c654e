"""Event detection, delays, false alarm events and normal time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgewatch.errors import DataError
from edgewatch.evaluate.metrics import (
    event_report,
    false_alarm_events,
    false_alarms_per_day,
    normal_duration_s,
    segments,
)


def test_segments_are_half_open_runs_of_ones() -> None:
    assert segments([0, 1, 1, 0, 0, 1, 0, 1]) == [(1, 3), (5, 6), (7, 8)]
    assert segments([1, 1, 1]) == [(0, 3)]
    assert segments([0, 0]) == []
    assert segments([]) == []
    assert segments(np.array([True, False, True])) == [(0, 1), (2, 3)]


def test_segments_split_where_the_fault_type_changes() -> None:
    labels = [0, 1, 1, 1, 1, 0]
    types = ["", "a", "a", "b", "b", ""]
    assert segments(labels) == [(1, 5)]
    assert segments(labels, types) == [(1, 3), (3, 5)]


def test_event_detection_and_delay() -> None:
    #            0  1  2  3  4  5  6  7  8  9 10 11
    labels = [0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0]
    predicted = [0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0]
    ts = np.array([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110], dtype=float) + 1.7e9
    types = ["", "leak", "leak", "leak", "", "", "stuck", "stuck", "", "", "", ""]
    events = event_report(labels, predicted, ts, types, source="f.csv")
    assert len(events) == 2
    first, second = events
    assert (first.start, first.end, first.fault_type) == (1, 4, "leak")
    assert first.detected and first.first_detection_row == 3
    assert first.delay_s == pytest.approx(20.0)
    assert first.start_time == ts[1] and first.end_time == ts[3] and first.duration_s == 20.0
    assert first.source == "f.csv"
    # row 8 is after the event: missed without tolerance
    assert (second.start, second.end, second.fault_type) == (6, 8, "stuck")
    assert not second.detected and second.delay_s is None and second.first_detection_row is None


def test_detection_tolerance_after_the_event() -> None:
    labels = [0, 1, 1, 0, 0, 0, 0]
    predicted = [0, 0, 0, 0, 1, 0, 0]
    ts = np.arange(7) * 10.0
    assert not event_report(labels, predicted, ts)[0].detected
    # last labelled row at t=20; row 4 at t=40 is 20 s later
    assert not event_report(labels, predicted, ts, tolerance_s=19.0)[0].detected
    (event,) = event_report(labels, predicted, ts, tolerance_s=20.0)
    assert event.detected and event.first_detection_row == 4 and event.delay_s == pytest.approx(30.0)
    # the same alert is a false alarm without tolerance, and not one with it
    assert [(f.start, f.end) for f in false_alarm_events(labels, predicted, ts)] == [(4, 5)]
    assert false_alarm_events(labels, predicted, ts, tolerance_s=20.0) == []
    with pytest.raises(ValueError):
        event_report(labels, predicted, ts, tolerance_s=-1.0)


def test_tolerance_never_reaches_into_the_next_event() -> None:
    labels = [1, 0, 1, 1]
    predicted = [0, 0, 1, 0]
    events = event_report(labels, predicted, [0.0, 1.0, 2.0, 3.0], tolerance_s=100.0)
    assert [e.detected for e in events] == [False, True]


def test_false_alarm_events_are_runs_not_touching_events() -> None:
    labels = [0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    predicted = [1, 1, 0, 0, 1, 1, 1, 0, 1, 0]
    ts = np.arange(10) * 5.0
    alarms = false_alarm_events(labels, predicted, ts, source="x")
    assert [(f.start, f.end) for f in alarms] == [(0, 2), (8, 9)]  # run 4..6 overlaps the event
    assert alarms[0].start_time == 0.0 and alarms[0].end_time == 5.0 and alarms[0].duration_s == 5.0
    assert alarms[0].source == "x"


def test_normal_duration_ignores_data_gaps() -> None:
    labels = [0, 0, 0, 1, 1, 0]
    ts = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert normal_duration_s(labels, ts) == pytest.approx(40.0)  # 4 normal rows x 10 s
    gap = [0.0, 10.0, 20.0, 30.0, 40.0, 100_000.0]
    assert normal_duration_s([0, 0, 0, 0, 0, 0], gap) == pytest.approx(60.0)  # gap counts one step
    assert normal_duration_s([], []) == 0.0


def test_false_alarms_per_day() -> None:
    assert false_alarms_per_day(3, 86400.0) == 3.0
    assert false_alarms_per_day(1, 3600.0) == pytest.approx(24.0)
    assert math.isnan(false_alarms_per_day(2, 0.0))


def test_datetime64_timestamps_are_seconds() -> None:
    ts = np.array(["2026-01-01T00:00:00", "2026-01-01T00:00:05", "2026-01-01T00:00:10"], "datetime64[s]")
    (event,) = event_report([1, 1, 0], [0, 1, 0], ts)
    assert event.delay_s == pytest.approx(5.0)


def test_bad_timestamps_are_data_errors() -> None:
    with pytest.raises(DataError, match="row 2"):
        event_report([0, 1, 0], [0, 1, 0], [0.0, 2.0, 1.0])
    with pytest.raises(DataError, match="finite"):
        event_report([0, 1], [0, 1], [0.0, np.nan])


def test_an_alert_raised_before_the_fault_is_a_false_alarm_not_a_detection() -> None:
    #            0  1  2  3  4  5  6  7
    labels = [0, 0, 0, 1, 1, 1, 0, 0]
    predicted = [0, 1, 1, 1, 1, 0, 0, 0]  # raised at row 1, before the fault, still up when it starts
    ts = np.arange(8) * 10.0
    (event,) = event_report(labels, predicted, ts)
    assert not event.detected and event.first_detection_row is None
    (false_alarm,) = false_alarm_events(labels, predicted, ts)
    assert (false_alarm.start, false_alarm.end) == (1, 5)
    # a fresh alert inside the fault after the early one cleared does detect it
    predicted = [0, 1, 1, 0, 1, 1, 0, 0]
    (event,) = event_report(labels, predicted, ts)
    assert event.detected and event.first_detection_row == 4
    assert len(false_alarm_events(labels, predicted, ts)) == 1


def test_an_alert_raised_by_one_event_and_still_up_detects_the_next() -> None:
    labels = [0, 1, 1, 0, 1, 1, 0]
    types = ["", "a", "a", "", "b", "b", ""]
    predicted = [0, 0, 1, 1, 1, 0, 0]  # raised in event a, still up when event b starts
    ts = np.arange(7) * 10.0
    first, second = event_report(labels, predicted, ts, types)
    assert first.first_detection_row == 2 and second.first_detection_row == 4
    assert false_alarm_events(labels, predicted, ts) == []


def test_a_sensor_fault_raised_during_the_event_detects_it_behind_an_earlier_alert() -> None:
    labels = [0, 0, 1, 1, 1, 0]
    alert = np.array([0, 1, 1, 1, 1, 0], dtype=bool)  # raised before the fault: a false alarm
    sensor_fault = np.array([0, 0, 0, 1, 1, 0], dtype=bool)  # raised during the fault
    flagged = alert | sensor_fault
    ts = np.arange(6) * 10.0
    assert not event_report(labels, flagged, ts)[0].detected  # one merged run, started outside
    (event,) = event_report(labels, flagged, ts, channels=(alert, sensor_fault))
    assert event.detected and event.first_detection_row == 3
    assert len(false_alarm_events(labels, flagged, ts)) == 1
    with pytest.raises(ValueError):
        event_report(labels, alert, ts, channels=(sensor_fault | ~alert,))
