"""Fixtures for edgewatch.core tests: tiny hand-made manifests and a numpy fake scorer (tests/fakes.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from edgewatch.bundle import Manifest
from tests.fakes import SquaredScorer, make_manifest, manifest_dict


@pytest.fixture(name="make_manifest")
def _make_manifest() -> Callable[..., Manifest]:
    """Factory: ``make_manifest(features=..., window=..., threshold=..., stats={name: {...}})``."""
    return make_manifest


@pytest.fixture
def fake_scorer() -> SquaredScorer:
    return SquaredScorer()


@pytest.fixture
def scorer_factory() -> Callable[[], SquaredScorer]:
    return SquaredScorer


@pytest.fixture
def make_manifest_dict() -> Callable[..., dict[str, Any]]:
    """Factory for the manifest dict itself (to break it on purpose)."""
    return manifest_dict
