"""A wrong clock and a saved state cannot silence a device: far-future readings are refused at parse, saved
times beyond the clock are dropped at restore, and the bundle's calibrated threshold wins over a saved one
unless the saved one was learned by the adaptive mode against that same calibration (issue 13, defects 1, 4)."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from edgewatch.core import AlertConfig, AlertEvent, CheckConfig, InputRejected, Pipeline, ThresholdConfig
from tests.core.test_pipeline import T0, new_pipeline, payload

YEAR_2100 = 4_102_444_800.0
FIXED = ThresholdConfig(mode="fixed")
ALERTS = AlertConfig(k=3, n=5, clear_after=3, cooldown_s=0.0, instant_ratio=math.inf)


def feed(pipe: Pipeline, values: list[list[float]], start: float, device: str = "d") -> list:
    """Readings one second apart from ``start``, each arriving at its own time."""
    return pipe.process([(device, payload(v, start + i), start + i) for i, v in enumerate(values)])


def normal(n: int) -> list[list[float]]:
    return [[0.1 * (i % 3), -0.1, 0.05 * (i % 5)] for i in range(n)]


FAULT = [[2.5, 2.5, 2.5]] * 5  # mean squared z-score 6.25 > the fake bundle's threshold of 4


def saved(pipe: Pipeline) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(pipe.state_snapshot(), allow_nan=False))
    return loaded


def raised(events: list) -> list[AlertEvent]:
    return [e for e in events if isinstance(e, AlertEvent) and e.state == "raised"]


# ---------------------------------------------------------------- defect 1: one far-future timestamp
def test_one_far_future_reading_does_not_silence_the_device(make_manifest, fake_scorer) -> None:
    pipe = new_pipeline(make_manifest(), fake_scorer, thresholds=FIXED, alerts=ALERTS)
    feed(pipe, normal(5), T0)
    bad = pipe.process([("d", payload([0.1, 0.1, 0.1], YEAR_2100), T0 + 5)])  # a wrong RTC, one bad packet
    assert [(e.reason, e.field) for e in bad if isinstance(e, InputRejected)] == [("future_timestamp", "ts")]
    assert pipe.devices["d"].last_ts == T0 + 4
    assert pipe.counters["future_timestamp"] == 1
    assert raised(feed(pipe, FAULT, T0 + 6)), "a fault right after the bad reading must still raise an alert"


def test_the_skew_is_configurable_and_late_readings_are_accepted(make_manifest, fake_scorer) -> None:
    pipe = new_pipeline(make_manifest(), fake_scorer, checks=CheckConfig(max_clock_skew_s=10.0))
    events = pipe.process(
        [
            ("d", payload([0, 0, 0], T0), T0 + 3600),  # an hour late (buffered on the device): accepted
            ("d", payload([0, 0, 0], T0 + 3611), T0 + 3600),  # 11 s ahead: refused
            ("d", payload([0, 0, 0], T0 + 3609), T0 + 3600),  # 9 s ahead: accepted
        ]
    )
    assert [type(e).__name__ for e in events] == ["ScoredReading", "InputRejected", "ScoredReading"]


def test_a_saved_future_time_is_dropped_at_restore(make_manifest, scorer_factory) -> None:
    before = new_pipeline(make_manifest(), scorer_factory(), thresholds=FIXED, alerts=ALERTS)
    feed(before, normal(3), T0)
    state = saved(before)
    state["devices"]["d"]["last_ts"] = YEAR_2100  # saved by a version that accepted the 2100 reading
    state["devices"]["d"]["alert"]["cooldown_until"] = YEAR_2100
    after = new_pipeline(make_manifest(), scorer_factory(), thresholds=FIXED, alerts=ALERTS)
    report = after.restore(state, now=T0 + 10)
    assert after.devices["d"].last_ts is None
    assert report.future_times_dropped == ("d",)
    assert "d" in report.describe() and "future" in report.describe()
    assert raised(feed(after, FAULT, T0 + 10)), "the restored device must accept and judge new readings"


# ---------------------------------------------------------------- defect 4: the saved state overrides the bundle
def test_fixed_threshold_comes_from_the_bundle_not_the_saved_state(make_manifest, scorer_factory) -> None:
    before = new_pipeline(make_manifest(), scorer_factory(), thresholds=FIXED, alerts=ALERTS)
    feed(before, normal(3), T0)
    state = saved(before)
    state["devices"]["d"]["threshold"]["t0"] = 1e9  # a tampered or corrupted state file
    after = new_pipeline(make_manifest(), scorer_factory(), thresholds=FIXED, alerts=ALERTS)
    report = after.restore(state, now=T0 + 10)
    assert after.devices["d"].threshold.value == 4.0
    assert report.thresholds_from_bundle == ("d",) and report.thresholds_from_state == ()
    assert raised(feed(after, FAULT, T0 + 10))


def test_a_recalibrated_bundle_with_the_same_model_id_takes_effect(make_manifest, scorer_factory) -> None:
    before = new_pipeline(make_manifest(threshold=4.0), scorer_factory(), thresholds=FIXED)
    feed(before, normal(3), T0)
    after = new_pipeline(make_manifest(threshold=2.0), scorer_factory(), thresholds=FIXED)
    after.restore(saved(before), now=T0 + 10)
    assert after.devices["d"].threshold.value == 2.0


def adaptive_state(make_manifest, scorer_factory, threshold: float = 4.0) -> dict[str, Any]:
    config = ThresholdConfig(mode="adaptive", warmup=5)
    before = new_pipeline(make_manifest(threshold=threshold), scorer_factory(), thresholds=config)
    feed(before, normal(40), T0)
    state = saved(before)
    assert state["devices"]["d"]["threshold"]["n_learned"] > 5
    return state


def test_an_adaptive_level_learned_against_this_calibration_is_kept(make_manifest, scorer_factory) -> None:
    state = adaptive_state(make_manifest, scorer_factory)
    config = ThresholdConfig(mode="adaptive", warmup=5)
    after = new_pipeline(make_manifest(threshold=4.0), scorer_factory(), thresholds=config)
    report = after.restore(copy.deepcopy(state), now=T0 + 100)
    restored = after.devices["d"].threshold
    assert restored.snapshot().level == state["devices"]["d"]["threshold"]["level"]
    assert report.thresholds_from_state == ("d",)


def test_an_adaptive_level_learned_against_another_calibration_starts_afresh(make_manifest, scorer_factory) -> None:
    state = adaptive_state(make_manifest, scorer_factory, threshold=4.0)
    config = ThresholdConfig(mode="adaptive", warmup=5)
    after = new_pipeline(make_manifest(threshold=3.0), scorer_factory(), thresholds=config)
    report = after.restore(state, now=T0 + 100)
    fresh = after.devices["d"].threshold.snapshot()
    assert fresh.t0 == 3.0 and fresh.n_learned == 0
    assert report.thresholds_from_bundle == ("d",)


def test_the_report_says_which_parts_came_from_the_state(make_manifest, scorer_factory) -> None:
    before = new_pipeline(make_manifest(), scorer_factory(), thresholds=FIXED, alerts=ALERTS)
    feed(before, normal(3) + FAULT, T0)
    after = new_pipeline(make_manifest(), scorer_factory(), thresholds=FIXED, alerts=ALERTS)
    report = after.restore(saved(before), now=T0 + 100)
    from edgewatch.core.restore import RestoreReport

    assert isinstance(report, RestoreReport) and report.devices == 1 and report.open_alerts == ("d",)
    text = report.describe()
    assert "threshold from the bundle" in text and "alert state" in text and "1 open alert" in text
