"""Sliding windows over consecutive readings, never crossing a file boundary, and evenly spread row picks
(numpy only: used by training, by `edgewatch score` and by the bundle's probe)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def window_ends(segments: Sequence[tuple[int, int]], window: int) -> np.ndarray:
    """Row indices that end a full window of ``window`` rows inside one ``[start, end)`` segment."""
    ends = [np.arange(start + window - 1, end) for start, end in segments if end - start >= window]
    return np.concatenate(ends) if ends else np.empty(0, dtype=np.int64)


def evenly_spaced(n_available: int, n_wanted: int) -> np.ndarray:
    """Indices of ``min(n_wanted, n_available)`` positions spread evenly over ``range(n_available)``."""
    return np.unique(np.linspace(0, n_available - 1, num=min(n_wanted, n_available)).round().astype(np.int64))


def make_windows(rows: np.ndarray, ends: np.ndarray, window: int) -> np.ndarray:
    """Stack windows ``rows[end-window+1 : end+1]`` for each ``end``: shape ``(len(ends), window, F)``."""
    offsets = np.arange(-window + 1, 1)
    return rows[ends[:, None] + offsets[None, :]]
