"""Session fixtures shared across the test packages: one small real bundle, trained once (TensorFlow), and
the normal recording it was trained on. Tests that need no trained model use ``tests/fakes.py`` instead."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.recordings import FAST_FIT, correlated_rows, write_csv


@pytest.fixture(scope="session")
def normal_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("data") / "normal.csv", correlated_rows(4000))


@pytest.fixture(scope="session")
def dense_bundle(tmp_path_factory: pytest.TempPathFactory, normal_csv: Path) -> Path:
    """The default dense autoencoder on 4,000 generated rows x 16 sensors: every artifact, LiteRT and ONNX."""
    from edgewatch.data.read import read_recordings
    from edgewatch.train.builder import TrainOptions, build_bundle

    out = tmp_path_factory.mktemp("bundles") / "dense"
    build_bundle(read_recordings([normal_csv]), TrainOptions(fit=FAST_FIT), out)
    return out


@pytest.fixture
def bundle_copy(tmp_path: Path, dense_bundle: Path) -> Path:
    """A writable copy of the session's dense bundle, to break on purpose."""
    target = tmp_path / "bundle"
    shutil.copytree(dense_bundle, target)
    return target
