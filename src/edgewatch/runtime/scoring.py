"""Turning a model's output into scores: the arithmetic behind the bundle's ``scoring`` (higher = more
anomalous), shared by every backend and by the training side, which scores held-out rows the same way."""

from __future__ import annotations

import numpy as np

from edgewatch.bundle import Scoring
from edgewatch.runtime.base import Model, ScoreBatch

WEIGHT_FLOOR = 0.25  # a feature's normal error counts as at least this share of the mean: weights <= 4x
PLAIN = Scoring()  # the plain mean squared error, unweighted


def score_model(model: Model, scoring: Scoring, output: str, x: np.ndarray) -> ScoreBatch:
    """Run ``model`` on scaled inputs ``x`` (n, window, F) and score its output (see :func:`score_output`)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    return score_output(scoring, output, x, model.run(x))


def score_output(scoring: Scoring, output: str, x: np.ndarray, out: np.ndarray) -> ScoreBatch:
    """Scores of float32 inputs ``x`` (n, window, F) from a model's raw output: a reconstruction of ``x``
    (``output == "reconstruction"``, scored by ``scoring``), or the score itself (``"score"``)."""
    if output == "score":
        return ScoreBatch(scores=out.reshape(-1).astype(np.float64), feature_errors=deviation_errors(x))
    return score_reconstruction(scoring, x, out.reshape(x.shape).astype(np.float32, copy=False))


def score_reconstruction(scoring: Scoring, x: np.ndarray, reconstruction: np.ndarray) -> ScoreBatch:
    """``feature_errors[i, j]``: the squared error of feature ``j`` averaged over the window, times the
    weights; ``scores[i]``: their mean or maximum over features (``scoring.aggregate``); ``residuals[i, j]``:
    the signed error ``x - reconstruction`` of feature ``j`` averaged over the window."""
    diff = x - reconstruction
    residuals = diff.mean(axis=1, dtype=np.float64) if diff.shape[1] > 1 else diff[:, 0, :].astype(np.float64)
    np.square(diff, out=diff)
    errors = diff.mean(axis=1, dtype=np.float64) if diff.shape[1] > 1 else diff[:, 0, :].astype(np.float64)
    if scoring.weights is not None:
        errors *= scoring.weights  # a fresh array: weighted in place
    scores = errors.max(axis=1) if scoring.aggregate == "max" else errors.mean(axis=1)
    return ScoreBatch(scores=scores, feature_errors=errors, residuals=residuals)


def score_errors(scoring: Scoring, squared_errors: np.ndarray) -> ScoreBatch:
    """Scores from plain per-feature squared errors (n, F), e.g. those of ``score_reconstruction(PLAIN, ...)``;
    the input array is left as it is."""
    errors = np.asarray(squared_errors, dtype=np.float64)
    return _batch(scoring, errors * scoring.weights if scoring.weights is not None else errors.copy())


def _batch(scoring: Scoring, feature_errors: np.ndarray) -> ScoreBatch:
    scores = feature_errors.max(axis=1) if scoring.aggregate == "max" else feature_errors.mean(axis=1)
    return ScoreBatch(scores=scores, feature_errors=feature_errors)


def feature_weights(validation_errors: np.ndarray) -> np.ndarray:
    """Per-feature weights that give every feature the same mean error on normal held-out data.

    A sensor the model reconstructs closely (low normal error) then counts as much as a noisy one, so a
    small offset on it is not drowned by the others. Weights average 1; errors are floored at a quarter of their
    mean so a perfectly reconstructed feature cannot get an unbounded weight.
    """
    mean_errors = np.asarray(validation_errors, dtype=np.float64).mean(axis=0)
    floor = max(float(mean_errors.mean()) * WEIGHT_FLOOR, 1e-12)
    inverse: np.ndarray = 1.0 / np.maximum(mean_errors, floor)
    weights: np.ndarray = inverse / inverse.mean()
    return weights


def deviation_errors(x: np.ndarray) -> np.ndarray:
    """Squared standardised deviation of the newest reading of each input (n, F): an explanation for
    models without a reconstruction (isolation forest)."""
    newest: np.ndarray = x[:, -1, :].astype(np.float64)
    squared: np.ndarray = newest * newest
    return squared
