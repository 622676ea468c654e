"""Handing devices over to a new model: the alert and sensor state carry, the model's own state does not."""

from __future__ import annotations

from edgewatch.core.alerts import AlertConfig
from edgewatch.core.config import PipelineConfig
from edgewatch.core.events import AlertEvent, ScoredReading
from edgewatch.core.handover import Tally, hand_over, within_bound
from edgewatch.core.pipeline import Pipeline
from edgewatch.core.thresholds import ThresholdConfig
from tests.fakes import SquaredScorer, make_manifest, reading


def _pipeline() -> Pipeline:
    alerts = AlertConfig(k=1, n=1, clear_after=2, cooldown_s=0.0, instant_ratio=float("inf"))
    return Pipeline(make_manifest(), SquaredScorer(), PipelineConfig(ThresholdConfig(mode="adaptive"), alerts))


def test_the_alert_and_last_timestamp_carry_and_the_new_model_clears_the_old_alert() -> None:
    live, new = _pipeline(), _pipeline()
    events = live.process([("pump", reading(100.0, 50.0), 100.0)])
    raised = [e for e in events if isinstance(e, AlertEvent)]
    assert [e.state for e in raised] == ["raised"]
    new.process([("other", reading(100.0), 100.0)])  # seen in shadow: keeps its own threshold
    own = new.devices["other"].threshold
    assert hand_over(live, new) == 1
    pump = new.devices["pump"]
    assert pump.alert.alert_id == raised[0].alert_id and pump.last_ts == 100.0
    assert new.devices["other"].threshold is own
    duplicate = new.process([("pump", reading(100.0), 100.0)])
    assert [e.reason for e in duplicate] == ["duplicate_timestamp"]  # type: ignore[attr-defined]
    later = new.process([("pump", reading(101.0), 101.0), ("pump", reading(102.0), 102.0)])
    cleared = [e for e in later if isinstance(e, AlertEvent)]
    assert [(e.state, e.alert_id) for e in cleared] == [("cleared", raised[0].alert_id)]


def test_the_tally_counts_anomalous_readings_and_raised_alerts() -> None:
    live, new = Tally(), Tally()
    pipeline = _pipeline()
    new.add(pipeline.process([("d", reading(float(t), 50.0 if t == 3 else 0.1), float(t)) for t in range(1, 11)]))
    assert (new.scored, new.anomalous, new.alerts_raised) == (10, 1, 1)
    live.add(e for e in [] if isinstance(e, ScoredReading))
    assert new.rate == 0.1 and live.rate == 0.0
    assert within_bound(live, new, 0.1) and not within_bound(live, new, 0.05)
    assert new.to_json() == {"scored": 10, "anomalous": 1, "anomalous_rate": 0.1, "alerts_raised": 1}
