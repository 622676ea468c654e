"""Plausibility checks: timestamp order, training range band, stuck sensors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgewatch.bundle.manifest import FeatureStats
from edgewatch.core.checks import CheckConfig, RangeCheck, StuckDetector, check_order
from edgewatch.errors import ConfigError


def stats(name: str, lo: float = 0.0, hi: float = 10.0, std: float = 1.0, run: int = 1) -> FeatureStats:
    mid = (lo + hi) / 2
    return FeatureStats(name, lo, hi, mid, std, lo, lo, mid, hi, hi, longest_constant_run=run)


def test_check_order() -> None:
    assert check_order(10.0, None) is None
    assert check_order(10.0, 9.999) is None
    assert check_order(10.0, 10.0) == (
        "duplicate_timestamp",
        "timestamp 1970-01-01T00:00:10.000Z repeats the last accepted reading",
    )
    result = check_order(5.0, 10.0)
    assert result is not None and result[0] == "out_of_order" and "earlier" in result[1]


def test_range_band_uses_span_and_factor() -> None:
    check = RangeCheck([stats("a", 0, 10, std=1.0), stats("b", 5, 5, std=2.0), stats("c", 1, 1, std=0)], 10)
    # a: span 10 -> [-100, 110]; b: span max(0, 12) = 12 -> [-115, 125]; c: span 1e-9
    np.testing.assert_allclose(check.low, [-100, -115, 1 - 1e-8])
    np.testing.assert_allclose(check.high, [110, 125, 1 + 1e-8])
    x = np.array(
        [
            [5, 5, 1],  # normal
            [30, 5, 1],  # moderately out of range: still plausible, must be scored
            [110, -115, 1],  # on the band edge: allowed
            [110.1, 5, 1],
            [5, -116, 1],
            [5, 5, 1.001],
            [np.nan, np.nan, np.nan],  # missing values never count
        ]
    )
    assert check.violations(x) == [False, False, False, True, True, True, False]
    field, message = check.explain(x[3])
    assert field == "a" and "'a'" in message and "110.1" in message and "-100 .. 110" in message
    assert check.violations(np.empty((0, 3))) == []


def test_range_check_disabled_with_inf() -> None:
    check = RangeCheck([stats("a")], math.inf)
    assert check.violations(np.array([[1e300]])) == [False]


def test_stuck_run_length_rule() -> None:
    detector = StuckDetector(
        [stats("a"), stats("b", run=40), stats("flat", std=0.0), stats("c", run=3)], CheckConfig()
    )
    assert detector.run_needed == (30, 80, 30, 30)
    assert detector.watched == (0, 1, 3)  # "flat" never varied in training: not watched


def test_stuck_onset_and_recovery() -> None:
    detector = StuckDetector([stats("a"), stats("b"), stats("flat", std=0.0)], CheckConfig(min_stuck_run=5))
    state = detector.new_state()
    changes = []
    for i in range(12):
        changes.append(detector.update(state, [1.0, float(i), 7.0]))  # "a" frozen at 1.0
    assert changes[:4] == [((), ())] * 4
    assert changes[4] == ((0,), ())  # the 5th identical value starts the fault
    assert changes[5:] == [((), ())] * 7
    assert state.active and detector.stuck_features(state) == (0,)
    assert detector.update(state, [1.5, 99.0, 7.0]) == ((), (0,))
    assert not state.active and detector.stuck_features(state) == ()
    # the constant "flat" sensor was never reported


def test_two_sensors_stuck_and_recovering_separately() -> None:
    detector = StuckDetector([stats("a"), stats("b")], CheckConfig(min_stuck_run=3))
    state = detector.new_state()
    assert [detector.update(state, [0.0, 0.0]) for _ in range(3)][-1] == ((0, 1), ())
    assert state.n_stuck == 2
    assert detector.update(state, [1.0, 0.0]) == ((), (0,))
    assert state.n_stuck == 1
    assert detector.update(state, [1.0, 2.0]) == ((), (1,))
    assert state.n_stuck == 0


def test_stuck_detection_can_be_disabled() -> None:
    detector = StuckDetector([stats("a")], CheckConfig(stuck_detection=False))
    state = detector.new_state()
    assert all(detector.update(state, [1.0]) == ((), ()) for _ in range(100))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"range_factor": 0}, "checks.range_factor"),
        ({"range_factor": math.nan}, "checks.range_factor"),
        ({"min_stuck_run": 1}, "checks.min_stuck_run"),
        ({"min_stuck_run": 3.5}, "checks.min_stuck_run"),
        ({"stuck_run_factor": -1}, "checks.stuck_run_factor"),
    ],
)
def test_check_config_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        CheckConfig(**kwargs)
    assert info.value.field == field
