"""Stuck-sensor counters and missing-sensor names survive a snapshot/restore (an agent restart)."""

from __future__ import annotations

import copy
import gc
import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from edgewatch.core import CheckConfig, Pipeline, SensorFault, ThresholdConfig
from edgewatch.errors import ConfigError
from tests.core.test_pipeline import T0, as_json, kinds, new_pipeline, payload

CHECKS = CheckConfig(min_stuck_run=5)


def through_json(pipe: Pipeline) -> dict[str, Any]:
    """The snapshot as the agent's state file holds it (strict JSON: no NaN)."""
    loaded: dict[str, Any] = json.loads(json.dumps(pipe.state_snapshot(), allow_nan=False))
    return loaded


def feed(pipe: Pipeline, rows: list[list[Any]], start: int, device: str = "d") -> list:
    return pipe.process([(device, payload(v, T0 + start + i), T0 + start + i) for i, v in enumerate(rows)])


def faults(events: list) -> list[tuple[str, str, tuple[str, ...], float]]:
    return [(e.kind, e.state, e.sensors, e.ts) for e in events if isinstance(e, SensorFault)]


def varying(n: int, frozen: float | None = None) -> list[list[Any]]:
    """``n`` readings whose values all change; with ``frozen``, pressure stays at that value."""
    return [[0.1 * i, 0.2 - 0.05 * i if frozen is None else frozen, -0.1 * i] for i in range(1, n + 1)]


def stuck_pipeline(make_manifest, scorer) -> tuple[Pipeline, int]:
    """A pipeline whose device ``d`` has pressure stuck (reported active); returns it and the next ts offset."""
    pipe = new_pipeline(make_manifest(), scorer, checks=CHECKS)
    events = feed(pipe, varying(3) + varying(6, frozen=1.25), 0)
    assert faults(events) == [("stuck", "active", ("pressure",), T0 + 7)]  # the 5th identical value
    assert pipe.devices["d"].stuck.n_stuck == 1
    return pipe, 9


def missing_pipeline(make_manifest, scorer) -> tuple[Pipeline, int]:
    """A pipeline whose device ``d`` reports temp as missing (reported active)."""
    pipe = new_pipeline(make_manifest(), scorer, checks=CHECKS)
    events = feed(pipe, [*varying(2), [None, 0.2, 0.3], [None, 0.1, 0.4]], 0)
    assert faults(events) == [("missing", "active", ("temp",), T0 + 2)]
    assert pipe.devices["d"].missing == ("temp",)
    return pipe, 4


# ---------------------------------------------------------------- stuck sensors
def test_stuck_sensor_recovers_after_a_restart(make_manifest, scorer_factory) -> None:
    before, t = stuck_pipeline(make_manifest, scorer_factory())
    snap = through_json(before)
    assert snap["devices"]["d"]["stuck"] == {
        "last": [0.1 * 6, 1.25, -0.1 * 6],
        "runs": [1, 6, 1],
        "n_stuck": 1,
    }

    after = new_pipeline(make_manifest(), scorer_factory(), checks=CHECKS)
    after.restore(snap)
    assert after.state_snapshot() == snap
    assert after.devices["d"].stuck.n_stuck == 1

    # still frozen: not scored (it would look anomalous for the wrong reason), no second "active"
    assert feed(after, varying(2, frozen=1.25), t) == []
    assert after.counters["stuck"] == 2 and after.counters["scored"] == 0
    # the first changing value ends the fault, once
    events = feed(after, varying(2), t + 2)
    assert faults(events) == [("stuck", "recovered", ("pressure",), T0 + t + 2)]
    assert [type(e).__name__ for e in events] == ["SensorFault", "ScoredReading", "ScoredReading"]
    assert after.devices["d"].stuck.n_stuck == 0


