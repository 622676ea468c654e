"""The sustained-deviation channel: its moving average, warm-up, persistence, and the pipeline using it."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from edgewatch.bundle.manifest import Manifest
from edgewatch.core import AlertEvent, CheckConfig, Pipeline, PipelineConfig, ScoredReading
from edgewatch.core.state import SustainedState
from edgewatch.core.sustained import SustainedLevel, sustained_levels
from edgewatch.errors import BundleError
from edgewatch.records import dump, load
from tests.fakes import SquaredScorer

T0 = 1767225600.0


def test_the_level_is_a_time_based_moving_average_judged_once_warm() -> None:
    level = SustainedLevel(10.0, fast_tau_s=None)
    assert level.update(T0, np.array([1.0, 0.0])) is None  # starts at the first errors, not warm
    assert level.update(T0 + 5, np.array([3.0, 0.0])) is None
    expected = 1.0 + (1 - math.exp(-0.5)) * (3.0 - 1.0)
    assert level.smooth is not None and level.smooth[0] == pytest.approx(expected)
    warm = level.update(T0 + 10, np.array([3.0, 0.0]))  # 10 s averaged: warm
    expected += (1 - math.exp(-0.5)) * (3.0 - expected)
    assert warm == pytest.approx(expected)


def test_a_gap_longer_than_the_time_constant_restarts_the_average() -> None:
    level = SustainedLevel(10.0, fast_tau_s=2.0)
    for i in range(30):
        level.update(T0 + i, np.array([5.0]))
    assert level.update(T0 + 30, np.array([5.0])) == pytest.approx(5.0)
    assert level.update(T0 + 60, np.array([1.0])) is None  # 30 s gap: starts afresh from 1.0
    assert level.smooth is not None and level.smooth[0] == 1.0 and level.since == T0 + 60
    assert level.fast is not None and level.fast[0] == 1.0


def test_the_fast_average_ends_the_level_soon_after_a_shift_ends() -> None:
    slow_only, both = SustainedLevel(100.0, fast_tau_s=None), SustainedLevel(100.0, fast_tau_s=5.0)
    for i in range(300):  # a shift of 10 for 300 s, then back to 0
        slow_only.update(T0 + i, np.array([10.0, 0.0]))
        both.update(T0 + i, np.array([10.0, 0.0]))
    ends = []
    for level in (slow_only, both):
        for i in range(300, 1000):
            if level.update(T0 + i, np.array([0.0, 0.0])) < 1.0:
                ends.append(i - 300)
                break
    assert ends[1] < 30 < 150 < ends[0]  # the fast average ends it within seconds, the slow one after minutes
    assert both.per_feature()[0] == pytest.approx(min(both.smooth[0], both.fast[0]))


def test_levels_of_a_run_match_the_device_one_reading_at_a_time() -> None:
    rng = np.random.default_rng(3)
    errors = rng.exponential(1.0, size=(200, 4))
    ts = T0 + np.cumsum(rng.uniform(0.5, 1.5, 200))
    levels = sustained_levels(errors, ts, 20.0, 4.0)
    level = SustainedLevel(20.0, 4.0)
    one_by_one = [level.update(float(t), e) for t, e in zip(ts, errors, strict=True)]
    assert [None if math.isnan(v) else v for v in levels] == pytest.approx(one_by_one)
    assert np.isnan(levels[0]) and np.isfinite(levels[-1])
    with pytest.raises(ValueError):
        sustained_levels(errors, ts[:-1], 20.0)
    with pytest.raises(ValueError):
        SustainedLevel(0.0)
    with pytest.raises(ValueError):
        SustainedLevel(10.0, fast_tau_s=float("inf"))


def test_state_round_trip_and_mismatches_start_afresh() -> None:
    level = SustainedLevel(10.0, 3.0)
    assert level.snapshot() is None  # nothing averaged yet
    for i in range(20):
        level.update(T0 + i, np.array([1.0, 2.0]))
    state = load(SustainedState, json.loads(json.dumps(dump(level.snapshot()))))
    restored = SustainedLevel.restore(state, 10.0, 2, 3.0)
    assert restored.snapshot() == level.snapshot()
    mismatches = (
        replace(state, tau_s=5.0),
        replace(state, fast_tau_s=4.0),
        replace(state, smooth=(1.0,)),
        replace(state, fast=None),
        replace(state, since=state.last_ts + 1),
        replace(state, smooth=(-1.0, 1.0)),
        None,
    )
    for saved in mismatches:
        fresh = SustainedLevel.restore(saved, 10.0, 2, 3.0)
        assert fresh.smooth is None and fresh.fast is None and fresh.last_ts is None
    slow_only = SustainedLevel.restore(replace(state, fast_tau_s=None, fast=None), 10.0, 2, None)
    assert slow_only.smooth is not None and slow_only.fast is None


def test_a_restart_forgets_the_averages_and_warms_up_again() -> None:
    level = SustainedLevel(10.0, fast_tau_s=2.0)
    for i in range(20):
        level.update(T0 + i, np.array([5.0]))
    level.restart()
    assert level.smooth is None and level.fast is None and level.last_ts is None and level.since is None
    assert level.update(T0 + 25, np.array([1.0])) is None  # afresh from 1.0, not warm
    assert level.smooth is not None and level.smooth[0] == 1.0 and level.since == T0 + 25
    for i in range(26, 35):
        assert level.update(T0 + i, np.array([1.0])) is None
    assert level.update(T0 + 35, np.array([1.0])) == pytest.approx(1.0)  # 10 s averaged


# ---------------------------------------------------------------- the pipeline with the channel


def shifted_stream(n: int, shift_from: int, shift: float = 1.5) -> list[list[float]]:
    """Three sensors of N(0, 0.5) noise; vibration (the third) shifted by ``shift`` from ``shift_from`` on."""
    rng = np.random.default_rng(11)
    rows = rng.normal(0.0, 0.5, size=(n, 3))
    rows[shift_from:, 2] += shift
    return rows.tolist()


def run(manifest: Manifest, rows: list[list[float]]) -> list:
    pipe = Pipeline(manifest, SquaredScorer(), PipelineConfig(checks=CheckConfig(stuck_detection=False)))
    from edgewatch.core import Reading

    events: list = []
    for i, values in enumerate(rows):
        events += pipe.process_reading("pump", Reading(ts=T0 + i, values=values))
    return events


def test_a_small_lasting_shift_raises_an_alert_only_with_the_channel(make_manifest) -> None:
    rows = shifted_stream(200, 100)
    with_channel = make_manifest(sustained=(10.0, 1.0))
    without = make_manifest()
    scored = [e for e in run(without, rows) if isinstance(e, ScoredReading)]
    assert max(e.score for e in scored) < 4.0  # no single reading is above the per-reading threshold
    assert not any(isinstance(e, AlertEvent) for e in run(without, rows))

    events = run(with_channel, rows)
    raised = [e for e in events if isinstance(e, AlertEvent) and e.state == "raised"]
    assert len(raised) == 1 and raised[0].ts > T0 + 100  # not before the shift
    alert = raised[0]
    assert alert.top_features[0].feature == "vibration" and alert.sustained is not None
    assert alert.sustained > alert.sustained_threshold == 1.0 and alert.score < alert.threshold
    message = alert.to_json()
    assert message["sustained_threshold"] == 1.0 and message["sustained"] == alert.sustained
    scored = [e for e in events if isinstance(e, ScoredReading)]
    assert all(e.sustained is None for e in scored[:10])  # warm-up: 10 s
    assert all(e.sustained is not None for e in scored[10:])
    assert not any(e.above for e in scored[10:100])  # normal noise stays under the sustained threshold


def test_the_channel_state_survives_a_restart(make_manifest) -> None:
    manifest = make_manifest(sustained=(10.0, 1.0))
    rows = shifted_stream(200, 100)
    whole = Pipeline(manifest, SquaredScorer(), PipelineConfig(checks=CheckConfig(stuck_detection=False)))
    first = Pipeline(manifest, SquaredScorer(), PipelineConfig(checks=CheckConfig(stuck_detection=False)))
    from edgewatch.core import Reading

    for i, values in enumerate(rows[:95]):
        whole.process_reading("pump", Reading(ts=T0 + i, values=values))
        first.process_reading("pump", Reading(ts=T0 + i, values=values))
    snapshot = json.loads(json.dumps(first.state_snapshot(), allow_nan=False))
    assert snapshot["devices"]["pump"]["sustained"]["tau_s"] == 10.0
    second = Pipeline(manifest, SquaredScorer(), PipelineConfig(checks=CheckConfig(stuck_detection=False)))
    second.restore(snapshot)
    for i, values in enumerate(rows[95:], start=95):
        reading = Reading(ts=T0 + i, values=values)
        assert [e.to_json() for e in second.process_reading("pump", reading)] == [
            e.to_json() for e in whole.process_reading("pump", reading)
        ]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("scoring", "sustained", "tau_s"), 0.0, "scoring.sustained.tau_s"),
        (("scoring", "sustained", "tau_s"), "900", "scoring.sustained.tau_s"),
        (("artifacts", 0, "threshold", "sustained"), -1.0, "artifacts[0].threshold.sustained"),
        (("artifacts", 0, "threshold", "sustained"), float("inf"), "artifacts[0].threshold.sustained"),
        (("artifacts", 0, "threshold", "sustained"), None, "artifacts.fake.threshold.sustained"),
    ],
)
def test_a_malformed_channel_in_the_manifest_is_refused(make_manifest_dict, path: tuple, value: Any, field: str):
    data = make_manifest_dict(sustained=(10.0, 1.0))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(BundleError, match=re.escape(field)):
        Manifest.from_json(data)


def test_the_channel_runs_with_the_threshold_calibrated_for_the_artifact_that_runs(make_manifest) -> None:
    assert Pipeline(make_manifest(sustained=(10.0, 0.5)), SquaredScorer()).sustained_threshold == 0.5
    pipe = Pipeline(make_manifest(), SquaredScorer())
    assert pipe.sustained_threshold is None and pipe._new_device("d").sustained is None


def test_the_device_config_can_ignore_the_channel(make_manifest) -> None:
    from edgewatch.core import ThresholdConfig
    from edgewatch.errors import ConfigError

    manifest = make_manifest(sustained=(10.0, 1.0))
    pipe = Pipeline(manifest, SquaredScorer(), PipelineConfig(thresholds=ThresholdConfig(sustained=False)))
    assert pipe.sustained_threshold is None
    events = []
    from edgewatch.core import Reading

    for i, values in enumerate(shifted_stream(200, 100)):
        events += pipe.process_reading("pump", Reading(ts=T0 + i, values=values))
    assert not any(isinstance(e, AlertEvent) for e in events)
    assert all(e.sustained is None for e in events if isinstance(e, ScoredReading))
    with pytest.raises(ConfigError) as info:
        ThresholdConfig(sustained="yes")  # type: ignore[arg-type]
    assert info.value.field == "thresholds.sustained"


def test_with_a_fast_average_the_alert_clears_within_minutes_of_the_shift_ending(make_manifest) -> None:
    rows = shifted_stream(700, 100)
    for row in rows[400:]:
        row[2] -= 1.5  # the shift lasts 300 s
    ends = {}
    for name, manifest in (
        ("slow", make_manifest(sustained=(120.0, 1.0))),
        ("both", make_manifest(sustained=(120.0, 1.0, 10.0))),
    ):
        events = run(manifest, rows)
        alerts = [(e.state, e.ts) for e in events if isinstance(e, AlertEvent) and e.state != "update"]
        assert [s for s, _ in alerts] == ["raised", "cleared"], name
        assert T0 + 100 < alerts[0][1] < T0 + 400
        ends[name] = alerts[1][1] - (T0 + 400)
    assert ends["both"] < 60 < ends["slow"]


def test_readings_while_stopped_or_settling_restart_the_averages(make_manifest) -> None:
    """A stop's transients (here temp far off while stopped) must not linger in the averages and raise an
    alert when the settle time ends; the same stream without a run indicator does raise one."""
    from edgewatch.core import AlertConfig, Reading

    rows = shifted_stream(300, 300)  # no shift: noise only
    for row in rows[150:170]:
        row[0] = -2.5  # stopped: temp (the run indicator here) reads low, its error is large
    results = {}
    for name, config in (
        ("suppressed", AlertConfig(k=2, n=3, suppress_feature="temp", suppress_below=-2.0, suppress_settle_s=2.0)),
        ("not suppressed", AlertConfig(k=2, n=3)),
    ):
        pipe = Pipeline(
            make_manifest(sustained=(10.0, 1.0, 3.0)),
            SquaredScorer(),
            PipelineConfig(checks=CheckConfig(stuck_detection=False), alerts=config),
        )
        events: list = []
        for i, values in enumerate(rows):
            events += pipe.process_reading("pump", Reading(ts=T0 + i, values=values))
        results[name] = events
    assert any(isinstance(e, AlertEvent) for e in results["not suppressed"])  # the stop alone raises one
    events = results["suppressed"]
    assert not any(isinstance(e, AlertEvent) for e in events)
    levels = {e.ts - T0: e.sustained for e in events if isinstance(e, ScoredReading)}
    assert levels[149] is not None and levels[149] < 1.0
    # stopped (150-169), settling (170-171), then 10 s of fresh averaging before it is judged again
    assert all(levels[t] is None for t in range(150, 182))
    assert all(levels[t] is not None and levels[t] < 1.0 for t in range(182, 300))


def test_recovering_sensors_are_left_out_of_the_level() -> None:
    """A sensor whose fast average fell below half its slow one is on its way back: left out."""
    level = SustainedLevel(100.0, 10.0)
    for t in range(200):
        level.update(float(t), np.array([4.0, 1.0]))  # both high, steady
    assert level.level(0.5) == pytest.approx(4.0)
    for t in range(200, 230):
        level.update(float(t), np.array([0.0, 1.0]))  # the first sensor is back
    slow, fast = level.smooth, level.fast
    assert fast[0] < 0.5 * slow[0]
    assert level.level(0.0) == pytest.approx(max(min(slow[0], fast[0]), 1.0))
    assert level.level(0.5) == pytest.approx(1.0)  # only the steady second sensor is left


def _replay(manifest: Manifest, rows: list[list[float]], recovering_ratio: float) -> list:
    from edgewatch.core import Reading, ThresholdConfig

    config = PipelineConfig(
        checks=CheckConfig(stuck_detection=False), thresholds=ThresholdConfig(recovering_ratio=recovering_ratio)
    )
    pipe = Pipeline(manifest, SquaredScorer(), config)
    events: list = []
    for i, values in enumerate(rows):
        events += pipe.process_reading("pump", Reading(ts=T0 + i, values=values))
    return events


def test_a_sensor_cooling_back_after_a_fault_is_left_out_of_the_score_too(make_manifest) -> None:
    """After a fault, a hot sensor cools back over minutes: each reading's own score stays above the threshold
    long after the sensor is on its way back. Left out of the score (as of the sustained level), the alert
    clears once the sensor is recovering, while the raw scores are still above the threshold; a fresh fault
    on the same sensor later still raises an alert at once."""
    rows = shifted_stream(1600, 10_000)  # noise only
    for t in range(200, 400):
        rows[t][2] = 20.0  # the fault: vibration far off (squared error 400, score ~133 against 4)
    for t in range(400, 1000):
        rows[t][2] = 20.0 * math.exp(-(t - 400) / 300.0)  # normal again: cooling back, time constant 300 s
    for t in range(1300, 1400):
        rows[t][2] = 20.0  # a second fault
    manifest = make_manifest(sustained=(100.0, 1.0, 10.0))
    alerts = {}
    for ratio in (0.5, 0.0):
        events = _replay(manifest, rows, ratio)
        alerts[ratio] = [(e.state, e.ts - T0) for e in events if isinstance(e, AlertEvent) and e.state != "update"]
        scores = {e.ts - T0: e.score for e in events if isinstance(e, ScoredReading)}
        assert [state for state, _ in alerts[ratio]][:3] == ["raised", "cleared", "raised"], ratio
        assert 200 <= alerts[ratio][0][1] < 203 and 1300 <= alerts[ratio][2][1] < 1303  # both faults at once
    cleared = alerts[0.5][1][1]
    # the vibration counts as recovering once its 10-s average is below half its 100-s one (~260 s after the
    # fault: the slow average must first forget it); its own error stays above 3 x 4 until ~525 s
    assert 400 + 240 < cleared < 400 + 320
    assert scores[cleared - 1] > 4.0  # the raw score is still above the threshold when the alert clears
    assert alerts[0.0][1][1] > 400 + 525  # judged in full: not before the score itself is back
