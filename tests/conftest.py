"""Fixtures shared across the test packages: two small real bundles, each trained once per session (TensorFlow),
and the normal recording the first was trained on (tests that need no trained model use ``tests/fakes.py``); a real
Mosquitto per test and listeners on it (:mod:`edgewatch.rig`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edgewatch.rig.broker import MosquittoBroker
from edgewatch.rig.clients import Listener
from tests.mqtt_broker import require_mosquitto
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


@pytest.fixture(scope="session")
def real_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real trained bundle (dense autoencoder on 6 sensors, LiteRT + ONNX; ``tests/agent/build_real_bundle.py``),
    built once per session in a subprocess so that the test process never imports TensorFlow."""
    out = tmp_path_factory.mktemp("real-model")
    script = Path(__file__).resolve().parent / "agent" / "build_real_bundle.py"
    done = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"building the test bundle failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return out / "bundle"


@pytest.fixture
def bundle_copy(tmp_path: Path, dense_bundle: Path) -> Path:
    """A writable copy of the session's dense bundle, to break on purpose."""
    target = tmp_path / "bundle"
    shutil.copytree(dense_bundle, target)
    return target


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    """A fresh mosquitto on a free loopback port (skipped without mosquitto, failed under CI=true)."""
    with MosquittoBroker(binary=require_mosquitto()) as running:
        yield running


@pytest.fixture
def listen(broker: MosquittoBroker) -> Iterator[Callable[..., Listener]]:
    """``listen(topic_filter) -> Listener`` on the test's broker (a plain paho client, independent of the
    agent's transport); closed at teardown."""
    listeners: list[Listener] = []

    def make(topic_filter: str = "#") -> Listener:
        listeners.append(Listener(broker.url, topic_filter))
        return listeners[-1]

    yield make
    for listener in listeners:
        listener.close()
