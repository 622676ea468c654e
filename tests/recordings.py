"""Generated sensor recordings for the tests (a stand-in for a machine's correlated sensors), a CSV writer, and
the quick fit settings of test models."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from edgewatch.train.fit import FitSettings

FAST_FIT = FitSettings(max_epochs=40, patience=5, progress=False)


def correlated_rows(n: int, n_features: int = 16, seed: int = 0) -> np.ndarray:
    """Readings driven by 3 slow latent factors plus sensor noise: a stand-in for a machine's sensors."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    latent = np.stack([np.sin(t / 300.0), np.cos(t / 900.0), 0.5 * np.sin(t / 77.0)], axis=1)
    mixing = np.random.default_rng(1234).standard_normal((3, n_features))
    values = np.tanh(latent @ mixing) + 0.05 * rng.standard_normal((n, n_features))
    gains = np.random.default_rng(99).uniform(0.5, 50.0, n_features)
    offsets = np.random.default_rng(98).uniform(-20.0, 200.0, n_features)
    return values * gains + offsets


def write_csv(
    path: Path,
    rows: np.ndarray,
    *,
    sep: str = ",",
    names: list[str] | None = None,
    labels: np.ndarray | None = None,
    start: float = 1_750_000_000.0,
) -> Path:
    names = names or [f"sensor_{j}" for j in range(rows.shape[1])]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=sep)
        writer.writerow(["timestamp", *names] + (["anomaly"] if labels is not None else []))
        for i, row in enumerate(rows):
            extra = [int(labels[i])] if labels is not None else []
            writer.writerow([f"{start + i:.0f}", *(f"{v:.6f}" for v in row), *extra])
    return path
