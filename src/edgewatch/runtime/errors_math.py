"""Turning reconstructions into scores: the arithmetic shared by every autoencoder backend."""

from __future__ import annotations

import numpy as np

from edgewatch.runtime.base import ScoreBatch


def reconstruction_scores(x: np.ndarray, reconstruction: np.ndarray) -> ScoreBatch:
    """Scores of inputs ``x`` (n, window, F) given their reconstructions (same shape).

    ``feature_errors[i, j]`` is the squared error of feature ``j`` averaged over the window;
    ``scores[i]`` is their mean over features. Higher = more anomalous.
    """
    diff = x - reconstruction
    np.square(diff, out=diff)
    feature_errors = (
        diff.mean(axis=1, dtype=np.float64) if diff.shape[1] > 1 else diff[:, 0, :].astype(np.float64)
    )
    return ScoreBatch(scores=feature_errors.mean(axis=1), feature_errors=feature_errors)


def deviation_errors(x: np.ndarray) -> np.ndarray:
    """Squared standardised deviation of the newest reading of each input (n, F): an explanation for
    models without a reconstruction (isolation forest)."""
    newest = x[:, -1, :].astype(np.float64)
    return newest * newest
