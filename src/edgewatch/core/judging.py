"""What a scored reading is judged on: its score, or the sustained-deviation level when that is higher.

The pipeline (:mod:`edgewatch.core.pipeline`) hands every scored reading of a device to :func:`judge`, which
returns the value the alert policy compares with the threshold (**higher = more anomalous**):

* the reading's own ``score``;
* with a sustained-deviation channel (:mod:`edgewatch.core.sustained`), ``level * T / T_sustained`` when that is
  higher — the averaged errors put on the per-reading threshold's scale. While alerts are suppressed (machine
  stopped or settling) the channel is not judged and its averages restart. Sensors that are recovering (fast
  average below ``recovering_ratio`` of the slow one) are left out of the judged level, so a slow sensor
  lagging back after a fault neither holds the alert up nor raises a new one once it has cleared (leaving
  them out only while an alert was active cleared it and raised it again 30 s later, at every cool-down).
* The same sensors are left out of the reading's own score (``aggregate``: the score is the ``max`` or
  ``mean`` of the per-feature errors, as for every autoencoder; None leaves the score alone, as for the
  isolation forest, whose score is not made of them), once the channel is warm and whenever that score
  could matter (at or above the alert policy's hysteresis level). A bearing that a fault left hot cools
  back over many minutes; its own error stays above the threshold on every reading of that time although
  it falls steadily, and the simulated pump's post-fault false alarms were mostly that (docs/evaluation.md).
  A fault in progress keeps its sensors' fast average at or above the slow one and is judged in full. The
  price: a sensor deviating afresh soon after a fault of its own is left out until its fast average has
  climbed back to half the slow one, seconds when the new deviation is much larger than the old one, up to
  about ``fast_tau_s * ln 2`` (83 s at the default 120 s) when they are alike.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from edgewatch.core.alerts import AlertPolicy
from edgewatch.core.sustained import SustainedLevel


class Verdict(NamedTuple):
    """``judged``: the value compared with the threshold; ``by_sustained``: it is the sustained level;
    ``sustained``: the channel's level (all sensors; None without a channel or while it is not warm)."""

    judged: float
    by_sustained: bool
    sustained: float | None


def judge(
    policy: AlertPolicy,
    sustained: SustainedLevel | None,
    ts: float,
    score: float,
    errors: np.ndarray,
    threshold: float,
    sustained_threshold: float,
    recovering_ratio: float,
    aggregate: str | None = None,
) -> Verdict:
    """The verdict on one scored reading of a device (see the module docstring); updates its averages.
    ``aggregate`` (``"max"``/``"mean"``) says how ``score`` is made of ``errors``; None: it is not."""
    if sustained is None:
        return Verdict(score, False, None)
    if policy.suppressed(ts):  # stopped or settling: not judged, averages start afresh after
        sustained.restart()
        return Verdict(score, False, None)
    level = sustained.update(ts, errors)  # None until warm
    if level is None:
        return Verdict(score, False, None)
    if aggregate is not None and recovering_ratio > 0 and score >= policy.config.hysteresis * threshold:
        score = without_recovering(sustained, errors, recovering_ratio, aggregate, score)
    scale = threshold / sustained_threshold
    if level * scale <= score:  # leaving sensors out only lowers the level: the score stands
        return Verdict(score, False, level)
    judged_level = sustained.level(recovering_ratio) if recovering_ratio > 0 else level
    if judged_level * scale > score:
        return Verdict(judged_level * scale, True, level)
    return Verdict(score, False, level)


def without_recovering(
    sustained: SustainedLevel, errors: np.ndarray, recovering_ratio: float, aggregate: str, score: float
) -> float:
    """``score`` made again from ``errors`` without the recovering sensors (their errors count as 0); ``score``
    itself when none is recovering."""
    recovering = sustained.recovering(recovering_ratio)
    if recovering is None or not recovering.any():
        return score
    kept = np.where(recovering, 0.0, errors)
    return float(kept.max() if aggregate == "max" else kept.mean())
