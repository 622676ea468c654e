"""Fixtures of the benchmark smoke tests: one tiny default-shaped bundle per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dense-ae bundle on 2,000 simulated rows x 8 sensors, 3 epochs (shape only, not quality)."""
    pytest.importorskip("tensorflow")
    from edgewatch.sim import simulate_normal
    from edgewatch.train.builder import TrainOptions, build_bundle
    from edgewatch.train.fit import FitSettings

    out = tmp_path_factory.mktemp("bench") / "bundle"
    rec = simulate_normal(n_rows=2000, n_features=8, seed=0)
    options = TrainOptions(allow_low_fidelity=True, fit=FitSettings(max_epochs=3, progress=False))
    build_bundle(rec, options, out)
    return out
