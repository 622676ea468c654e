"""The INT8 representative set: which scaled training inputs calibrate the quantized model's ranges.

Full-integer INT8 gives the model input (and every activation) one range per tensor, taken from the
representative set. A reading outside that range is clipped before the model sees it, so the model
reconstructs the clipped value and the reading's error is the distance to the clip, not to what normal
operation predicts. Rows spread evenly over time cover every operating mode but miss the rare ends of a
sensor's normal range, and a clipped sensor then raises false alarms the FP32 model does not.

:func:`representative_rows` therefore adds, per feature, the input holding the low and the high end of that
feature's training range (at most two rows per feature on top of the spread rows), and the held-out rows'
ends where they reach further: a regime can show up only in the held-out part, and an INT8 model clipped
there calibrates a threshold far above FP32's and misses faults (docs/quantization.md has the cases). The
ends are quantiles (:data:`RANGE_QUANTILE`), not the extremes, so that on a long recording a glitch of a
few readings does not stretch the range and cost every other reading its INT8 resolution. On a short
recording the ends are the extremes; a glitch there widens the range, and the fidelity gate refuses the
bundle if that costs too much resolution.
"""

from __future__ import annotations

import numpy as np

from edgewatch.data.windows import evenly_spaced

RANGE_QUANTILE = 1e-4  # a feature's range ends: the 0.01 % and 99.99 % quantiles of its training values
FAULT_BASE_ROWS = 4  # fault-sized inputs: this many spread rows, each feature at -level and +level in turn


def range_end_rows(inputs: np.ndarray, quantile: float = RANGE_QUANTILE) -> np.ndarray:
    """Indices of the inputs (n, window, F) that hold each feature's range ends: per feature, the input
    whose smallest value is nearest the feature's ``quantile`` and the one whose largest value is nearest
    its ``1 - quantile`` quantile (sorted, duplicates removed; at most ``2 F`` indices)."""
    x = np.asarray(inputs, dtype=np.float64)
    lows, highs = x.min(axis=1), x.max(axis=1)  # per input and feature, over the window
    picked: set[int] = set()
    for j in range(x.shape[2]):
        low_end = np.nanquantile(lows[:, j], quantile)
        high_end = np.nanquantile(highs[:, j], 1.0 - quantile)
        picked.add(int(np.nanargmin(np.abs(lows[:, j] - low_end))))
        picked.add(int(np.nanargmin(np.abs(highs[:, j] - high_end))))
    return np.asarray(sorted(picked), dtype=np.int64)


def representative_rows(
    inputs: np.ndarray,
    n_spread: int,
    *,
    cover_range: bool = True,
    held_out: np.ndarray | None = None,
    fault_level: float = 0.0,
) -> np.ndarray:
    """The representative set: ``n_spread`` training ``inputs`` spread evenly over time, plus
    (``cover_range``) the inputs at each feature's range ends (:func:`range_end_rows`), plus the range-end
    inputs of the ``held_out`` normal rows that reach beyond the range the others cover, plus (``fault_level``
    > 0) the fault-sized inputs of :func:`fault_rows`. Returns float32 inputs: the spread and training range
    rows in time order, then the held-out ones, then the fault-sized ones."""
    rows = _normal_rows(inputs, n_spread, cover_range=cover_range, held_out=held_out)
    if fault_level > 0:
        rows = np.concatenate([rows, fault_rows(inputs, fault_level)])
    return rows


def fault_rows(inputs: np.ndarray, level: float, n_base: int = FAULT_BASE_ROWS) -> np.ndarray:
    """Fault-sized inputs: ``n_base`` training ``inputs`` spread evenly over time, copied once per feature and
    sign with that feature at ``-level`` and at ``+level`` (scaled units) over the newest quarter of the
    window (the whole reading for window 1), as the fidelity gate's stress set shifts it. ``2 F n_base``
    float32 inputs."""
    base = np.asarray(inputs[evenly_spaced(len(inputs), n_base)], dtype=np.float32)
    n_features, span = base.shape[2], max(1, base.shape[1] // 4)
    out = []
    for j in range(n_features):
        for sign in (-1.0, 1.0):
            rows = base.copy()
            rows[:, -span:, j] = sign * level
            out.append(rows)
    return np.concatenate(out)


def _normal_rows(inputs: np.ndarray, n_spread: int, *, cover_range: bool, held_out: np.ndarray | None) -> np.ndarray:
    idx = evenly_spaced(len(inputs), n_spread)
    if not cover_range:
        return np.asarray(inputs[idx], dtype=np.float32)
    rows = np.asarray(inputs[np.union1d(idx, range_end_rows(inputs))], dtype=np.float32)
    if held_out is not None and len(held_out):
        ends = np.asarray(held_out[range_end_rows(held_out)], dtype=np.float32)
        low, high = rows.min(axis=(0, 1)), rows.max(axis=(0, 1))
        beyond = (ends.min(axis=1) < low).any(axis=1) | (ends.max(axis=1) > high).any(axis=1)
        rows = np.concatenate([rows, ends[beyond]])
    return rows
