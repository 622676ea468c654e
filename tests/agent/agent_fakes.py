"""Test doubles for the agent tests: a tiny manifest, a numpy fake backend, reading payloads, a bundle.

Importable from a subprocess too (``run_fake_agent.py``), so that signal and ``kill -9`` tests can run
the real service with a fake model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgewatch.runtime.base import ScoreBatch

FEATURES = ("temp", "pressure", "vibration")


def manifest_data(threshold: float = 4.0, model_id: str = "dense-ae-0badc0de") -> dict:  # type: ignore[type-arg]
    """A valid window-1 manifest (no files): identity scaler, training range [-3, 3] per feature."""
    stats = [
        {
            "name": f,
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
        for f in FEATURES
    ]
    return {
        "schema_version": 1,
        "edgewatch_version": "0.1.0",
        "model_id": model_id,
        "created_at": "2026-01-01T00:00:00Z",
        "model": {"kind": "dense-ae", "window": 1, "params": {}},
        "features": list(FEATURES),
        "scaler": {"center": [0.0] * 3, "scale": [1.0] * 3},
        "feature_stats": stats,
        "score": {"definition": "mean squared z-score (test fake)", "reduction": "mean"},
        "artifacts": {},
        "default_artifact": {},
        "threshold": {
            "value": threshold,
            "rule": "quantile",
            "params": {"validation_median": 0.8},
            "calibrated_on": "fake",
        },
        "fidelity": None,
        "training": {},
        "files": {},
    }


class FakeBackend:
    """score = mean of squared scaled inputs; counts how often it was constructed and called."""

    name = "fake"
    artifact = "fake-fp32"
    instances = 0

    def __init__(self) -> None:
        FakeBackend.instances += 1
        self.calls = 0

    def score_batch(self, x):  # type: ignore[no-untyped-def]
        self.calls += 1
        errors = (np.asarray(x, dtype=np.float64) ** 2).mean(axis=1)
        return ScoreBatch(scores=errors.mean(axis=1), feature_errors=errors)


def reading(ts: float, value: float = 0.1, **overrides: float) -> bytes:
    """A nested-object payload with every feature at ``value`` (jittered so no sensor looks stuck)."""
    values = {f: value + 0.001 * ((int(ts * 10) + i) % 7) for i, f in enumerate(FEATURES)}
    values.update(overrides)
    return json.dumps({"ts": ts, "values": values}).encode()


def write_fake_bundle(path: Path) -> Path:
    """A verified bundle directory with the fake manifest and a placeholder model file."""
    from edgewatch.bundle import write_bundle

    data = manifest_data()
    data.pop("files")
    write_bundle(path, data, {"model.bin": b"not a real model"})
    return path
