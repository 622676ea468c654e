"""Finding the machine's run indicator in the training data, so the device knows when it is stopped.

A model of normal operation has seen few stopped or just-restarted states: a pump that cools further in
a long stop than in any stop of the training days is new to it on restart, and alerts there are false
alarms (docs/evaluation.md counts those that start during a stop or soon after one). The device can
suppress new alerts while the machine is stopped and for a settle time after it restarts
(``alerts.suppress_*``, ISA-18.2 state-based suppression); this module finds the sensor that says
"stopped" so that needs no configuration when the training data shows it plainly.

A feature is a candidate run indicator when, over the training rows (its range = its 0.1–99.9% quantiles):

* it sits in the bottom 10% of its range for between 0.2% and 50% of the rows (there are stops, and the
  machine mostly runs), in at least two stretches of ``min_stop_s`` or longer that hold 80% of those rows
  (stops, not noise dips);
* it passes through the middle (10–50% of its range) for at most half as many rows as it sits low
  (starts and stops are ramps, not an operating range); and
* at least two other features sit in the bottom quarter of their own ranges for 90% of its low rows and
  for under 2% of the others: the whole machine stops with it (a valve that closes on its own does not
  qualify).

Of the candidates, the one with the most such companions wins, then the one with the fewest middle rows,
then the first in feature order. It is stopped below a quarter of its range above its 0.1% quantile. Pure
numpy; the result is the manifest's ``run_indicator``.
"""

from __future__ import annotations

import numpy as np

from edgewatch.bundle import RunIndicator

LOW_BAND, MID_TOP, BELOW_AT, COMPANION_BAND = 0.10, 0.50, 0.25, 0.25
MIN_LOW_FRACTION, MAX_LOW_FRACTION = 0.002, 0.5
MAX_MID_PER_LOW = 0.5
MIN_STOPS, MIN_STOP_SHARE = 2, 0.8
MIN_COMPANIONS, COMPANION_LOW, COMPANION_HIGH = 2, 0.9, 0.02
DEFAULT_MIN_STOP_S = 120.0


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open index ranges where ``mask`` is true."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def detect_run_indicator(
    values: np.ndarray,
    features: tuple[str, ...] | list[str],
    timestamps: np.ndarray,
    *,
    min_stop_s: float = DEFAULT_MIN_STOP_S,
) -> RunIndicator | None:
    """The run indicator of the training rows ``values`` (n, F), time-ordered with ``timestamps`` (n,), or
    None when no feature qualifies (see the module docstring). Rows with a missing value are ignored."""
    x = np.asarray(values, dtype=np.float64)
    ts = np.asarray(timestamps, dtype=np.float64)
    keep = np.isfinite(x).all(axis=1)
    x, ts = x[keep], ts[keep]
    if x.shape[0] < 100:
        return None
    lo = np.quantile(x, 0.001, axis=0)
    span = np.quantile(x, 0.999, axis=0) - lo
    usable = span > 0
    rel = np.where(usable, (x - lo) / np.where(usable, span, 1.0), 0.0)
    low_rows = rel < LOW_BAND
    companion_low = rel < COMPANION_BAND

    best: tuple[tuple[int, int, int], RunIndicator] | None = None
    for j, name in enumerate(features):
        if not usable[j]:
            continue
        low = low_rows[:, j]
        n_low = int(low.sum())
        if not MIN_LOW_FRACTION <= n_low / len(low) <= MAX_LOW_FRACTION:
            continue
        n_mid = int(((rel[:, j] >= LOW_BAND) & (rel[:, j] <= MID_TOP)).sum())
        if n_mid > MAX_MID_PER_LOW * n_low:
            continue
        stops = [(a, b) for a, b in _runs(low) if ts[b - 1] - ts[a] >= min_stop_s]
        if len(stops) < MIN_STOPS or sum(b - a for a, b in stops) < MIN_STOP_SHARE * n_low:
            continue
        companions = tuple(
            other
            for k, other in enumerate(features)
            if k != j
            and usable[k]
            and companion_low[low, k].mean() >= COMPANION_LOW
            and companion_low[~low, k].mean() < COMPANION_HIGH
        )
        if len(companions) < MIN_COMPANIONS:
            continue
        found = RunIndicator(
            feature=str(name),
            below=float(lo[j] + BELOW_AT * span[j]),
            stops=len(stops),
            stopped_fraction=n_low / len(low),
            companions=companions,
        )
        rank = (len(companions), -n_mid, -j)
        if best is None or rank > best[0]:
            best = (rank, found)
    return None if best is None else best[1]
