"""Threshold calibration: turning validation scores of normal rows into a decision threshold.

Rule ``quantile``: ``threshold = margin * quantile(validation_scores, q)``. With the defaults (q = 0.995,
margin = 2.0) the threshold sits at twice the score only 0.5% of normal held-out readings exceed: the
held-out rows are a few hours of one recording and the device will see operating states they lack, and
the agent's k-of-n alert policy turns the remaining isolated exceedances into no alert
(docs/evaluation.md has the measurements behind the margin). The parameters, and the median validation score (the
baseline the device's adaptive threshold compares against), are written into the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ThresholdRule:
    quantile: float = 0.995
    margin: float = 2.0

    def __post_init__(self) -> None:
        if not 0.5 <= self.quantile < 1.0:
            raise ValueError("threshold quantile must be in [0.5, 1)")
        if self.margin <= 0:
            raise ValueError("threshold margin must be positive")

    def fit(self, validation_scores: np.ndarray) -> float:
        """The threshold for these scores of normal held-out rows (higher score = more anomalous)."""
        scores = np.asarray(validation_scores, dtype=np.float64)
        return float(self.margin * np.quantile(scores, self.quantile))

    def params(self, validation_scores: np.ndarray) -> dict[str, Any]:
        scores = np.asarray(validation_scores, dtype=np.float64)
        return {
            "quantile": self.quantile,
            "margin": self.margin,
            "validation_rows": int(scores.size),
            "validation_median": float(np.median(scores)),
            "validation_p99": float(np.quantile(scores, 0.99)),
        }
