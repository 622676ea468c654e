"""Turning reconstructions into scores: the arithmetic shared by every autoencoder backend."""

from __future__ import annotations

import numpy as np

from edgewatch.runtime.base import ScoreBatch

WEIGHT_FLOOR = 0.25  # a feature's normal error counts as at least this share of the mean: weights <= 4x
AGGREGATES = ("mean", "max")  # how a row's per-feature errors become its score (manifest ``score.aggregate``)


def reconstruction_scores(
    x: np.ndarray,
    reconstruction: np.ndarray,
    weights: np.ndarray | None = None,
    aggregate: str = "mean",
) -> ScoreBatch:
    """Scores of inputs ``x`` (n, window, F) given their reconstructions (same shape).

    ``feature_errors[i, j]`` is the squared error of feature ``j`` averaged over the window, times
    ``weights[j]`` (the bundle's per-feature normalisation, ``score.feature_weights``; none: 1).
    ``scores[i]`` is their mean over features (``aggregate="mean"``) or their maximum (``"max"``: the
    error of the one sensor furthest from what the others predict). Higher = more anomalous.
    """
    diff = x - reconstruction
    np.square(diff, out=diff)
    feature_errors = diff.mean(axis=1, dtype=np.float64) if diff.shape[1] > 1 else diff[:, 0, :].astype(np.float64)
    if weights is not None:
        feature_errors *= weights
    scores = feature_errors.max(axis=1) if aggregate == "max" else feature_errors.mean(axis=1)
    return ScoreBatch(scores=scores, feature_errors=feature_errors)


def check_aggregate(aggregate: str) -> str:
    """``aggregate`` if it is one of :data:`AGGREGATES`, else a ValueError naming the choices."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"unknown score aggregate {aggregate!r}; expected one of {', '.join(AGGREGATES)}")
    return aggregate


def feature_weights(validation_errors: np.ndarray) -> np.ndarray:
    """Per-feature weights that give every feature the same mean error on normal held-out data.

    A sensor the model reconstructs closely (low normal error) then counts as much as a noisy one, so a
    small offset on it is not drowned by the others. Weights average 1; errors are floored at a quarter of their
    mean so a perfectly reconstructed feature cannot get an unbounded weight.
    """
    mean_errors = np.asarray(validation_errors, dtype=np.float64).mean(axis=0)
    floor = max(float(mean_errors.mean()) * WEIGHT_FLOOR, 1e-12)
    inverse = 1.0 / np.maximum(mean_errors, floor)
    return inverse / inverse.mean()


def deviation_errors(x: np.ndarray) -> np.ndarray:
    """Squared standardised deviation of the newest reading of each input (n, F): an explanation for
    models without a reconstruction (isolation forest)."""
    newest = x[:, -1, :].astype(np.float64)
    return newest * newest
