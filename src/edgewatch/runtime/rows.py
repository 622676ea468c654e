"""Scoring a table of rows at once (``edgewatch score``, the Python API's ``decision_function``).

Each row is scaled with the bundle's scaler and scored with the window of rows ending at it (itself, for a
window of 1); a row is scored only when its whole window has no missing value. Scores are **higher = more
anomalous**; a row that was not scored is NaN, with zero feature errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from edgewatch.data.windows import make_windows

if TYPE_CHECKING:
    from edgewatch.bundle import Manifest
    from edgewatch.runtime.backend import Backend

CHUNK = 4096  # rows per score_batch call


class RowScores(NamedTuple):
    """``scores`` (n,) (NaN: not scored), ``feature_errors`` (n, F) in feature order, the ``threshold`` they are
    judged against (``score > threshold``: anomalous) and which rows were ``scored``."""

    scores: np.ndarray
    feature_errors: np.ndarray
    threshold: float
    scored: np.ndarray


def score_rows(manifest: Manifest, backend: Backend, values: np.ndarray) -> RowScores:
    """Score raw ``values`` of shape (n, F) in the manifest's feature order (NaN: missing)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != manifest.n_features:
        raise ValueError(
            f"expected rows of {manifest.n_features} values ({', '.join(manifest.features)}), got shape {values.shape}"
        )
    n, window = values.shape[0], manifest.window
    scaled = manifest.scaler.transform(values)
    scores = np.full(n, np.nan)
    errors = np.zeros((n, manifest.n_features))
    missing = np.isnan(values).any(axis=1)
    complete = np.convolve(missing.astype(int), np.ones(window, dtype=int))[:n] == 0
    ends = np.flatnonzero(complete[window - 1 :]) + window - 1
    for start in range(0, len(ends), CHUNK):
        chunk = ends[start : start + CHUNK]
        batch = backend.score_batch(make_windows(scaled, chunk, window))
        scores[chunk] = batch.scores
        errors[chunk] = batch.feature_errors
    return RowScores(scores, errors, float(backend.artifact.threshold.value), ~np.isnan(scores))
