"""The runtime contract shared by every inference backend.

A backend is one model file of a bundle, loaded on this machine's runtime and bound to its manifest
:class:`~edgewatch.bundle.Artifact`; it turns a batch of *scaled* inputs into anomaly scores
(**higher = more anomalous**) and per-feature errors::

    batch = backend.score_batch(x)   # x: float32, shape (n, window, n_features), scaled units
    batch.scores                     # float64 (n,)
    batch.feature_errors             # float64 (n, n_features), >= 0; shares of the score per feature
    batch.residuals                  # float64 (n, n_features), signed input - reconstruction (None: no
                                     # reconstruction, e.g. the isolation forest)

How an autoencoder's reconstruction becomes a score is the bundle's ``scoring`` (arithmetic:
:mod:`edgewatch.runtime.scoring`). For the isolation forest, which has no per-feature reconstruction,
``feature_errors`` is the squared standardised deviation of the newest reading (a "which sensor is furthest
from normal" explanation) and ``scores`` is the model file's own output (scikit-learn's score negated once,
at export: :mod:`edgewatch.train.iforest`).

A :class:`Model` (one per vendor runtime: :mod:`~edgewatch.runtime.litert`, :mod:`~edgewatch.runtime.onnx`)
loads its file once, at construction, and runs one warm-up inference; a
:class:`~edgewatch.runtime.backend.Backend` binds it to its artifact.
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
    residuals: np.ndarray | None = None  # (n, F) input - reconstruction, averaged over the window


class Model(Protocol):
    """A model file loaded by one vendor runtime: ``run`` maps float32 ``(n, window, F)`` inputs to its raw
    output (a reconstruction of the same shape, or ``(n, 1)`` scores)."""

    def run(self, x: np.ndarray) -> np.ndarray: ...
