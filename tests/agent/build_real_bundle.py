"""Train a tiny real dense autoencoder bundle for the agent's end-to-end tests.

``python build_real_bundle.py OUT_DIR`` writes ``OUT_DIR/bundle`` (LiteRT and ONNX, INT8 and FP32). Run in
a subprocess so the test process never imports TensorFlow. The signal: 6 sensors driven by 2 slow latent
factors plus noise; :func:`sensor_rows` continues the same signal for the readings the tests publish.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

FEATURES = tuple(f"s{j}" for j in range(6))
START = 1_750_000_000.0
TRAIN_ROWS = 3000


def sensor_rows(start: int, n: int, seed: int = 0) -> np.ndarray:
    """Normal readings ``start .. start+n-1`` of the synthetic machine (same law as the training data)."""
    t = np.arange(start, start + n)
    latent = np.stack([np.sin(t / 50.0), np.cos(t / 130.0)], axis=1)
    mixing = np.random.default_rng(1).standard_normal((2, len(FEATURES)))
    noise = np.random.default_rng(seed + start).standard_normal((n, len(FEATURES)))
    return np.tanh(latent @ mixing) * 10 + 50 + 0.2 * noise


def main(out: Path) -> None:
    from edgewatch.data.read import read_recordings
    from edgewatch.train.builder import TrainOptions, build_bundle
    from edgewatch.train.fit import FitSettings

    out.mkdir(parents=True, exist_ok=True)
    data = out / "normal.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", *FEATURES])
        for i, row in enumerate(sensor_rows(0, TRAIN_ROWS)):
            writer.writerow([f"{START + i:.0f}", *(f"{v:.5f}" for v in row)])
    options = TrainOptions(
        layers=(16, 4, 16),
        allow_low_fidelity=True,  # tiny and fast; fidelity is not what these tests are about
        fit=FitSettings(max_epochs=30, patience=5, progress=False),
    )
    build_bundle(read_recordings([data]), options, out / "bundle")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
