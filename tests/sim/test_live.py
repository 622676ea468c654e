"""Live publishing without a broker: payloads, device ids, pacing (a fake clock and a fake client)."""

from __future__ import annotations

import json
import math

import pytest

from edgewatch.errors import ConfigError
from edgewatch.rig.clients import parse_mqtt_url
from edgewatch.sim import simulate
from edgewatch.sim.live import device_ids, device_seed, payload, publish_recordings


def test_payload_uses_null_for_missing_values() -> None:
    doc = json.loads(payload(1767225600.5, ("a", "b"), [1.25, math.nan]))
    assert doc == {"ts": 1767225600.5, "values": {"a": 1.25, "b": None}}


def test_device_ids_and_seeds() -> None:
    assert device_ids(3) == ["pump-01", "pump-02", "pump-03"]
    assert device_ids(120)[-1] == "pump-120" and device_ids(120)[0] == "pump-001"
    seeds = {device_seed(0, i) for i in range(50)}
    assert len(seeds) == 50 and device_seed(0, 1) == device_seed(0, 1) != device_seed(1, 1)


def test_parse_mqtt_url() -> None:
    a = parse_mqtt_url("mqtt://127.0.0.1:1884")
    assert (a.host, a.port, a.tls, a.username) == ("127.0.0.1", 1884, False, None)
    b = parse_mqtt_url("mqtts://user:p%40ss@broker.example")
    assert (b.host, b.port, b.tls, b.username, b.password) == ("broker.example", 8883, True, "user", "p@ss")
    with pytest.raises(ConfigError, match="mqtt"):
        parse_mqtt_url("http://x")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeClient:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, str, bytes, int]] = []

    def publish(self, topic: str, body: bytes, qos: int = 0) -> None:
        self.sent.append((self.clock.now, topic, body, qos))


def test_publish_recordings_paces_every_device() -> None:
    recs = {d: simulate(n_rows=20, rate_hz=2.0, seed=i, faults="none") for i, d in enumerate(device_ids(3))}
    clock = FakeClock()
    client = FakeClient(clock)
    stats = publish_recordings(
        recs, client, topic="site/{device}/data", speedup=4.0, clock=clock, sleep=clock.sleep, max_rows=10
    )
    assert stats.rows == 10 and stats.messages == 30 and stats.late_ticks == 0 and stats.failed == 0
    assert [t for t, *_ in client.sent[::3]] == pytest.approx([100.0 + k / 8.0 for k in range(10)])
    assert {topic for _, topic, _, _ in client.sent} == {f"site/pump-0{i}/data" for i in (1, 2, 3)}
    first = json.loads(client.sent[0][2])
    rec = recs["pump-01"]
    assert first["ts"] == rec.timestamps[0]
    assert first["values"] == dict(zip(rec.features, rec.values[0].tolist(), strict=True))
    assert all(q == 0 for *_, q in client.sent)


def test_publish_recordings_counts_late_ticks() -> None:
    recs = {"pump-01": simulate(n_rows=5, seed=0, faults="none")}
    clock = FakeClock()

    class SlowClient(FakeClient):
        def publish(self, topic: str, body: bytes, qos: int = 0) -> None:
            super().publish(topic, body, qos)
            self.clock.now += 2.5  # each publish takes longer than a tick

    stats = publish_recordings(recs, SlowClient(clock), clock=clock, sleep=clock.sleep)
    assert stats.rows == 5 and stats.late_ticks >= 3
