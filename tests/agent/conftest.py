"""Fixtures of the agent tests: a pipeline around the fake manifest and scorer (the real trained bundle,
``real_bundle``, is shared with tests/arm64 and lives in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.fakes import QUICK_ALERTS, SquaredScorer, make_manifest


@pytest.fixture
def make_pipeline():  # type: ignore[no-untyped-def]
    """``make_pipeline(**pipeline_kwargs) -> Pipeline`` with the fake manifest and backend."""

    from edgewatch.core.alerts import AlertConfig
    from edgewatch.core.config import PipelineConfig
    from edgewatch.core.pipeline import Pipeline
    from edgewatch.core.thresholds import ThresholdConfig

    def make(**kwargs):  # type: ignore[no-untyped-def]
        alerts = AlertConfig(**QUICK_ALERTS)
        config = PipelineConfig(ThresholdConfig(mode="fixed"), alerts)
        return Pipeline(make_manifest(), SquaredScorer(), config, **kwargs)

    return make
