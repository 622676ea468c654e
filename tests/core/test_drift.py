"""The drift baseline (core/drift.py): follows slow normal drift, never learns a fault away, same events
whatever the batching (that part: test_pipeline's batching test), saved across restarts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgewatch.core import AlertEvent, Pipeline, PipelineConfig
from edgewatch.core.alerts import AlertConfig
from edgewatch.core.drift import DriftBaseline, drift_enabled, learn_readings
from edgewatch.core.thresholds import ThresholdConfig
from edgewatch.errors import ConfigError
from tests.fakes import SquaredScorer, make_manifest

T0 = 1_700_000_000.0
THRESHOLD = 4.0  # the fake manifest's threshold; the fake model reconstructs zeros: residual = input


def pipeline(drift: str) -> Pipeline:
    config = PipelineConfig(ThresholdConfig(mode="fixed", drift=drift), AlertConfig(k=3, n=5, instant_ratio=math.inf))
    return Pipeline(make_manifest(), SquaredScorer(), config)


def feed(pipe: Pipeline, rows: np.ndarray, start: float = T0) -> list:
    payloads = [
        ("pump", json.dumps({"ts": start + i, "values": row.tolist()}).encode(), start + i)
        for i, row in enumerate(rows)
    ]
    return pipe.process(payloads)


def raised(events: list) -> list[AlertEvent]:
    return [e for e in events if isinstance(e, AlertEvent) and e.state == "raised"]


def warm_up(hours: float, rise: float) -> np.ndarray:
    """A sensor (temp) that rises by ``rise`` scaled units over ``hours``, the others at rest, small noise."""
    n = int(hours * 3600)
    rng = np.random.default_rng(3)
    rows = rng.normal(0.0, 0.2, (n, 3))
    rows[:, 0] += rise * np.arange(n) / n
    return rows


def test_slow_warm_up_is_learned_not_alerted() -> None:
    rows = warm_up(2.0, 6.0)  # 6 training sds over 2 h: score 36 / 3 = 12 > T = 4 without the baseline
    assert raised(feed(pipeline("off"), rows))
    pipe = pipeline("on")
    assert raised(feed(pipe, rows)) == []
    assert pipe.devices["pump"].drift.learned[0] == pytest.approx(6.0, abs=0.5)


def test_a_fault_is_not_learned_away() -> None:
    """A step fault after the warm-up raises and stays raised however long it lasts: the faulty sensor's
    offset is frozen while its error is above half the threshold; the alert clears when the fault ends."""
    pipe = pipeline("on")
    feed(pipe, warm_up(1.0, 3.0))
    offset_before = pipe.devices["pump"].drift.learned.copy()
    rng = np.random.default_rng(4)
    # vibration steps by 5 sds, for an hour
    fault = rng.normal(0.0, 0.2, (3600, 3)) + np.array([offset_before[0], 0.0, 5.0])
    events = feed(pipe, fault, start=T0 + 3600)
    assert len(raised(events)) == 1
    assert pipe.devices["pump"].alert.active  # still active after an hour
    assert pipe.devices["pump"].drift.learned[2] == pytest.approx(offset_before[2])
    back = rng.normal(0.0, 0.2, (60, 3)) + np.array([offset_before[0], 0.0, 0.0])
    events = feed(pipe, back, start=T0 + 7200)
    assert [e.state for e in events if isinstance(e, AlertEvent)][-1] == "cleared"


def learn_one(baseline: DriftBaseline, ts: float, residual, errors, threshold: float, *, suppressed: bool) -> None:
    learn_readings([baseline], [ts], [suppressed], [threshold], np.array([residual]), np.array([errors]))


def test_only_sensors_below_half_the_threshold_are_learned() -> None:
    baseline = DriftBaseline(2, tau_s=10.0, learn_below=0.5)
    residual = np.array([1.0, -1.0])
    errors = np.array([0.1, 0.6])  # the second sensor is above half the threshold (1.0)
    learn_one(baseline, 0.0, residual, errors, 1.0, suppressed=False)  # the first reading sets the clock
    learn_one(baseline, 1.0, residual, errors, 1.0, suppressed=True)  # machine stopped: nothing, clock restarts
    learn_one(baseline, 2.0, residual, errors, 1.0, suppressed=False)
    np.testing.assert_array_equal(baseline.learned, [0.0, 0.0])
    learn_one(baseline, 5.0, residual, errors, 1.0, suppressed=False)
    np.testing.assert_allclose(baseline.learned, [-math.expm1(-3.0 / 10.0), 0.0])


def test_learning_a_batch_equals_learning_one_reading_at_a_time_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    n = 40
    owners = rng.integers(0, 3, n)  # three devices' readings interleaved
    ts = T0 + np.cumsum(rng.uniform(0.0, 2.0, n))
    ts[5] = ts[4]  # a reading not after the previous one of its device learns nothing
    suppressed = rng.random(n) < 0.1
    thresholds = rng.uniform(0.5, 2.0, n)
    residuals = rng.normal(0.0, 1.0, (n, 4))
    errors = rng.uniform(0.0, 1.5, (n, 4))
    one_by_one = [DriftBaseline(4, tau_s=30.0) for _ in range(3)]
    batched = [DriftBaseline(4, tau_s=30.0) for _ in range(3)]
    for i in range(n):  # the rule one reading at a time, written out (module docstring of core/drift.py)
        b = one_by_one[owners[i]]
        alpha = b.step(ts[i], suppressed=bool(suppressed[i]))
        if alpha:
            b.pending += np.where(errors[i] < b.learn_below * thresholds[i], alpha * residuals[i], 0.0)
    learn_readings(
        [batched[o] for o in owners], ts.tolist(), suppressed.tolist(), thresholds.tolist(), residuals, errors
    )
    for a, b in zip(one_by_one, batched, strict=True):
        assert a.learned.tolist() == b.learned.tolist()  # exactly, not approximately
        assert a.last_ts == b.last_ts
    assert any(b.learned.any() for b in batched)


def test_auto_is_on_only_without_a_sustained_channel_and_with_a_reconstruction() -> None:
    assert drift_enabled("auto", has_sustained_channel=False, model_output="reconstruction")
    assert not drift_enabled("auto", has_sustained_channel=True, model_output="reconstruction")
    assert not drift_enabled("auto", has_sustained_channel=False, model_output="score")
    assert drift_enabled("on", has_sustained_channel=True, model_output="reconstruction")
    assert not drift_enabled("off", has_sustained_channel=False, model_output="reconstruction")
    with pytest.raises(ConfigError, match=r"thresholds\.drift"):
        ThresholdConfig(drift="sometimes")
    with pytest.raises(ConfigError, match=r"thresholds\.drift_learn_below"):
        ThresholdConfig(drift_learn_below=0.0)


def test_the_offset_survives_a_restart() -> None:
    pipe = pipeline("on")
    feed(pipe, warm_up(1.0, 3.0))
    saved = json.loads(json.dumps(pipe.state_snapshot()))
    again = pipeline("on")
    again.restore(saved)
    np.testing.assert_allclose(again.devices["pump"].drift.learned, pipe.devices["pump"].drift.learned)
    off = pipeline("off")
    off.restore(saved)  # a baseline saved while on is dropped when the config turns it off
    assert off.devices["pump"].drift is None


def test_a_batch_is_scored_one_model_call_per_grid_cell_not_per_reading() -> None:
    """Learned changes apply when a reading enters a new 10-s cell, so a device's readings of one cell share
    an offset and one model call; 100 readings a second apart in one batch: 11 cells, 11 calls (one reading
    at a time it was 100), and the same events as one by one (test_pipeline's batching test)."""
    scorer = SquaredScorer()
    config = PipelineConfig(ThresholdConfig(mode="fixed", drift="on"), AlertConfig(k=3, n=5, instant_ratio=math.inf))
    pipe = Pipeline(make_manifest(), scorer, config)
    feed(pipe, warm_up(100 / 3600, 1.0), start=T0 + 5)  # ts T0+5 .. T0+104: cells of T0 // 10 ... 11 of them
    assert len(scorer.calls) == 11
    assert sum(shape[0] for shape in scorer.calls) == 100
