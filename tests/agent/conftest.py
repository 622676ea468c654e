"""Fixtures of the agent tests: a real Mosquitto broker per test (``broker``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ holds the shared mqtt_broker helper

from tests.fakes import SquaredScorer, make_manifest

from mqtt_broker import MosquittoBroker, require_mosquitto


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    """A fresh mosquitto on a free loopback port (skipped without mosquitto, failed under CI=true)."""
    binary = require_mosquitto()
    with MosquittoBroker(binary=binary) as running:
        yield running


class Listener:
    """A plain paho client that records every message on ``topic_filter`` (independent of our transport)."""

    def __init__(self, host: str, port: int, topic_filter: str) -> None:
        import threading

        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[str, bytes, bool]] = []  # (topic, payload, retain)
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id="")

        def on_connect(client, userdata, flags, reason, properties):  # type: ignore[no-untyped-def]
            client.subscribe(topic_filter, 1)

        def on_subscribe(client, userdata, mid, reasons, properties):  # type: ignore[no-untyped-def]
            self._subscribed.set()

        def on_message(client, userdata, message):  # type: ignore[no-untyped-def]
            with self._cond:
                self.messages.append((message.topic, message.payload, bool(message.retain)))
                self._cond.notify_all()

        self._client.on_connect = on_connect
        self._client.on_subscribe = on_subscribe
        self._client.on_message = on_message
        self._client.connect(host, port)
        self._client.loop_start()
        if not self._subscribed.wait(5):
            raise RuntimeError("listener could not subscribe")

    def wait_for(self, predicate, timeout: float = 5.0) -> list[tuple[str, bytes, bool]]:  # type: ignore[no-untyped-def]
        """Wait until ``predicate(messages)`` is true; return the messages (fail on timeout)."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.messages), timeout):
                raise AssertionError(f"timed out; messages so far: {self.messages!r}")
            return list(self.messages)

    def payloads(self, topic: str) -> list[bytes]:
        with self._cond:
            return [p for t, p, _ in self.messages if t == topic]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def listen(broker: MosquittoBroker) -> Iterator:  # type: ignore[type-arg]
    """``listen(topic_filter) -> Listener`` on the test's broker; closed at teardown."""
    listeners: list[Listener] = []

    def make(topic_filter: str = "#") -> Listener:
        listener = Listener(broker.host, broker.port, topic_filter)
        listeners.append(listener)
        return listener

    yield make
    for listener in listeners:
        listener.close()


@pytest.fixture
def make_pipeline():  # type: ignore[no-untyped-def]
    """``make_pipeline(**pipeline_kwargs) -> Pipeline`` with the fake manifest and backend."""

    from edgewatch.core.alerts import AlertConfig
    from edgewatch.core.pipeline import Pipeline, PipelineConfig
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
