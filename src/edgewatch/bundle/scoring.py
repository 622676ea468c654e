"""How a bundle turns a model's output into a score (**higher = more anomalous**), and how its thresholds were
calibrated. The arithmetic itself is :mod:`edgewatch.runtime.scoring`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from edgewatch.errors import BundleError
from edgewatch.records import check

Aggregate = Literal["mean", "max"]
SCORE_AGGREGATES: tuple[Aggregate, ...] = ("mean", "max")
# The autoencoder scores ``edgewatch train --score`` offers: name -> (weighted by 1 / normal error?, aggregate).
SCORE_KINDS: dict[str, tuple[bool, Aggregate]] = {
    "max-z": (True, "max"),  # the sensor furthest from what the others predict, in units of its normal error
    "mean-z": (True, "mean"),  # every sensor's error in units of its normal error, averaged
    "mse": (False, "mean"),  # plain mean squared error in scaled units
}

positive = check(lambda v: math.isfinite(v) and v > 0, "a positive finite number")
finite = check(math.isfinite, "a finite number")


@dataclass(frozen=True)
class SustainedChannel:
    """The sustained-deviation channel (:mod:`edgewatch.core.sustained`): the time constants, in seconds, of
    the slow average of each feature's error and of its fast companion (None: slow only)."""

    tau_s: float = field(metadata=positive)
    fast_tau_s: float | None = field(default=None, metadata=positive)


@dataclass(frozen=True)
class Scoring:
    """The manifest's ``scoring``: ``feature_errors[i, j]`` is feature ``j``'s squared reconstruction error in
    scaled units, averaged over the window, times ``feature_weights[j]`` (None: 1); the score is their
    ``aggregate`` over features (``max``: the one sensor furthest from what the others predict).

    A model whose output is the score itself (isolation forest) uses none of this. ``sustained`` is the
    sustained-deviation channel (None: the bundle has none); ``definition``, ``feature_errors`` and
    ``sustained_note`` say in words what was done, for a person reading the manifest.
    ``Scoring()`` is the plain mean squared error."""

    aggregate: Aggregate = "mean"
    feature_weights: tuple[float, ...] | None = None
    sustained: SustainedChannel | None = None
    definition: str = ""
    feature_errors: str = ""
    sustained_note: str = ""
    weights: np.ndarray | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.feature_weights is not None and not all(math.isfinite(w) and w > 0 for w in self.feature_weights):
            raise BundleError("must be positive finite numbers, one per feature", field="scoring.feature_weights")
        weights = None if self.feature_weights is None else np.asarray(self.feature_weights, dtype=np.float64)
        object.__setattr__(self, "weights", weights)

    @property
    def kind(self) -> str:
        """The ``--score`` name of this scoring (``max-z``, ``mean-z``, ``mse``), or its aggregate."""
        key = (self.feature_weights is not None, self.aggregate)
        return next((name for name, spec in SCORE_KINDS.items() if spec == key), self.aggregate)


@dataclass(frozen=True)
class ThresholdRule:
    """How a threshold is derived from the scores of normal held-out rows (higher = more anomalous):
    ``margin * quantile(scores, quantile)``. With the defaults the threshold sits at twice the score only
    0.5% of normal held-out readings exceed: the held-out rows are a few hours of one recording, the device
    sees operating states they lack, and the k-of-n alert policy absorbs the remaining isolated
    exceedances (docs/evaluation.md has the measurements behind the margin)."""

    kind: Literal["quantile"] = "quantile"
    quantile: float = 0.995
    margin: float = 2.0

    def __post_init__(self) -> None:
        if not 0.5 <= self.quantile < 1.0:
            raise ValueError("threshold quantile must be in [0.5, 1)")
        if not self.margin > 0:
            raise ValueError("threshold margin must be positive")

    def fit(self, scores: np.ndarray) -> float:
        """The threshold for these scores of normal held-out rows."""
        return float(self.margin * np.quantile(np.asarray(scores, dtype=np.float64), self.quantile))


@dataclass(frozen=True)
class Threshold:
    """One model's calibrated decision threshold: ``score > value`` is anomalous, calibrated by the bundle's
    :class:`ThresholdRule` on that model's own scores of the held-out rows (``validation_rows`` of them, with
    median ``validation_median``: the baseline an adaptive threshold compares against). ``sustained`` is the
    threshold of the sustained-deviation level, by the same rule on the same rows' levels (None: no channel)."""

    value: float = field(metadata=finite)
    validation_median: float = field(metadata=finite)
    validation_p99: float = field(metadata=finite)
    validation_rows: int = field(metadata=check(lambda v: v > 0, "a positive integer"))
    sustained: float | None = field(default=None, metadata=positive)

    @classmethod
    def calibrate(cls, rule: ThresholdRule, scores: np.ndarray, sustained: float | None = None) -> Threshold:
        """The threshold ``rule`` gives ``scores`` (held-out rows), with their median and 99th percentile."""
        values = np.asarray(scores, dtype=np.float64)
        return cls(
            value=rule.fit(values),
            validation_median=float(np.median(values)),
            validation_p99=float(np.quantile(values, 0.99)),
            validation_rows=int(values.size),
            sustained=sustained,
        )
