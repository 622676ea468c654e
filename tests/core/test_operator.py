"""Operator controls (core/operator.py): commands, their bounds and errors, and what they do to judging."""

from __future__ import annotations

import json
import math

import pytest

from edgewatch.core.alerts import AlertConfig
from edgewatch.core.config import PipelineConfig
from edgewatch.core.events import AlertEvent, ScoredReading
from edgewatch.core.operator import CommandError, ControlsConfig, OperatorControls
from edgewatch.core.pipeline import Pipeline
from edgewatch.core.thresholds import ThresholdConfig
from tests.fakes import SquaredScorer, make_manifest, reading

T0 = 1_767_225_600.0
CONFIG = ControlsConfig()
QUICK = AlertConfig(k=3, n=5, clear_after=3, cooldown_s=0.0, instant_ratio=math.inf, min_active_s=0.0)


def _pipeline() -> Pipeline:
    return Pipeline(make_manifest(), SquaredScorer(), PipelineConfig(ThresholdConfig(mode="fixed"), QUICK))


def _feed(pipe: Pipeline, values: list[float], start: float, device: str = "m1") -> list:  # type: ignore[type-arg]
    return pipe.process([(device, reading(start + i, v), start + i) for i, v in enumerate(values)])


def _alerts(events: list) -> list[dict]:  # type: ignore[type-arg]
    return [e.to_json() for e in events if isinstance(e, AlertEvent)]


@pytest.mark.parametrize(
    ("payload", "until"),
    [(b"ON", math.inf), (b"on", math.inf), (b'{"state": "ON", "duration_s": 60}', T0 + 60), (b"OFF", None)],
)
def test_maintenance_commands(payload: bytes, until: float | None) -> None:
    controls = OperatorControls()
    controls.apply("maintenance", payload, T0, None, CONFIG)
    assert controls.maintenance_until == until
    assert controls.state_payloads()["maintenance"] == (b"OFF" if until is None else b"ON")


@pytest.mark.parametrize(
    ("control", "payload", "reason"),
    [
        ("maintenance", b"maybe", "bad_command"),
        ("maintenance", b'{"state": "ON", "duration_s": -5}', "bad_command"),
        ("maintenance", b'{"state": "ON", "duration_s": 1e9}', "out_of_range"),
        ("maintenance", b"{not json", "bad_command"),
        ("sensitivity", b"high", "bad_command"),
        ("sensitivity", b"3", "out_of_range"),
        ("sensitivity", b"0.1", "out_of_range"),
        ("acknowledge", b"PRESS", "no_active_alert"),
        ("reboot", b"1", "bad_command"),
    ],
)
def test_bad_commands_are_refused_with_a_reason_and_change_nothing(control: str, payload: bytes, reason: str) -> None:
    controls = OperatorControls()
    before = controls.snapshot()
    with pytest.raises(CommandError) as info:
        controls.apply(control, payload, T0, None, CONFIG)
    assert info.value.reason == reason and str(info.value)
    assert controls.snapshot() == before


def test_sensitivity_is_bounded_by_the_configuration() -> None:
    controls = OperatorControls()
    controls.apply("sensitivity", b"1.5", T0, None, CONFIG)
    controls.apply("sensitivity", b'{"value": 2}', T0, None, CONFIG)
    assert controls.sensitivity == 2.0
    with pytest.raises(CommandError):
        controls.apply("sensitivity", b"1.5", T0, None, ControlsConfig(sensitivity_max=1.2))


def test_maintenance_scores_but_raises_nothing_and_counts_and_ends_by_itself() -> None:
    pipe = _pipeline()
    _feed(pipe, [0.1] * 3, T0)
    pipe.device("m1").operator.apply("maintenance", b'{"state": "ON", "duration_s": 10}', T0 + 3, None, CONFIG)
    during = _feed(pipe, [5.0] * 6, T0 + 3)  # a fault-like pattern while the machine is worked on
    assert _alerts(during) == []
    assert sum(isinstance(e, ScoredReading) for e in during) == 6 and pipe.counters["maintenance"] == 6
    after = _feed(pipe, [5.0] * 4, T0 + 14)  # the end (T0 + 13) passed in reading time
    assert [a["state"] for a in _alerts(after)] == ["raised"]
    assert pipe.device("m1").operator.expire(T0 + 13) is True  # the agent's clock ends it too


