"""Test doubles shared by the edge tests: a small valid manifest, a numpy scorer bound to its artifact, reading
payloads and a bundle directory with a placeholder model.

Importable from a subprocess too (``tests/agent/run_fake_agent.py``), so that signal and ``kill -9`` tests
can run the real service with a fake model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.bundle import Manifest
from edgewatch.runtime.base import ScoreBatch

FEATURES = ("temp", "pressure", "vibration")
PROBE_ROWS = 2


def manifest_dict(
    features: Sequence[str] = FEATURES,
    *,
    window: int = 1,
    threshold: float = 4.0,
    validation_median: float = 0.8,
    stats: dict[str, dict[str, Any]] | None = None,
    center: Sequence[float] | None = None,
    scale: Sequence[float] | None = None,
    model_id: str = "dense-ae-0badc0de",
    sustained: tuple[float, ...] | None = None,
    run_indicator: tuple[str, float] | None = None,
) -> dict[str, Any]:
    """A valid schema-2 manifest: features ~ N(0, 1) in training, range [-3, 3], identity scaler, one artifact
    ``fake`` with ``threshold``. ``sustained=(tau_s, threshold[, fast_tau_s])`` adds a sustained-deviation
    channel; ``run_indicator=(feature, below)`` a run indicator."""
    n = len(features)
    feature_stats = []
    for name in features:
        entry = {"name": name, "min": -3.0, "max": 3.0, "mean": 0.0, "std": 1.0, "q001": -3.0, "q01": -2.3}
        entry |= {"q50": 0.0, "q99": 2.3, "q999": 3.0, "longest_constant_run": 1}
        entry.update((stats or {}).get(name, {}))
        feature_stats.append(entry)
    scoring: dict[str, Any] = {"aggregate": "mean", "definition": "mean squared z-score (test fake)"}
    limits = {"value": threshold, "validation_median": validation_median, "validation_p99": 1.0, "validation_rows": 100}
    if sustained is not None:
        scoring["sustained"] = {"tau_s": sustained[0], "fast_tau_s": sustained[2] if len(sustained) > 2 else None}
        limits["sustained"] = sustained[1]
    artifact = {"name": "fake", "file": "model.bin", "runtime": "litert", "precision": "fp32"}
    artifact |= {"output": "reconstruction", "threshold": limits, "probe_scores": [0.0] * PROBE_ROWS}
    training = {"rows": 1000, "validation_rows": 100, "excluded_labelled_rows": 0, "validation_fraction": 0.2}
    training |= {"calibration_rows": 200, "calibration_range_rows": True, "seed": 0}
    data: dict[str, Any] = {
        "schema_version": 2,
        "edgewatch_version": "0.1.0",
        "model_id": model_id,
        "created_at": "2026-01-01T00:00:00Z",
        "model": {"kind": "dense-ae" if window == 1 else "conv-ae", "window": window},
        "features": list(features),
        "scaler": {"center": list(center or [0.0] * n), "scale": list(scale or [1.0] * n)},
        "feature_stats": feature_stats,
        "scoring": scoring,
        "threshold_rule": {"quantile": 0.995, "margin": 2.0},
        "artifacts": [artifact],
        "default_artifact": {"litert": "fake"},
        "probe": {"file": "probe.npy", "rows": PROBE_ROWS, "tolerance": 0.1},
        "training": training,
        "files": {name: {"sha256": "0" * 64, "bytes": 1} for name in ("model.bin", "probe.npy")},
    }
    if run_indicator is not None:
        feature, below = run_indicator
        data["run_indicator"] = {"feature": feature, "below": below, "stops": 2, "stopped_fraction": 0.1}
        data["run_indicator"]["companions"] = []
    return data


def make_manifest(features: Sequence[str] = FEATURES, **kwargs: Any) -> Manifest:
    return Manifest.from_json(manifest_dict(features, **kwargs))


class SquaredScorer:
    """A scorer bound to the fake manifest's artifact: ``feature_errors`` = the mean over the window of
    ``x**2`` (a squared z-score), ``score`` = their mean over features. Records every batch it scored, and
    counts how often it was constructed (the agent must open its backend once)."""

    artifact = make_manifest().artifacts[0]
    instances = 0

    def __init__(self) -> None:
        SquaredScorer.instances += 1
        self.calls: list[tuple[int, ...]] = []
        self.inputs: list[np.ndarray] = []

    def score_batch(self, x: np.ndarray) -> ScoreBatch:
        assert x.dtype == np.float32 and x.ndim == 3
        self.calls.append(x.shape)
        self.inputs.append(x.copy())
        errors = (x.astype(np.float64) ** 2).mean(axis=1)
        return ScoreBatch(scores=errors.mean(axis=1), feature_errors=errors)


def reading(ts: float, value: float = 0.1, **overrides: float) -> bytes:
    """A nested-object payload with every feature at ``value`` (jittered so no sensor looks stuck)."""
    values = {f: value + 0.001 * ((int(ts * 10) + i) % 7) for i, f in enumerate(FEATURES)}
    values.update(overrides)
    return json.dumps({"ts": ts, "values": values}).encode()


def write_fake_bundle(path: Path) -> Path:
    """A verified bundle directory with the fake manifest and placeholder model and probe files."""
    from dataclasses import replace

    from edgewatch.bundle import file_entries, write_bundle

    files = {"model.bin": b"not a real model", "probe.npy": b"not a real probe"}
    write_bundle(path, replace(make_manifest(), files=file_entries(files)), files)
    return path
