"""Fixtures of the agent tests: a pipeline around the fake manifest and scorer, a real trained bundle."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.fakes import SquaredScorer, make_manifest


@pytest.fixture
def make_pipeline():  # type: ignore[no-untyped-def]
    """``make_pipeline(**pipeline_kwargs) -> Pipeline`` with the fake manifest and backend."""

    from edgewatch.core.alerts import AlertConfig
    from edgewatch.core.config import PipelineConfig
    from edgewatch.core.pipeline import Pipeline
    from edgewatch.core.thresholds import ThresholdConfig

    def make(**kwargs):  # type: ignore[no-untyped-def]
        alerts = AlertConfig(k=3, n=5, clear_after=3, cooldown_s=0.0, instant_ratio=float("inf"))
        config = PipelineConfig(ThresholdConfig(mode="fixed"), alerts)
        return Pipeline(make_manifest(), SquaredScorer(), config, **kwargs)

    return make


@pytest.fixture(scope="session")
def real_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real trained bundle (dense autoencoder, LiteRT + ONNX), built once per session in a subprocess."""
    import subprocess

    out = tmp_path_factory.mktemp("real-model")
    script = Path(__file__).resolve().parent / "build_real_bundle.py"
    done = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"building the test bundle failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return out / "bundle"
