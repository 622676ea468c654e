"""Fixtures for edgewatch.core tests: tiny hand-made manifests and a numpy fake scorer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from edgewatch.bundle.manifest import Manifest
from edgewatch.runtime.base import ScoreBatch

FEATURES = ("temp", "pressure", "vibration")


def manifest_dict(
    features: Sequence[str] = FEATURES,
    *,
    window: int = 1,
    threshold: float = 4.0,
    validation_median: float | None = 0.8,
    stats: dict[str, dict[str, Any]] | None = None,
    center: Sequence[float] | None = None,
    scale: Sequence[float] | None = None,
    model_id: str = "dense-ae-0badc0de",
    sustained: tuple[float, ...] | None = None,
) -> dict[str, Any]:
    """A minimal valid manifest dict: features ~ N(0, 1) in training, range [-3, 3], identity scaler.
    ``sustained=(tau_s, threshold[, fast_tau_s])`` adds a sustained-deviation channel."""
    n = len(features)
    feature_stats = []
    for name in features:
        entry = {
            "name": name,
            "min": -3.0,
            "max": 3.0,
            "mean": 0.0,
            "std": 1.0,
            "q001": -3.0,
            "q01": -2.3,
            "q50": 0.0,
            "q99": 2.3,
            "q999": 3.0,
            "longest_constant_run": 1,
        }
        entry.update((stats or {}).get(name, {}))
        feature_stats.append(entry)
    params: dict[str, Any] = {"q": 0.999}
    if validation_median is not None:
        params["validation_median"] = validation_median
    score: dict[str, Any] = {"definition": "mean squared z-score (test fake)", "reduction": "mean"}
    threshold_json: dict[str, Any] = {"value": threshold, "rule": "quantile", "params": params, "calibrated_on": "fake"}
    if sustained is not None:
        score["sustained_tau_s"], threshold_json["sustained"] = sustained[0], sustained[1]
        if len(sustained) > 2:
            score["sustained_fast_tau_s"] = sustained[2]
    return {
        "schema_version": 1,
        "edgewatch_version": "0.1.0",
        "model_id": model_id,
        "created_at": "2026-01-01T00:00:00Z",
        "model": {"kind": "dense-ae" if window == 1 else "conv-ae", "window": window, "params": {}},
        "features": list(features),
        "scaler": {
            "center": list(center) if center is not None else [0.0] * n,
            "scale": list(scale) if scale is not None else [1.0] * n,
        },
        "feature_stats": feature_stats,
        "score": score,
        "artifacts": {},
        "default_artifact": {},
        "threshold": threshold_json,
        "fidelity": None,
        "training": {},
        "files": {},
    }


@pytest.fixture
def make_manifest() -> Callable[..., Manifest]:
    """Factory: ``make_manifest(features=..., window=..., threshold=..., stats={name: {...}})``."""

    def build(features: Sequence[str] = FEATURES, **kwargs: Any) -> Manifest:
        return Manifest.from_json(manifest_dict(features, **kwargs))

    return build


class FakeScorer:
    """Squared z-score model: ``feature_errors = mean over the window of x**2``, ``score = mean over F``.

    Records the shape of every batch so tests can check that the pipeline calls it once per batch.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[int, ...]] = []
        self.inputs: list[np.ndarray] = []

    def score_batch(self, x: np.ndarray) -> ScoreBatch:
        assert x.dtype == np.float32 and x.ndim == 3
        self.calls.append(x.shape)
        self.inputs.append(x.copy())
        errors = (x.astype(np.float64) ** 2).mean(axis=1)
        return ScoreBatch(scores=errors.mean(axis=1), feature_errors=errors)


@pytest.fixture
def fake_scorer() -> FakeScorer:
    return FakeScorer()


@pytest.fixture
def scorer_factory() -> Callable[[], FakeScorer]:
    return FakeScorer


@pytest.fixture
def make_manifest_dict() -> Callable[..., dict[str, Any]]:
    """Factory for the manifest dict itself (to break it on purpose)."""
    return manifest_dict
