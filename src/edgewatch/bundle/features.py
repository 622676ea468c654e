"""What a bundle knows about each feature: the scaler the model expects, and training statistics in raw units."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from edgewatch.errors import BundleError


@dataclass(frozen=True)
class Scaler:
    """Standardisation fitted on training rows: ``scaled = (raw - center) / scale``, per feature."""

    center: tuple[float, ...]
    scale: tuple[float, ...]
    _center: np.ndarray = field(init=False, repr=False, compare=False)
    _scale: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.center) != len(self.scale):
            raise BundleError("center and scale must be lists of equal length", field="scaler")
        if not all(math.isfinite(s) and s > 0 for s in self.scale):
            raise BundleError("every scale must be a positive finite number", field="scaler.scale")
        object.__setattr__(self, "_center", np.asarray(self.center, dtype=np.float64))
        object.__setattr__(self, "_scale", np.asarray(self.scale, dtype=np.float64))

    @classmethod
    def fit(cls, rows: np.ndarray) -> Scaler:
        """The scaler of training rows ``(n, F)``: their mean and standard deviation per feature."""
        return cls(tuple(rows.mean(axis=0).tolist()), tuple(rows.std(axis=0).tolist()))

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Scale raw readings (shape ``(..., n_features)``) to float32 model units."""
        scaled: np.ndarray = ((raw - self._center) / self._scale).astype(np.float32, copy=False)
        return scaled


@dataclass(frozen=True)
class FeatureStats:
    """Per-feature statistics of the training rows, in raw units (for range checks on the device).
    ``longest_constant_run`` is the longest run of identical consecutive values seen in training."""

    name: str
    min: float
    max: float
    mean: float
    std: float
    q001: float
    q01: float
    q50: float
    q99: float
    q999: float
    longest_constant_run: int

    @classmethod
    def from_values(cls, name: str, values: np.ndarray) -> FeatureStats:
        q = np.quantile(values, [0.001, 0.01, 0.5, 0.99, 0.999])
        changes = np.flatnonzero(np.diff(values) != 0)
        edges = np.concatenate(([-1], changes, [len(values) - 1]))
        longest = int(np.max(np.diff(edges))) if len(values) else 0
        return cls(
            name=name,
            min=float(np.min(values)),
            max=float(np.max(values)),
            mean=float(np.mean(values)),
            std=float(np.std(values)),
            q001=float(q[0]),
            q01=float(q[1]),
            q50=float(q[2]),
            q99=float(q[3]),
            q999=float(q[4]),
            longest_constant_run=longest,
        )