def test_a_restart_gives_the_same_events_as_no_restart(make_manifest, scorer_factory) -> None:
    for build in (stuck_pipeline, missing_pipeline):
        before, t = build(make_manifest, scorer_factory())
        snap = through_json(before)
        rest = [[0.4, 1.25, None], *varying(3, frozen=1.25), [None, 1.25, 0.1], *varying(4)]
        after = new_pipeline(make_manifest(), scorer_factory(), checks=CHECKS)
        after.restore(copy.deepcopy(snap))
        expected = as_json(feed(before, rest, t))
        assert as_json(feed(after, rest, t)) == expected
        assert any(e["event"] == "sensor_fault" and e["state"] == "recovered" for e in expected)
        assert after.state_snapshot() == before.state_snapshot()


def test_nan_last_values_round_trip_as_null(make_manifest, scorer_factory) -> None:
    # "m" has only sent readings with a missing value: no last value yet for any feature
    pipe = new_pipeline(make_manifest(), scorer_factory(), checks=CHECKS)
    feed(pipe, [[None, 0.2, 0.3]], 0, device="m")
    snap = through_json(pipe)
    assert snap["devices"]["m"]["stuck"] == {"last": [None, None, None], "runs": [0, 0, 0], "n_stuck": 0}

    fresh = new_pipeline(make_manifest(), scorer_factory(), checks=CHECKS)
    fresh.restore(snap)
    stuck = fresh.devices["m"].stuck
    assert all(math.isnan(v) for v in stuck.last) and stuck.runs == [0, 0, 0]
    assert fresh.state_snapshot() == snap
    events = feed(fresh, [[0.5, 0.2, 0.3]], 1, device="m")
    assert kinds(events) == ["missing:recovered", "scored"]
    assert fresh.devices["m"].stuck.runs == [1, 1, 1] and fresh.devices["m"].stuck.last == [0.5, 0.2, 0.3]


def test_unwatched_features_are_saved_as_null(make_manifest, scorer_factory) -> None:
    manifest = make_manifest(stats={"vibration": {"std": 0.0}})  # constant in training: never watched
    pipe = new_pipeline(manifest, scorer_factory(), checks=CHECKS)
    feed(pipe, varying(3), 0)
    snap = through_json(pipe)
    assert snap["devices"]["d"]["stuck"]["last"][2] is None and snap["devices"]["d"]["stuck"]["runs"][2] == 0
    fresh = new_pipeline(manifest, scorer_factory(), checks=CHECKS)
    fresh.restore(snap)
    assert fresh.state_snapshot() == snap


def test_restoring_with_stuck_detection_off_does_not_pin_the_device(make_manifest, scorer_factory) -> None:
    """``n_stuck`` is recounted with the current check configuration, not trusted from the file."""
    before, t = stuck_pipeline(make_manifest, scorer_factory())
    snap = through_json(before)
    off = new_pipeline(make_manifest(), scorer_factory(), checks=CheckConfig(stuck_detection=False))
    off.restore(snap)
    assert off.devices["d"].stuck.n_stuck == 0
    assert off.devices["d"].stuck.runs == [0, 0, 0]  # unwatched features keep no counters
    events = feed(off, varying(2, frozen=1.25), t)
    assert kinds(events) == ["scored", "scored"]


def test_a_saved_n_stuck_that_disagrees_with_the_runs_is_recounted(make_manifest, scorer_factory) -> None:
    before, t = stuck_pipeline(make_manifest, scorer_factory())
    snap = through_json(before)
    snap["devices"]["d"]["stuck"]["n_stuck"] = 0  # runs say pressure is stuck
    after = new_pipeline(make_manifest(), scorer_factory(), checks=CHECKS)
    after.restore(snap)
    assert after.devices["d"].stuck.n_stuck == 1
    events = feed(after, varying(1), t)
    assert faults(events) == [("stuck", "recovered", ("pressure",), T0 + t)]
    assert after.devices["d"].stuck.n_stuck == 0  # not -1: the device is not stuck for good
    assert kinds(feed(after, varying(1), t + 1)) == ["scored"]


