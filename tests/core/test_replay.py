"""``replay`` records the sustained-deviation level, scaled to the per-reading threshold."""

from __future__ import annotations

import numpy as np

from edgewatch.core import ScoredReading
from edgewatch.core.replay import ReplayResult, replay
from edgewatch.data.recording import Recording
from tests.fakes import FEATURES, SquaredScorer, make_manifest

THRESHOLD = 4.0
SUSTAINED = (10.0, 0.5)  # tau_s, sustained threshold


def _shifted(n: int = 60) -> Recording:
    """One reading a second; ``temp`` is shifted by 0.8 (error ~0.64: every score ~0.2, far below 4)."""
    rng = np.random.default_rng(0)
    values = 0.05 * rng.standard_normal((n, len(FEATURES)))
    values[:, 0] += 0.8
    values[5, 1] = np.nan  # a missing reading: not scored
    return Recording(FEATURES, values, 1.7e9 + np.arange(n, dtype=float))


def _replay(sustained: tuple[float, float] | None) -> ReplayResult:
    return replay(_shifted(), SquaredScorer(), make_manifest(sustained=sustained))


def test_replay_records_the_scaled_sustained_level() -> None:
    result = _replay(SUSTAINED)
    assert result.sustained.dtype == np.float64 and result.sustained.shape == result.score.shape
    expected = np.full(result.score.shape, np.nan)
    for i, e in result.events:
        if isinstance(e, ScoredReading) and e.sustained is not None:
            expected[i] = e.sustained * e.threshold / SUSTAINED[1]
    np.testing.assert_array_equal(result.sustained, expected)
    scored = np.isfinite(result.score)
    level = np.isfinite(result.sustained)
    assert not level[~scored].any()  # NaN where nothing was scored
    assert level.any() and not level[:10].all()  # NaN while the average warms up (tau = 10 s)
    # on the threshold's scale: ~0.64 * 4 / 0.5, above the threshold while every score stays far below it
    assert np.nanmin(result.sustained[30:]) > result.threshold[30]
    assert np.nanmax(result.score) < 0.5 * np.nanmin(result.threshold)
    assert result.alert_active.any()


def test_replay_without_the_channel_has_no_level() -> None:
    result = _replay(None)
    assert result.sustained.shape == result.score.shape and np.isnan(result.sustained).all()
    assert np.isfinite(result.score).any() and not result.alert_active.any()
