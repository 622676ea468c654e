"""The runtime contract shared by every inference backend.

A backend wraps one model file of a bundle and turns a batch of *scaled* inputs into anomaly scores
(**higher = more anomalous**) and per-feature errors::

    batch = backend.score_batch(x)   # x: float32, shape (n, window, n_features), scaled units
    batch.scores                     # float64 (n,)
    batch.feature_errors             # float64 (n, n_features), >= 0; shares of the score per feature

For autoencoders ``feature_errors[i, j]`` is the squared reconstruction error of feature ``j`` (averaged
over the window), times the bundle's ``score.feature_weights[j]`` when it has them (1 / that feature's
normal error), and ``scores[i]`` is ``feature_errors[i].max()`` (manifest ``score.aggregate == "max"``,
the default ``max-z`` score) or ``feature_errors[i].mean()`` (``"mean"``). For the isolation forest, which has no
per-feature reconstruction, ``feature_errors`` is the squared standardised deviation of the newest
reading (a "which sensor is furthest from normal" explanation) and ``scores`` is the model file's own
output (scikit-learn's score negated once, at export: :mod:`edgewatch.train.iforest`).

Backends load their model once, at construction, and run one warm-up inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class ScoreBatch:
    """Scores of a batch of inputs. ``scores[i]`` higher = more anomalous."""

    scores: np.ndarray
    feature_errors: np.ndarray


class Backend(Protocol):
    """What every runtime backend provides."""

    name: str  # "litert" or "onnx"
    artifact: str  # manifest artifact name, e.g. "litert-int8"

    def score_batch(self, x: np.ndarray) -> ScoreBatch:
        """Score scaled inputs of shape ``(n, window, n_features)``."""
        ...