# ---------------------------------------------------------------- missing sensors
def test_missing_sensor_recovers_after_a_restart(make_manifest, scorer_factory) -> None:
    before, t = missing_pipeline(make_manifest, scorer_factory())
    snap = through_json(before)
    assert snap["devices"]["d"]["missing"] == ["temp"]

    after = new_pipeline(make_manifest(), scorer_factory(), checks=CHECKS)
    after.restore(snap)
    assert after.devices["d"].missing == ("temp",)
    assert after.state_snapshot() == snap
    # still missing: no second "active"
    events = feed(after, [[None, 0.3, 0.1]], t)
    assert events == [] and after.counters["missing_values"] == 1
    events = feed(after, varying(2), t + 1)
    assert faults(events) == [("missing", "recovered", ("temp",), T0 + t + 1)]
    assert kinds(events) == ["missing:recovered", "scored", "scored"]
    assert after.devices["d"].missing == ()


def test_missing_sensors_restore_in_feature_order(make_manifest, scorer_factory) -> None:
    pipe = new_pipeline(make_manifest(), scorer_factory(), checks=CHECKS)
    feed(pipe, [[None, 0.2, None]], 0)
    snap = through_json(pipe)
    assert snap["devices"]["d"]["missing"] == ["temp", "vibration"]
    snap["devices"]["d"]["missing"].reverse()
    fresh = new_pipeline(make_manifest(), scorer_factory(), checks=CHECKS)
    fresh.restore(snap)
    assert fresh.devices["d"].missing == ("temp", "vibration")
    assert feed(fresh, [[None, 0.1, None]], 1) == []  # the same set: no event
    events = feed(fresh, [[0.3, 0.1, None]], 2)
    assert faults(events) == [("missing", "recovered", ("temp",), T0 + 2)]


# ---------------------------------------------------------------- versions
def test_a_state_of_another_version_is_refused_naming_it(make_manifest, scorer_factory) -> None:
    before, _ = stuck_pipeline(make_manifest, scorer_factory())
    old = through_json(before) | {"version": 1}  # as written by the previous version
    after = new_pipeline(make_manifest(), scorer_factory(), checks=CHECKS)
    with pytest.raises(ConfigError, match=r"state\.version: expected a version 3 device state"):
        after.restore(old)
    assert after.devices == {}


def test_a_version_2_state_is_read_with_operator_and_silence_at_their_defaults(make_manifest, scorer_factory) -> None:
    before, _ = stuck_pipeline(make_manifest, scorer_factory())
    old = through_json(before) | {"version": 2}
    for device in old["devices"].values():  # as version 2 wrote it: no operator, no silence record
        del device["operator"], device["silence"], device["drift"]
        del device["alert"]["calm_since"], device["alert"]["longest_flicker_s"]
    after = new_pipeline(make_manifest(), scorer_factory(), checks=CHECKS)
    after.restore(old)
    assert set(after.devices) == set(before.devices)
    for dev in after.devices.values():
        assert not dev.operator.maintenance and dev.operator.sensitivity == 1.0 and dev.silence.last_seen is None


