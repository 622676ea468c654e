"""Thermal guard, stats, the per-device rate limiter and the Prometheus endpoint."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import numpy as np
import pytest

from edgewatch.agent.health import (
    AgentStats,
    ThermalGuard,
    birth_message,
    percentiles,
    stopped_message,
    will_message,
)
from edgewatch.agent.metrics import MetricsServer, Sample, render
from edgewatch.agent.ratelimit import RateLimiter


def test_status_messages_are_retained_on_the_agent_topic() -> None:
    for message, payload in (
        (birth_message("a"), b"online"),
        (will_message("a"), b"offline"),
        (stopped_message("a"), b"stopped"),
    ):
        assert message.topic == "edgewatch/a/status"
        assert message.payload == payload and message.retain and message.qos == 1


def test_thermal_guard_throttles_above_limit_and_restores_below_hysteresis(tmp_path: Path, caplog) -> None:
    temp = tmp_path / "temp"
    guard = ThermalGuard(temp, limit_c=70.0, hysteresis_c=5.0, throttled_rate_hz=0.5, read_interval_s=1.0)
    temp.write_text("65000\n")  # millidegrees
    assert guard.update(0.0) is None and guard.temperature_c == 65.0 and not guard.throttled
    temp.write_text("71500\n")
    assert guard.update(0.5) is None  # not re-read before read_interval_s
    change = guard.update(1.0)
    assert change is not None and change.throttled and guard.throttled
    assert change.to_json() == {"state": "throttled", "temperature_c": 71.5, "limit_c": 70.0, "rate_hz": 0.5}
    assert "scoring at most" in caplog.text
    temp.write_text("67000\n")  # below the limit but within the hysteresis: stay throttled
    assert guard.update(2.0) is None and guard.throttled
    temp.write_text("64000\n")
    change = guard.update(3.0)
    assert change is not None and not change.throttled and not guard.throttled
    assert change.to_json()["state"] == "normal"


def test_thermal_guard_without_sensor_is_off(tmp_path: Path, caplog) -> None:
    guard = ThermalGuard(tmp_path / "none", limit_c=70, hysteresis_c=5, throttled_rate_hz=1)
    assert guard.update(0.0) is None and guard.temperature_c is None
    assert "thermal guard off" in caplog.text
    (tmp_path / "deg").write_text("82\n")  # some drivers report whole degrees
    assert ThermalGuard(tmp_path / "deg", limit_c=70, hysteresis_c=5, throttled_rate_hz=1).read_celsius() == 82


def test_rate_limiter_drops_and_counts_per_device() -> None:
    limiter = RateLimiter(2.0)
    allowed = [limiter.allow("a", 0.0) for _ in range(5)]
    assert allowed == [True, True, False, False, False]  # bucket of one second = 2 readings
    assert limiter.allow("b", 0.0)  # devices are independent
    assert limiter.allow("a", 0.5)  # refilled one token
    assert limiter.dropped["a"] == 3
    limiter.set_rate(0)
    assert all(limiter.allow("a", 0.5) for _ in range(100))
    with pytest.raises(ValueError):
        limiter.set_rate(-1)


def test_stats_snapshot() -> None:
    stats = AgentStats()
    stats.record_batch([99.0, 99.5], 100.0)
    stats.record_event("rejected", "malformed_json")
    stats.record_event("alert", "raised")
    stats.record_rate_limited(3)
    snap = stats.snapshot(outbox_depth=4)
    assert snap["readings_total"] == 2 and snap["rate_limited_total"] == 3
    assert snap["rejected_total"] == {"malformed_json": 1} and snap["alerts_total"] == {"raised": 1}
    assert snap["latency_ms_p50"] == pytest.approx(750.0) and snap["latency_ms_p99"] <= 1000.0
    assert snap["outbox_depth"] == 4 and snap["readings_per_s"] > 0


def test_prometheus_text_and_http_endpoint() -> None:
    samples = [
        Sample("edgewatch_readings_total", "counter", "Readings.", 12),
        Sample("edgewatch_rejected_total", "counter", "Rejected.", 2, (("reason", 'bad"json'),)),
        Sample("edgewatch_rejected_total", "counter", "Rejected.", 1, (("reason", "oversized"),)),
        Sample("edgewatch_cpu_temperature_celsius", "gauge", "Temp.", None),  # unknown: omitted
        Sample("edgewatch_latency_seconds", "gauge", "Latency.", 0.0125, (("quantile", "0.5"),)),
    ]
    text = render(samples)
    assert text.count("# TYPE edgewatch_rejected_total counter") == 1
    assert 'edgewatch_rejected_total{reason="bad\\"json"} 2' in text
    assert "edgewatch_readings_total 12" in text and "cpu_temperature" not in text
    assert 'edgewatch_latency_seconds{quantile="0.5"} 0.0125' in text
    server = MetricsServer("127.0.0.1", 0, lambda: samples).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert response.read().decode() == text
    finally:
        server.stop()


def test_latency_percentiles_are_numpys_without_numpy_percentile() -> None:
    """``percentiles`` (the stats' p50/p99) gives np.percentile's numbers exactly, without np.percentile (which
    imports numpy.ma, 1.2 MB of the agent's memory)."""
    rng = np.random.default_rng(3)
    for n in [*range(1, 60), 999, 1000, 4096]:
        samples = rng.exponential(2.0, n) * rng.choice([1e-3, 1.0, 1e3])
        if n % 5 == 0:
            samples = np.round(samples, 1)  # ties
        for q in ((50.0, 99.0), (0.0, 100.0), (25.0, 75.0, 99.9)):
            assert np.array_equal(percentiles(samples, q), np.percentile(samples, list(q))), (n, q)
