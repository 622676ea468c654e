"""The INT8 representative set covers each feature's training range, robust to a glitch."""

from __future__ import annotations

import numpy as np

from edgewatch.data.windows import evenly_spaced
from edgewatch.train.representative import FAULT_BASE_ROWS, fault_rows, range_end_rows, representative_rows


def _inputs(n: int = 20_000, n_features: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 1, n_features)).astype(np.float32)


def test_evenly_spaced_spans_the_whole_period_and_never_exceeds_what_is_there() -> None:
    idx = evenly_spaced(1000, 5)
    assert idx.tolist() == [0, 250, 500, 749, 999]
    assert evenly_spaced(3, 200).tolist() == [0, 1, 2]


def test_range_end_rows_hold_each_features_low_and_high_end() -> None:
    x = _inputs()
    rows = range_end_rows(x)
    assert len(rows) <= 2 * x.shape[2] and np.all(np.diff(rows) > 0)
    for j in range(x.shape[2]):
        values = x[:, 0, j]
        high, low = np.quantile(values, 1 - 1e-4), np.quantile(values, 1e-4)
        assert np.isclose(x[rows, 0, j].max(), high, atol=0.02), j
        assert np.isclose(x[rows, 0, j].min(), low, atol=0.02), j


def test_a_rare_normal_regime_is_covered_but_a_single_glitch_is_not() -> None:
    x = _inputs()
    x[5030:5090, 0, 2] += 6.0  # a rare regime: 60 readings (0.3 %) far above the rest
    x[12_345, 0, 1] = 80.0  # a one-reading glitch
    rep = representative_rows(x, 200)
    assert rep.dtype == np.float32 and rep.shape[1:] == (1, 4)
    assert rep[:, 0, 2].max() > 7.0  # the regime sets the range ...
    assert rep[:, 0, 1].max() < 5.0  # ... the glitch does not
    spread_only = representative_rows(x, 200, cover_range=False)
    assert len(spread_only) == 200 and spread_only[:, 0, 2].max() < 5.0  # evenly spread rows miss the regime


def test_window_inputs_are_judged_by_their_extreme_reading() -> None:
    x = np.zeros((1000, 4, 2), dtype=np.float32)
    x[700, 3, 0] = 9.0  # the high end of feature 0 sits in the last step of one window
    x[10, 0, 1] = -7.0
    rows = range_end_rows(x, quantile=0.0)
    assert 700 in rows and 10 in rows


def test_train_covers_the_range_by_default_and_no_calibration_range_turns_it_off() -> None:
    import argparse

    from edgewatch.commands import train

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    default = train.options_from_args(parser.parse_args(["x.csv", "--out", "b"]))
    spread_only = train.options_from_args(parser.parse_args(["x.csv", "--out", "b", "--no-calibration-range"]))
    assert default.calibration_range is True and spread_only.calibration_range is False
    assert default.calibration_rows == spread_only.calibration_rows == 200


def test_held_out_rows_that_reach_further_join_the_set() -> None:
    train, held_out = _inputs(5000, seed=1), _inputs(2000, seed=2)
    held_out[700:720, 0, 3] += 7.0  # a regime only the held-out rows show
    rep = representative_rows(train, 200, held_out=held_out)
    assert rep[:, 0, 3].max() > 7.0
    without = representative_rows(train, 200)
    assert without[:, 0, 3].max() < 5.0
    # held-out rows within the range the training rows cover add nothing
    inside = np.clip(_inputs(2000, seed=3), -1.0, 1.0)
    assert len(representative_rows(train, 200, held_out=inside)) == len(without)
    assert len(representative_rows(train, 200, cover_range=False, held_out=held_out)) == 200


def test_fault_rows_put_each_feature_at_both_fault_levels_over_the_newest_quarter() -> None:
    x = np.random.default_rng(1).standard_normal((500, 8, 3)).astype(np.float32)  # windows of 8 readings
    rows = fault_rows(x, 6.0)
    assert rows.shape == (2 * 3 * FAULT_BASE_ROWS, 8, 3) and rows.dtype == np.float32
    for k, block in enumerate(np.split(rows, 2 * 3)):
        feature, sign = divmod(k, 2)
        assert np.all(block[:, -2:, feature] == (6.0 if sign else -6.0))  # the newest quarter: 2 of 8 readings
        assert np.all(np.abs(block[:, :-2, feature]) < 6.0)  # the older readings are normal ones
        others = [j for j in range(3) if j != feature]
        assert np.all(np.abs(block[:, :, others]) < 6.0)


def test_the_representative_set_reaches_the_fault_level_only_when_asked() -> None:
    x = _inputs(2000)  # normal rows reach about +-3.5
    plain = representative_rows(x, 200)
    covered = representative_rows(x, 200, fault_level=6.0)
    assert plain.max() < 5 and plain.min() > -5
    assert covered.max() == 6.0 and covered.min() == -6.0
    assert np.array_equal(covered[: len(plain)], plain)  # the normal rows first, unchanged