def test_an_alert_active_when_maintenance_begins_resumes_after_it() -> None:
    pipe = _pipeline()
    assert [a["state"] for a in _alerts(_feed(pipe, [5.0] * 3, T0))] == ["raised"]
    pipe.device("m1").operator.apply("maintenance", b"ON", T0 + 3, "x", CONFIG)
    assert _alerts(_feed(pipe, [0.1] * 5, T0 + 3)) == []  # no clear during maintenance
    pipe.device("m1").operator.apply("maintenance", b"OFF", T0 + 8, None, CONFIG)
    assert [a["state"] for a in _alerts(_feed(pipe, [0.1] * 3, T0 + 8))] == ["cleared"]


def test_sensitivity_divides_the_threshold_readings_are_judged_against() -> None:
    pipe = _pipeline()
    plain = [e for e in _feed(pipe, [1.5] * 3, T0) if isinstance(e, ScoredReading)]
    assert plain[0].threshold == 4.0 and not plain[0].above  # score ~2.25 < 4
    pipe.device("m1").operator.apply("sensitivity", b"2", T0, None, CONFIG)
    events = _feed(pipe, [1.5] * 3, T0 + 3)
    scored = [e for e in events if isinstance(e, ScoredReading)]
    assert scored[0].threshold == 2.0 and scored[0].above
    assert [a["state"] for a in _alerts(events)] == ["raised"]


def test_an_acknowledgement_is_in_the_alerts_next_messages_until_it_clears() -> None:
    pipe = _pipeline()
    raised = _alerts(_feed(pipe, [5.0] * 3, T0))
    alert_id = raised[0]["alert_id"]
    assert "acknowledged" not in raised[0]
    controls = pipe.device("m1").operator
    with pytest.raises(CommandError):
        controls.apply("acknowledge", b"someone-else-1", T0 + 3, alert_id, CONFIG)
    controls.apply("acknowledge", json.dumps({"alert_id": alert_id, "by": "alice"}).encode(), T0 + 3, alert_id, CONFIG)
    later = _alerts(_feed(pipe, [9.0] * 1 + [0.1] * 3, T0 + 20))  # severity rises (update), then clears
    assert [a["state"] for a in later] == ["update", "cleared"]
    assert all(a["acknowledged"] == {"by": "alice", "ts": T0 + 3} for a in later)
    assert controls.ack_alert_id is None
    again = _alerts(_feed(pipe, [5.0] * 3, T0 + 40))
    assert again[0]["state"] == "raised" and "acknowledged" not in again[0]


def test_operator_state_survives_a_restart_through_the_saved_state() -> None:
    pipe = _pipeline()
    raised = _alerts(_feed(pipe, [5.0] * 3, T0))
    controls = pipe.device("m1").operator
    controls.apply("maintenance", b'{"state": "ON", "duration_s": 600}', T0 + 3, None, CONFIG)
    controls.apply("sensitivity", b"1.25", T0 + 3, None, CONFIG)
    controls.apply("acknowledge", b"PRESS", T0 + 3, raised[0]["alert_id"], CONFIG)
    saved = json.loads(json.dumps(pipe.state_snapshot()))
    again = _pipeline()
    again.restore(saved)
    restored = again.device("m1").operator
    assert restored.snapshot() == controls.snapshot()
    assert restored.in_maintenance(T0 + 100) and not restored.in_maintenance(T0 + 603)
    assert restored.state_payloads() == controls.state_payloads()


def test_a_model_update_keeps_what_operators_set() -> None:
    from edgewatch.core.handover import hand_over

    live, new = _pipeline(), _pipeline()
    _feed(live, [0.1] * 2, T0)
    live.device("m1").operator.apply("sensitivity", b"1.5", T0, None, CONFIG)
    hand_over(live, new)
    assert new.device("m1").operator.sensitivity == 1.5
