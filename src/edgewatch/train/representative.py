"""The INT8 representative set: which scaled training inputs calibrate the quantized model's ranges.

Full-integer INT8 gives the model input (and every activation) one range per tensor, taken from the
representative set. A reading outside that range is clipped before the model sees it, so the model
reconstructs the clipped value and the reading's error is the distance to the clip, not to what normal
operation predicts. Rows spread evenly over time cover every operating mode but miss the rare ends of a
sensor's normal range (measured on the simulated pump, seed 22: 200 evenly spread rows set the input range
to [-5.1, 3.3] scaled units while axial vibration reaches 5.4 in normal operation; its readings above 1.88
mm/s were all reconstructed as 1.88, and the INT8 model raised 4 false alarms in a day where the FP32
model raised 1).

:func:`representative_rows` therefore adds, per feature, the input holding the low and the high end of that
feature's training range (at most two rows per feature on top of the spread rows), and the held-out rows'
ends where they reach further: a regime can show up only in the held-out part (seed 30: axial vibration up
to 7.3 scaled units in the held-out rows, 3.5 in the training rows; the INT8 model clipped it there, its
threshold came out 5.8x the FP32 model's, and it missed 12 of 27 faults). The ends are quantiles
(:data:`RANGE_QUANTILE`), not the extremes, so that on a long recording a glitch of a few readings does not
stretch the range and cost every other reading its INT8 resolution: two days at 1 Hz have about 14 readings
per feature beyond each end. On a short recording (a few thousand rows) the ends are the extremes; a glitch
there widens the range, and the fidelity gate refuses the bundle if that costs too much resolution.
"""

from __future__ import annotations

import numpy as np

from edgewatch.data.windows import evenly_spaced

RANGE_QUANTILE = 1e-4  # a feature's range ends: the 0.01 % and 99.99 % quantiles of its training values


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
    inputs: np.ndarray, n_spread: int, *, cover_range: bool = True, held_out: np.ndarray | None = None
) -> np.ndarray:
    """The representative set: ``n_spread`` training ``inputs`` spread evenly over time, plus
    (``cover_range``) the inputs at each feature's range ends (:func:`range_end_rows`), plus the range-end
    inputs of the ``held_out`` normal rows that reach beyond the range the others cover. Returns float32
    inputs: the spread and training range rows in time order, then the held-out ones."""
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
