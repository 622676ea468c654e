"""The contract every backend keeps, checked on every artifact of every model kind: the same input gives the
same scores, the input is left as it was, the bundle's probe is reproduced, scores and errors have the
documented shapes and dtypes whatever the batch, and a higher score means more anomalous. A new runtime or
model kind gets these checks by appearing here; each test id names the artifact and the check
(``litert-int8:deterministic``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgewatch.bundle import Bundle, load_bundle
from edgewatch.runtime import Backend, open_backend
from edgewatch.runtime.probe import check_backend
from tests.recordings import FAST_FIT, correlated_rows, write_csv

AUTOENCODER = ("litert-int8", "litert-fp32", "onnx-int8", "onnx-fp32")
ARTIFACTS = [("dense-ae", a) for a in AUTOENCODER] + [("conv-ae", a) for a in AUTOENCODER] + [("iforest", "onnx-fp32")]


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory, dense_bundle: Path) -> dict[str, Bundle]:
    """One bundle per model kind: the session's dense autoencoder, and a conv-ae and an isolation forest
    trained on a smaller recording of the same machine."""
    from edgewatch.data.read import read_recordings
    from edgewatch.train.builder import TrainOptions, build_bundle

    root = tmp_path_factory.mktemp("contract")
    recording = read_recordings([write_csv(root / "normal.csv", correlated_rows(1500, 8, seed=3))])
    built = {"dense-ae": load_bundle(dense_bundle)}
    for kind, options in (
        ("conv-ae", TrainOptions(model="conv-ae", window=8, fit=FAST_FIT, allow_low_fidelity=True)),
        ("iforest", TrainOptions(model="iforest", n_estimators=30)),
    ):
        built[kind] = build_bundle(recording, options, root / kind).bundle
    return built


def inputs(bundle: Bundle, n: int, seed: int = 0) -> np.ndarray:
    """``n`` scaled inputs of normal readings (from the training statistics), float32 (n, window, F)."""
    m = bundle.manifest
    rng = np.random.default_rng(seed)
    raw = np.array([s.mean for s in m.feature_stats]) + 0.5 * rng.standard_normal(
        (n * m.window, m.n_features)
    ) * np.array([s.std for s in m.feature_stats])
    return m.scaler.transform(raw).reshape(n, m.window, m.n_features)


def deterministic(bundle: Bundle, backend: Backend) -> None:
    x = inputs(bundle, 40)
    first, again = backend.score_batch(x), backend.score_batch(x)
    reopened = open_backend(bundle, backend.artifact.runtime, artifact=backend.artifact.name).score_batch(x)
    for other in (again, reopened):
        np.testing.assert_array_equal(first.scores, other.scores)
        np.testing.assert_array_equal(first.feature_errors, other.feature_errors)


def input_unchanged(bundle: Bundle, backend: Backend) -> None:
    x = inputs(bundle, 20)
    before = x.copy()
    backend.score_batch(x)
    backend.score_batch(x[:1])
    np.testing.assert_array_equal(x, before)


def probe_reproduces(bundle: Bundle, backend: Backend) -> None:
    assert check_backend(bundle, backend) == pytest.approx(0.0, abs=1e-6)  # the machine that built it


def shapes_and_dtypes(bundle: Bundle, backend: Backend) -> None:
    m = bundle.manifest
    x = inputs(bundle, 200)  # more than the largest batch any runtime prepares
    batch = backend.score_batch(x)
    assert batch.scores.shape == (200,) and batch.scores.dtype == np.float64
    assert batch.feature_errors.shape == (200, m.n_features) and batch.feature_errors.dtype == np.float64
    assert np.isfinite(batch.scores).all() and (batch.feature_errors >= 0).all()
    one = np.concatenate([backend.score_batch(x[i : i + 1]).scores for i in (0, 77, 199)])
    np.testing.assert_allclose(one, batch.scores[[0, 77, 199]], rtol=1e-6, atol=1e-9)  # batching changes nothing


def higher_means_anomalous(bundle: Bundle, backend: Backend) -> None:
    x = inputs(bundle, 100)
    normal = backend.score_batch(x).scores
    far_off = backend.score_batch(x + np.float32(8.0)).scores
    assert np.median(far_off) > np.quantile(normal, 0.99)


CHECKS: dict[str, Callable[[Bundle, Backend], None]] = {
    check.__name__: check
    for check in (deterministic, input_unchanged, probe_reproduces, shapes_and_dtypes, higher_means_anomalous)
}
CASES = [(kind, artifact, check) for kind, artifact in ARTIFACTS for check in CHECKS]


@pytest.mark.parametrize(
    ("kind", "artifact", "check"),
    CASES,
    ids=[
        f"{artifact}:{check}" if kind == "dense-ae" else f"{kind}/{artifact}:{check}" for kind, artifact, check in CASES
    ],
)
def test_backend_contract(bundles: dict[str, Bundle], kind: str, artifact: str, check: str) -> None:
    bundle = bundles[kind]
    backend = open_backend(bundle, artifact.split("-")[0], artifact=artifact)
    assert backend.artifact.name == artifact and backend.name == artifact.split("-")[0]
    CHECKS[check](bundle, backend)
