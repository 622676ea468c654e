"""Test doubles shared by the edge tests: a small valid manifest, a numpy scorer bound to its artifact, reading
payloads, a bundle directory with a placeholder model and a settable clock.

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
    """A valid schema-3 manifest: features ~ N(0, 1) in training, range [-3, 3], identity scaler, one artifact
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
        "schema_version": 3,
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


GATE_FAILURE = "litert-int8: score rank correlation with FP32 on held-out + stress rows 0.9700 < 0.99"


def int8_manifest_dict(
    *, failed: bool = True, default: str = "litert-fp32", on_failure: str = "fallback-fp32"
) -> dict[str, Any]:
    """The fake manifest with two LiteRT artifacts, ``litert-int8`` and its FP32 twin ``litert-fp32``, the
    INT8 one having ``failed`` the fidelity gate (:data:`GATE_FAILURE`) or passed it; ``default`` is the
    runtime's default artifact, ``on_failure`` the gate's recorded policy."""
    data = manifest_dict()
    fp32 = data["artifacts"][0] | {"name": "litert-fp32", "file": "model.fp32.tflite"}
    figures = {"rank_correlation": 0.97, "alert_agreement": 1.0, "threshold_ratio": 1.0, "rows": 80}
    failures = [GATE_FAILURE] if failed else []
    fidelity = {"reference": "litert-fp32", "held_out": figures, "held_out_plus_stress": figures}
    int8 = fp32 | {"name": "litert-int8", "file": "model.int8.tflite", "precision": "int8"}
    int8["fidelity"] = fidelity | {"failures": failures}
    data["artifacts"] = [int8, fp32]
    data["default_artifact"] = {"litert": default}
    data["files"] = {
        n: {"sha256": "0" * 64, "bytes": 1} for n in ("model.int8.tflite", "model.fp32.tflite", "probe.npy")
    }
    data["fidelity"] = {
        "bars": {"min_rank_correlation": 0.99, "min_alert_agreement": 0.995, "max_threshold_ratio": 1.2},
        "held_out": "last 20% of each file's normal rows (time order)",
        "passed": not failed,
        "failures": failures,
        "unfaithful": ["litert-int8"] if failed else [],
        "on_failure": on_failure,
    }
    return data


# The agent tests' alert rules: 3 of 5, clear after 3 calm readings, no cool-down, no instant raise and no
# minimum duration, so short scripted streams raise and clear where the test says.
QUICK_ALERTS = {"k": 3, "n": 5, "clear_after": 3, "cooldown_s": 0.0, "instant_ratio": float("inf"), "min_active_s": 0.0}


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
        residuals = x.astype(np.float64).mean(axis=1)  # the reconstruction is all zeros
        return ScoreBatch(scores=errors.mean(axis=1), feature_errors=errors, residuals=residuals)


def reading(ts: float, value: float = 0.1, **overrides: float) -> bytes:
    """A nested-object payload with every feature at ``value`` (jittered so no sensor looks stuck)."""
    values = {f: value + 0.001 * ((int(ts * 10) + i) % 7) for i, f in enumerate(FEATURES)}
    values.update(overrides)
    return json.dumps({"ts": ts, "values": values}).encode()


def write_fake_bundle(path: Path, manifest: Manifest | None = None) -> Path:
    """A verified bundle directory with ``manifest`` (default: the fake manifest) and a placeholder file for
    each model and the probe."""
    from dataclasses import replace

    from edgewatch.bundle import file_entries, write_bundle

    manifest = manifest or make_manifest()
    files = {name: f"placeholder {name}".encode() for name in manifest.files}
    write_bundle(path, replace(manifest, files=file_entries(files)), files)
    return path


class Clock:
    """A monotonic clock the test sets (``clock.now = ...``); starts at 1000 s."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