# ---------------------------------------------------------------- validation
BAD_FIELDS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("stuck-null", lambda d: d.update(stuck=None), "stuck.last"),
    ("stuck-list", lambda d: d.update(stuck=[1, 2, 3]), "stuck"),
    ("last-absent", lambda d: d["stuck"].pop("last"), "stuck.last"),
    ("last-short", lambda d: d["stuck"].update(last=[0.0, 0.0]), "stuck.last"),
    ("last-string", lambda d: d["stuck"]["last"].__setitem__(1, "1.25"), "stuck.last[1]"),
    ("last-bool", lambda d: d["stuck"]["last"].__setitem__(1, True), "stuck.last[1]"),
    ("last-inf", lambda d: d["stuck"]["last"].__setitem__(1, math.inf), "stuck.last"),
    ("last-nan", lambda d: d["stuck"]["last"].__setitem__(1, math.nan), "stuck.last[1]"),
    ("last-huge-int", lambda d: d["stuck"]["last"].__setitem__(1, 10**400), "stuck.last[1]"),
    ("runs-absent", lambda d: d["stuck"].pop("runs"), "stuck.runs"),
    ("runs-long", lambda d: d["stuck"].update(runs=[1, 6, 1, 1]), "stuck.runs"),
    ("runs-negative", lambda d: d["stuck"]["runs"].__setitem__(1, -1), "stuck.runs"),
    ("runs-float", lambda d: d["stuck"]["runs"].__setitem__(1, 6.0), "stuck.runs[1]"),
    ("runs-bool", lambda d: d["stuck"]["runs"].__setitem__(1, True), "stuck.runs[1]"),
    ("runs-dict", lambda d: d["stuck"].update(runs={"pressure": 6}), "stuck.runs"),
    ("n_stuck-absent", lambda d: d["stuck"].pop("n_stuck"), "stuck.n_stuck"),
    ("n_stuck-negative", lambda d: d["stuck"].update(n_stuck=-1), "stuck.n_stuck"),
    ("n_stuck-string", lambda d: d["stuck"].update(n_stuck="1"), "stuck.n_stuck"),
    ("n_stuck-bool", lambda d: d["stuck"].update(n_stuck=True), "stuck.n_stuck"),
    ("missing-null", lambda d: d.update(missing=None), "missing"),
    ("missing-string", lambda d: d.update(missing="temp"), "missing"),
    ("missing-unknown", lambda d: d.update(missing=["humidity"]), "missing"),
    ("missing-number", lambda d: d.update(missing=[0]), "missing[0]"),
    ("missing-twice", lambda d: d.update(missing=["temp", "temp"]), "missing"),
    ("alert-history", lambda d: d["alert"].update(history=-1), "alert.history"),
    ("alert-severity", lambda d: d["alert"].update(alert_id="d-1", severity="huge"), "alert.severity"),
    ("alert-no-severity", lambda d: d["alert"].update(alert_id="d-1", severity=None), "alert.severity"),
    ("alert-id", lambda d: d["alert"].update(alert_id=""), "alert.alert_id"),
    ("alert-time", lambda d: d["alert"].update(cooldown_until=math.inf), "alert.cooldown_until"),
    ("alert-stopped", lambda d: d["alert"].update(machine_stopped="yes"), "alert.machine_stopped"),
    ("alert-unknown", lambda d: d["alert"].update(device="d"), "alert.device"),
    ("threshold-kind", lambda d: d["threshold"].update(kind="magic"), "threshold.kind"),
    ("last_ts", lambda d: d.update(last_ts="yesterday"), "last_ts"),
]


@pytest.mark.parametrize(("mutate", "field"), [(m, f) for _, m, f in BAD_FIELDS], ids=[i for i, _, _ in BAD_FIELDS])
def test_malformed_sensor_state_is_refused_before_anything_changes(
    make_manifest, scorer_factory, mutate, field
) -> None:
    source, _ = stuck_pipeline(make_manifest, scorer_factory())
    feed(source, varying(1), 0, device="a")
    snap = through_json(source)
    snap["devices"] = {"a": snap["devices"]["a"], "d": snap["devices"]["d"]}  # a valid device first
    mutate(snap["devices"]["d"])

    target = new_pipeline(make_manifest(), scorer_factory(), checks=CHECKS)
    feed(target, [[None, 0.1, 0.2]], 0, device="d")  # current state that must survive the refusal
    kept = target.state_snapshot()
    with pytest.raises(ConfigError) as info:
        target.restore(snap)
    assert info.value.field == f"state.devices.d.{field}"
    assert str(info.value).startswith(f"state.devices.d.{field}: ")
    assert target.state_snapshot() == kept and set(target.devices) == {"d"}


def test_stuck_state_of_another_feature_count_is_refused(make_manifest, scorer_factory) -> None:
    source, _ = stuck_pipeline(make_manifest, scorer_factory())
    snap = through_json(source)
    # the same model id but four features (a hand-edited or mixed-up manifest): the counters do not fit
    wider = new_pipeline(make_manifest(("temp", "pressure", "vibration", "current")), scorer_factory())
    with pytest.raises(ConfigError) as info:
        wider.restore(snap)
    assert info.value.field == "state.devices.d.stuck.last"
    assert "4" in str(info.value)
    assert wider.devices == {}


