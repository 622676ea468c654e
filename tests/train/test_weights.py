"""Score weights bounded by what the held-out rows can say about each feature (train/weights.py)."""

from __future__ import annotations

import numpy as np
import pytest

from edgewatch.runtime.scoring import feature_weights
from edgewatch.train.weights import bounded_feature_weights, effective_sample_size


def test_white_noise_keeps_its_sample_size_and_a_random_walk_loses_it() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(400, 1))
    walk = np.cumsum(rng.normal(size=(400, 1)), axis=0)
    n_eff = effective_sample_size(np.hstack([noise, walk]))
    assert n_eff[0] == pytest.approx(400, rel=0.25)
    assert n_eff[1] < 20


def test_a_slow_sensor_gets_a_smaller_weight_than_with_the_plain_mean() -> None:
    """Two features with the same small mean error: the fast one keeps its weight, the slow one (few
    effective rows) is discounted; with independent rows the weights match the plain ones."""
    rng = np.random.default_rng(1)
    fast = rng.normal(0.0, 0.1, 80)
    slow = np.linspace(-0.17, 0.17, 80) + rng.normal(0.0, 0.005, 80)  # a slow sensor drifting through
    other = rng.normal(0.0, 0.15, 80)
    residuals = np.column_stack([fast, slow, other])
    squared = residuals**2
    plain = feature_weights(squared)
    bounded = bounded_feature_weights(squared, residuals)
    assert bounded.mean() == pytest.approx(1.0)
    assert bounded[1] / bounded[0] < 0.8 * plain[1] / plain[0]

    independent = rng.normal(0.0, [0.1, 0.2, 1.0], (5000, 3))
    np.testing.assert_allclose(
        bounded_feature_weights(independent**2, independent), feature_weights(independent**2), rtol=0.1
    )
