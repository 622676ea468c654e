"""The reliability suite (``edgewatch bench faults``), short variant: every scenario against the real agent
and a real Mosquitto; no alert lost, none left open, no crash. The long run is recorded in
benchmarks/results/faults.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgewatch.bench.fuzz import fuzz_payloads


def test_fuzz_payloads_are_deterministic_and_mostly_hostile() -> None:
    features = ["a", "b", "c"]
    first = list(fuzz_payloads(features, 500, seed=3, now=1.8e9))
    assert first == list(fuzz_payloads(features, 500, seed=3, now=1.8e9))
    assert len(set(first)) > 400
    from edgewatch.core.payload import PayloadParser
    from edgewatch.errors import PayloadError

    parser = PayloadParser(features)
    rejected = 0
    for payload in first:
        try:
            parser.parse(payload, arrival_time=1.8e9)
        except PayloadError:
            rejected += 1
    assert 0.5 * len(first) < rejected < len(first)  # hostile, with some valid ones among them


@pytest.mark.slow
@pytest.mark.mqtt
def test_the_short_reliability_suite_loses_no_alert(tiny_bundle: Path) -> None:
    from edgewatch.bench import faults
    from tests.mqtt_broker import require_mosquitto

    require_mosquitto()
    result = faults.run(bundle=str(tiny_bundle), short=True)
    json.dumps(result)
    assert set(result["scenarios"]) == set(faults.SCENARIOS)
    totals = result["totals"]
    assert totals["faults_injected"] > 0 and totals["alerts_delivered"] > 0
    assert totals["sigkills"] == faults.SHORT["kills"]
    for name in ("alerts_lost", "alerts_left_open", "crashes"):
        assert result["targets"][name]["met"], (name, result["scenarios"])
    fuzz = result["scenarios"]["fuzz"]
    assert fuzz["fuzz_payloads"] == faults.SHORT["fuzz"] and sum(fuzz["agent_rejected_total"].values()) > 0
    if "skipped" not in result["scenarios"]["disk_full"]:
        assert result["scenarios"]["disk_full"]["disk_full_logged"]
    assert result["scenarios"]["black_hole"]["lost_connection_logged"]