# ---------------------------------------------------------------- many devices (the loader's fast reader)
def many_devices(make_manifest, scorer, n: int) -> Pipeline:
    """``n`` devices with a drift baseline, each fed a few readings (one with a missing sensor)."""
    thresholds = ThresholdConfig(mode="adaptive", warmup=20, drift="on", drift_tau_s=60.0)
    pipe = new_pipeline(make_manifest(), scorer, checks=CHECKS, thresholds=thresholds)
    batch = []
    for d in range(n):
        rows = [*varying(3 + d % 4), [None, 0.1 * d, 0.2]] if d % 7 == 0 else varying(3 + d % 4)
        batch += [(f"m{d:04d}", payload(v, T0 + i), T0 + i) for i, v in enumerate(rows)]
    pipe.process(batch)
    return pipe


def test_many_devices_round_trip_through_the_state_file(make_manifest, scorer_factory) -> None:
    source = many_devices(make_manifest, scorer_factory(), 300)
    snap = through_json(source)
    assert all(dev["drift"] is not None for dev in snap["devices"].values())
    target = new_pipeline(
        make_manifest(),
        scorer_factory(),
        checks=CHECKS,
        thresholds=ThresholdConfig(mode="adaptive", warmup=20, drift="on", drift_tau_s=60.0),
    )
    target.restore(snap)
    assert through_json(target) == snap


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["drift"]["offset"].__setitem__(2, math.nan), "drift.offset[2]"),
        (lambda d: d["drift"]["offset"].__setitem__(2, -math.inf), "drift.offset"),
        (lambda d: d["drift"].update(last_ts="x"), "drift.last_ts"),
        (lambda d: d["silence"].update(gaps=-3), "silence.gaps"),
        (lambda d: d["operator"].update(sensitivity=0), "operator.sensitivity"),
        (lambda d: d["threshold"].update(n_learned=None), "threshold"),
    ],
)
def test_one_malformed_device_among_many_is_named(make_manifest, scorer_factory, mutate, field) -> None:
    snap = through_json(many_devices(make_manifest, scorer_factory(), 300))
    mutate(snap["devices"]["m0150"])
    target = new_pipeline(make_manifest(), scorer_factory(), checks=CHECKS)
    with pytest.raises(ConfigError) as info:
        target.restore(snap)
    assert info.value.field == f"state.devices.m0150.{field}"
    assert target.devices == {}


def test_saving_and_restoring_turn_the_garbage_collector_back_on(make_manifest, scorer_factory) -> None:
    source, _ = stuck_pipeline(make_manifest, scorer_factory())
    snap = through_json(source)
    target = new_pipeline(make_manifest(), scorer_factory(), checks=CHECKS)
    target.restore(snap)
    assert gc.isenabled()
    with pytest.raises(ConfigError):
        target.restore(snap | {"model_id": "another"})
    assert gc.isenabled()
    gc.disable()  # a caller that keeps it off keeps it off
    try:
        source.state_snapshot()
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("chunk", [1, 7, 300, 1000])
def test_a_state_taken_in_slices_has_the_bytes_of_one_taken_at_once(make_manifest, scorer_factory, chunk) -> None:
    """The agent's periodic save (agent/state.py SlicedSave): head, slices joined by ",", tail."""
    from edgewatch.core.state import STATE_TAIL, encode_state

    pipe = many_devices(make_manifest, scorer_factory(), 300)
    pipe.device("m0001").operator.sensitivity = 2.0  # an operator's setting, in the file too
    names = list(pipe.devices)
    slices = [pipe.state_slice(names[i : i + chunk]) for i in range(0, len(names), chunk)]
    sliced = pipe.state_head() + b",".join(slices) + STATE_TAIL
    assert sliced == encode_state(pipe.state_snapshot())
    assert json.loads(sliced)["devices"]["m0001"]["operator"]["sensitivity"] == 2.0


def test_a_slice_leaves_out_unknown_devices_and_an_empty_state_is_well_formed(make_manifest, scorer_factory) -> None:
    from edgewatch.core.state import STATE_TAIL, encode_state

    pipe = new_pipeline(make_manifest(), scorer_factory())
    assert pipe.state_slice(["nobody"]) == b""
    assert pipe.state_head() + STATE_TAIL == encode_state(pipe.state_snapshot())
    assert json.loads(pipe.state_head() + STATE_TAIL) == {"version": 3, "model_id": pipe.model_id, "devices": {}}
