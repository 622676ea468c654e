"""Fixed and adaptive thresholds: warm-up, drift following, guards, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgewatch.bundle import Threshold
from edgewatch.core.state import ThresholdState
from edgewatch.core.thresholds import (
    AdaptiveThreshold,
    FixedThreshold,
    ThresholdConfig,
    make_threshold,
    restore_threshold,
)
from edgewatch.errors import ConfigError
from edgewatch.records import dump, load

T0 = 4.0
BASELINE = 1.0


def normal_scores(n: int, level: float, seed: int = 0) -> np.ndarray:
    """Positive scores with median ``level`` (lognormal, all well below the threshold)."""
    rng = np.random.default_rng(seed)
    return level * np.exp(rng.normal(0.0, 0.2, size=n))


def feed(th: AdaptiveThreshold, scores, *, alert_active: bool = False) -> None:
    for s in scores:
        th.observe(float(s), alert_active=alert_active)


def test_fixed_threshold() -> None:
    th = FixedThreshold(T0)
    assert th.value == T0
    assert th.observe(100.0, alert_active=False) is False
    assert th.observe(0.1, alert_active=False) is False
    restored = restore_threshold(saved(th), calibrated(0.5), ThresholdConfig(mode="fixed"))
    assert isinstance(restored, FixedThreshold) and restored.value == T0


def test_warmup_keeps_t0_then_follows_drift() -> None:
    th = AdaptiveThreshold(T0, baseline=BASELINE, config=ThresholdConfig(warmup=300))
    feed(th, normal_scores(299, 1.2 * BASELINE))
    assert th.value == T0 and not th.warmed_up
    assert th.level > BASELINE  # the level learns during warm-up already
    feed(th, normal_scores(1, 1.2 * BASELINE, seed=1))
    assert th.warmed_up and th.value != T0
    feed(th, normal_scores(3000, 1.2 * BASELINE, seed=2))
    assert th.level == pytest.approx(1.2 * BASELINE, rel=0.08)
    assert th.value == pytest.approx(1.2 * T0, rel=0.08)


def test_follows_slow_drift_down_and_up() -> None:
    th = AdaptiveThreshold(T0, baseline=BASELINE, config=ThresholdConfig(warmup=0))
    levels = np.linspace(1.0, 0.85, 4000)
    rng = np.random.default_rng(3)
    for level in levels:
        th.observe(float(level * np.exp(rng.normal(0, 0.2))), alert_active=False)
    assert th.value == pytest.approx(0.85 * T0, rel=0.06)
    for level in np.linspace(0.85, 1.3, 4000):
        th.observe(float(level * np.exp(rng.normal(0, 0.2))), alert_active=False)
    assert th.value == pytest.approx(1.3 * T0, rel=0.06)


def test_floor_and_ceiling() -> None:
    config = ThresholdConfig(warmup=0, floor=0.8, ceiling=1.5)
    th = AdaptiveThreshold(T0, baseline=BASELINE, config=config)
    feed(th, normal_scores(5000, 0.2))
    assert th.level < 0.3 and th.value == pytest.approx(0.8 * T0)
    th = AdaptiveThreshold(T0, baseline=BASELINE, config=config)
    feed(th, normal_scores(8000, 2.5, seed=4))  # still below the threshold, so learned
    assert th.level > 2.0 and th.value == pytest.approx(1.5 * T0)


def test_no_learning_during_alert() -> None:
    th = AdaptiveThreshold(T0, baseline=BASELINE, config=ThresholdConfig(warmup=0))
    before = th.snapshot()
    for s in normal_scores(500, 2.0):
        assert th.observe(float(s), alert_active=True) is False
    assert th.snapshot() == before


def test_no_learning_from_scores_above_threshold() -> None:
    th = AdaptiveThreshold(T0, baseline=BASELINE, config=ThresholdConfig(warmup=0))
    before = th.snapshot()
    for s in [T0, T0 * 1.01, 50.0, 1e9, float("nan")]:
        assert th.observe(s, alert_active=False) is False
    assert th.snapshot() == before


def test_extreme_normal_score_moves_level_one_step() -> None:
    config = ThresholdConfig(warmup=0, rate=0.01)
    th = AdaptiveThreshold(T0, baseline=BASELINE, config=config)
    th.observe(3.99, alert_active=False)
    assert th.level == pytest.approx(BASELINE + 0.01 * BASELINE)
    th.observe(0.0, alert_active=False)
    assert th.level == pytest.approx(BASELINE)


def baseline_of(threshold: FixedThreshold | AdaptiveThreshold) -> float:
    assert isinstance(threshold, AdaptiveThreshold)
    return threshold.baseline


def test_baseline_from_bundle_or_fallback_ratio() -> None:
    adaptive = ThresholdConfig(mode="adaptive")
    assert baseline_of(make_threshold(calibrated(0.5), adaptive)) == 0.5
    assert baseline_of(make_threshold(calibrated(0.0), adaptive)) == T0 / 4
    assert baseline_of(make_threshold(calibrated(-1.0), adaptive)) == T0 / 4
    custom = ThresholdConfig(mode="adaptive", fallback_ratio=2.0)
    assert baseline_of(make_threshold(calibrated(0.0), custom)) == T0 / 2
    assert isinstance(make_threshold(calibrated(0.5), ThresholdConfig(mode="fixed")), FixedThreshold)
    assert isinstance(make_threshold(calibrated(0.5)), FixedThreshold)  # the shipped default


def calibrated(median: float) -> Threshold:
    return Threshold(value=T0, validation_median=median, validation_p99=1.0, validation_rows=100)


def test_state_round_trip_continues_identically() -> None:
    config = ThresholdConfig(mode="adaptive", warmup=50)
    a = AdaptiveThreshold(T0, baseline=BASELINE, config=config)
    feed(a, normal_scores(120, 1.1))
    b = restore_threshold(saved(a), calibrated(0.5), config)
    assert isinstance(b, AdaptiveThreshold)
    assert (b.value, b.level, b.n_learned, b.baseline, b.t0) == (
        a.value,
        a.level,
        a.n_learned,
        a.baseline,
        a.t0,
    )
    more = normal_scores(200, 1.3, seed=9)
    feed(a, more)
    feed(b, more)
    assert b.snapshot() == a.snapshot() and b.value == a.value


def test_restored_value_uses_current_config() -> None:
    a = AdaptiveThreshold(T0, baseline=BASELINE, config=ThresholdConfig(warmup=0))
    feed(a, normal_scores(4000, 2.0))
    assert a.value == pytest.approx(1.5 * T0)
    b = restore_threshold(saved(a), calibrated(0.5), ThresholdConfig(mode="adaptive", warmup=0, ceiling=1.2))
    assert b.value == pytest.approx(1.2 * T0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "magic"}, "state.threshold.kind"),
        ({"level": None}, "state.threshold"),
        ({"level": -1.0}, "state.threshold.level"),
        ({"n_learned": -3}, "state.threshold.n_learned"),
        ({"n_learned": True}, "state.threshold.n_learned"),
        ({"baseline": "x"}, "state.threshold.baseline"),
        ({"t0": float("inf")}, "state.threshold.t0"),
    ],
)
def test_a_malformed_saved_threshold_names_the_field(change: dict, field: str) -> None:
    state = dump(AdaptiveThreshold(T0, baseline=BASELINE).snapshot()) | change
    with pytest.raises(ConfigError) as info:
        load(ThresholdState, state, "state.threshold")
    assert info.value.field == field


def test_a_threshold_saved_under_another_mode_starts_afresh() -> None:
    adaptive = AdaptiveThreshold(T0, baseline=BASELINE, config=ThresholdConfig(warmup=0))
    feed(adaptive, normal_scores(400, 2.0))
    fixed = restore_threshold(adaptive.snapshot(), calibrated(0.5), ThresholdConfig(mode="fixed"))
    assert isinstance(fixed, FixedThreshold) and fixed.value == T0


def saved(threshold: FixedThreshold | AdaptiveThreshold) -> ThresholdState:
    """The threshold's state as a restart reads it back: through JSON."""
    return load(ThresholdState, json.loads(json.dumps(dump(threshold.snapshot()), allow_nan=False)))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mode": "clever"}, "thresholds.mode"),
        ({"warmup": -1}, "thresholds.warmup"),
        ({"rate": 0}, "thresholds.rate"),
        ({"floor": 1.2}, "thresholds.floor"),
        ({"ceiling": 0.9}, "thresholds.ceiling"),
        ({"fallback_ratio": 0.5}, "thresholds.fallback_ratio"),
    ],
)
def test_threshold_config_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        ThresholdConfig(**kwargs)
    assert info.value.field == field
