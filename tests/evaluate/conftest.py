"""Fixtures of the evaluation tests: a synthetic scored file with faults, alerts, a drifting threshold
and a NaN warm-up, and a manifest-like model card."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest

from edgewatch.evaluate.report import ModelCard, ReportSeries

FEATURES = ["motor_temp_c", "bearing_vib_rms", "pump_pressure_bar", "flow_l_min", "current_a", "rpm"]
FAULTS = {"bearing_wear": 1, "overheat": 0, "stuck_sensor": 3, "pressure_spike": 2}


def synthetic_series(
    name: str = "line-1.csv", n: int = 20_000, seed: int = 0, step_s: float = 10.0, t0: float = 1.7646e9
) -> ReportSeries:
    """A plausible scored file: lognormal normal errors, four fault types, k-of-n alerts."""
    rng = np.random.default_rng(seed)
    t = t0 + np.arange(n) * step_s
    fe = rng.lognormal(mean=-2.0, sigma=0.6, size=(n, len(FEATURES)))
    labels = np.zeros(n, dtype=np.int64)
    types = np.array([""] * n, dtype=object)
    starts = np.sort(rng.choice(np.arange(n // 20, n - n // 20), size=8, replace=False))
    names = list(FAULTS)
    for k, s in enumerate(starts):
        kind = names[k % len(names)]
        length = int(rng.integers(n // 200, n // 60))
        e = min(s + length, n)
        labels[s:e] = 1
        types[s:e] = kind
        ramp = np.linspace(0.5, 4.0 if k % 4 else 0.3, e - s) ** 2
        fe[s:e, FAULTS[kind]] *= 1 + 30 * ramp
    fe[rng.random(n) < 0.0005] *= 80  # a few isolated spikes
    scores = fe.mean(axis=1)
    scores[:30] = np.nan
    fe[:30] = np.nan
    thresholds = 0.5 * (1 + 0.2 * np.sin(np.arange(n) / (n / 6)))
    over = np.nan_to_num(scores, nan=0.0) > thresholds
    window = np.convolve(over.astype(int), np.ones(5, dtype=int), mode="full")[:n]
    alert = window >= 3
    return ReportSeries(
        name=name,
        timestamps=t,
        scores=scores,
        thresholds=thresholds,
        alert_active=alert,
        labels=labels,
        fault_types=types,
        feature_errors=fe,
    )


MODEL_CARD = {
    "schema_version": 1,
    "edgewatch_version": "0.1.0",
    "model_id": "dense-ae-3f2a9c1b",
    "created_at": "2026-11-30T06:00:00Z",
    "model": {"kind": "dense-ae", "window": 1, "params": {"hidden": [16, 8, 4, 8, 16], "epochs": 40}},
    "features": FEATURES,
    "threshold": {"value": 0.5, "rule": "quantile", "params": {"q": 0.999}, "calibrated_on": "litert-int8"},
    "fidelity": {"alert_agreement": 0.9991, "score_spearman": 0.998, "max_abs_score_diff": 0.013},
    "training": {"rows": 86400, "validation_rows": 21600, "files": ["normal-01.csv", "normal-02.csv"]},
    "feature_stats": [{"name": f, "min": 0.0, "max": 1.0, "mean": 0.5, "std": 0.1, "q50": 0.5} for f in FEATURES],
    "files": {"model.int8.tflite": {"sha256": "ab" * 32, "bytes": 12345}},
}


@pytest.fixture
def make_series() -> Callable[..., ReportSeries]:
    return synthetic_series


@pytest.fixture
def model_card() -> ModelCard:
    facts = (
        ("model kind", "dense-ae"),
        ("model id", MODEL_CARD["model_id"]),
        ("threshold", 0.5),
        ("threshold rule", "quantile"),
        ("training rows", 86400),
    )
    return ModelCard(facts=facts, full=copy.deepcopy(MODEL_CARD), model_id="dense-ae-3f2a9c1b")


@pytest.fixture
def features() -> list[str]:
    return list(FEATURES)
