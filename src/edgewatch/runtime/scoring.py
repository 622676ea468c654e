"""Turning reconstructions into scores: the arithmetic shared by every autoencoder backend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgewatch.bundle.manifest import SCORE_AGGREGATES as AGGREGATES
from edgewatch.runtime.base import ScoreBatch

WEIGHT_FLOOR = 0.25  # a feature's normal error counts as at least this share of the mean: weights <= 4x
# The autoencoder scores ``edgewatch train --score`` offers: name -> (weighted by 1 / normal error?, aggregate).
SCORE_KINDS: dict[str, tuple[bool, str]] = {
    "max-z": (True, "max"),  # the sensor furthest from what the others predict, in units of its normal error
    "mean-z": (True, "mean"),  # every sensor's error in units of its normal error, averaged
    "mse": (False, "mean"),  # plain mean squared error in scaled units
}


@dataclass(frozen=True)
class Scoring:
    """How an autoencoder's reconstruction becomes a score: the manifest's ``score`` section.

    ``feature_errors[i, j]`` is the squared error of feature ``j`` averaged over the window, times
    ``weights[j]`` (``score.feature_weights``; None: 1). ``scores[i]`` is their mean over features
    (``aggregate="mean"``) or their maximum (``"max"``: the error of the one sensor furthest from what the
    others predict). Higher = more anomalous. ``Scoring()`` is the plain mean squared error.
    """

    weights: np.ndarray | None = None
    aggregate: str = "mean"

    def __post_init__(self) -> None:
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"unknown score aggregate {self.aggregate!r}; expected one of {', '.join(AGGREGATES)}")
        if self.weights is not None:
            object.__setattr__(self, "weights", np.asarray(self.weights, dtype=np.float64))

    @classmethod
    def from_manifest(cls, score: Mapping[str, Any]) -> Scoring:
        """The scoring a manifest's ``score`` section describes (validated when the manifest was loaded)."""
        return cls(score.get("feature_weights"), str(score.get("aggregate", "mean")))

    @property
    def kind(self) -> str:
        """The ``--score`` name of this scoring (``max-z``, ``mean-z``, ``mse``), or its aggregate."""
        key = (self.weights is not None, self.aggregate)
        return next((name for name, spec in SCORE_KINDS.items() if spec == key), self.aggregate)

    def score(self, x: np.ndarray, reconstruction: np.ndarray) -> ScoreBatch:
        """Scores of inputs ``x`` (n, window, F) given their reconstructions (same shape)."""
        diff = x - reconstruction
        np.square(diff, out=diff)
        errors = diff.mean(axis=1, dtype=np.float64) if diff.shape[1] > 1 else diff[:, 0, :].astype(np.float64)
        if self.weights is not None:
            errors *= self.weights  # a fresh array: weighted in place
        return self._batch(errors)

    def from_errors(self, squared_errors: np.ndarray) -> ScoreBatch:
        """Scores from plain per-feature squared errors (n, F), e.g. those of ``Scoring().score``; the input
        array is left as it is."""
        errors = np.asarray(squared_errors, dtype=np.float64)
        return self._batch(errors * self.weights if self.weights is not None else errors.copy())

    def _batch(self, feature_errors: np.ndarray) -> ScoreBatch:
        scores = feature_errors.max(axis=1) if self.aggregate == "max" else feature_errors.mean(axis=1)
        return ScoreBatch(scores=scores, feature_errors=feature_errors)


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
