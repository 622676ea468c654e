"""Naming the sensors responsible for a score: per-feature shares of the error (edge-safe, numpy only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top_features(feature_errors: np.ndarray, names: Sequence[str], k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` features with the largest share of the error of one reading, largest first.

    Shares are ``error_j / sum(error)``; a zero total gives an empty list.
    """
    total = float(feature_errors.sum())
    if total <= 0 or not np.isfinite(total):
        return []
    order = np.argsort(feature_errors)[::-1][:k]
    return [(names[j], float(feature_errors[j] / total)) for j in order]


def format_top_features(pairs: Sequence[tuple[str, float]]) -> str:
    """``"a:0.62|b:0.20"``: compact, CSV-safe (feature names may contain spaces and commas are avoided)."""
    return "|".join(f"{name}:{share:.2f}" for name, share in pairs)
