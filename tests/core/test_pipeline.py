"""The pipeline end to end with a fake numpy scorer (score = mean squared z-score)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from edgewatch.bundle.manifest import Manifest
from edgewatch.core import (
    COUNTER_KEYS,
    AlertConfig,
    AlertEvent,
    CheckConfig,
    InputRejected,
    Pipeline,
    PipelineConfig,
    Reading,
    ScoredReading,
    SensorFault,
    ThresholdConfig,
)
from edgewatch.errors import ConfigError, RuntimeBackendError
from edgewatch.runtime.base import ScoreBatch
from tests.fakes import SquaredScorer

T0 = 1767225600.0


def payload(values: list[Any], ts: float | None = None) -> bytes:
    body: dict[str, Any] = {"values": dict(zip(("temp", "pressure", "vibration"), values, strict=True))}
    if ts is not None:
        body["ts"] = ts
    return json.dumps(body).encode()


def kinds(events: list) -> list[str]:
    out = []
    for e in events:
        if isinstance(e, ScoredReading):
            out.append("scored")
        elif isinstance(e, AlertEvent):
            out.append(f"alert:{e.state}")
        elif isinstance(e, InputRejected):
            out.append(f"rejected:{e.reason}")
        elif isinstance(e, SensorFault):
            out.append(f"{e.kind}:{e.state}")
    return out


def as_json(events: list) -> list[dict]:
    return json.loads(json.dumps([e.to_json() for e in events], allow_nan=False))


def make_stream(n: int, seed: int = 0, devices: tuple[str, ...] = ("pump-1", "pump-2", "fan-9")) -> list:
    """A messy multi-device stream: normal noise, anomaly bursts, bad payloads, nulls, stuck runs."""
    rng = np.random.default_rng(seed)
    clock = {d: T0 + i * 0.1 for i, d in enumerate(devices)}
    stuck_until: dict[str, int] = {}
    batch = []
    for i in range(n):
        device = devices[int(rng.integers(len(devices)))]
        clock[device] += 1.0
        ts = clock[device]
        values: list[Any] = [round(float(v), 6) for v in rng.normal(0.0, 0.5, size=3)]
        roll = rng.random()
        if 200 < i % 400 < 240:
            values[2] = 8.0 + float(rng.random())  # anomaly burst on vibration
        if stuck_until.get(device, -1) > i:
            values[0] = 0.25
        elif roll < 0.01:
            stuck_until[device] = i + 60
        raw = payload(values, ts)
        if roll > 0.99:
            raw = b'{"temp": "hot"}'
        elif roll > 0.98:
            raw = payload([values[0], None, values[2]], ts)
        elif roll > 0.975:
            raw = payload(values, ts - 5.0)  # out of order
        elif roll > 0.97:
            raw = payload([1000.0, values[1], values[2]], ts)  # out of range
        batch.append((device, raw, ts + 0.01))
    return batch


def new_pipeline(manifest, scorer, *, thresholds=None, alerts=None, checks=None, **kwargs) -> Pipeline:
    """A pipeline with the mechanisms under test pinned: adaptive threshold, no drift baseline, 3 of 5, no
    instant raise, clear after 5 calm readings and no minimum alert duration; ``thresholds``, ``alerts`` and
    ``checks`` replace them."""
    config = PipelineConfig(
        thresholds or ThresholdConfig(mode="adaptive", warmup=20, drift="off"),
        alerts or AlertConfig(k=3, n=5, instant_ratio=math.inf, clear_after=5, min_active_s=0.0),
        checks or CheckConfig(),
    )
    return Pipeline(manifest, scorer, config, **kwargs)


# ---------------------------------------------------------------- basics
def test_scores_every_valid_reading_with_window_1(make_manifest, fake_scorer) -> None:
    pipe = new_pipeline(make_manifest(), fake_scorer)
    events = pipe.process([("d", payload([1.0, 2.0, 0.0], T0 + i), T0 + i) for i in range(3)])
    assert kinds(events) == ["scored"] * 3
    e = events[0]
    assert isinstance(e, ScoredReading)
    assert (e.device, e.ts, e.threshold, e.above, e.alert_active) == ("d", T0, 4.0, False, False)
    assert e.score == pytest.approx((1 + 4 + 0) / 3)
    assert e.errors_by_feature() == pytest.approx({"temp": 1.0, "pressure": 4.0, "vibration": 0.0})
    assert fake_scorer.calls == [(3, 1, 3)]  # one call for the whole batch
    assert pipe.counters["received"] == 3 and pipe.counters["accepted"] == 3 and pipe.counters["scored"] == 3
    assert set(pipe.counters) == set(COUNTER_KEYS)


def test_scaler_is_applied(make_manifest, fake_scorer) -> None:
    manifest = make_manifest(
        center=[10.0, 0.0, 0.0], scale=[2.0, 1.0, 1.0], stats={"temp": {"min": 0, "max": 20}}
    )
    pipe = new_pipeline(manifest, fake_scorer)
    pipe.process([("d", payload([14.0, 0.0, 0.0], T0), T0)])
    np.testing.assert_allclose(fake_scorer.inputs[0][0, 0], [2.0, 0.0, 0.0])


def test_window_needs_consecutive_readings(make_manifest, fake_scorer) -> None:
    pipe = new_pipeline(make_manifest(window=4), fake_scorer)
    rows = [[float(i), -float(i) / 2, 0.5] for i in range(6)]
    events = pipe.process([("d", payload(r, T0 + i), T0 + i) for i, r in enumerate(rows)])
    assert kinds(events) == ["scored"] * 3  # readings 4, 5 and 6 complete a window
    assert [e.ts for e in events] == [T0 + 3, T0 + 4, T0 + 5]
    assert fake_scorer.calls == [(3, 4, 3)]
    np.testing.assert_allclose(fake_scorer.inputs[0][2], np.array(rows[2:6], dtype=np.float32))
    assert pipe.counters["window_fill"] == 3


def test_window_spans_batches_and_devices(make_manifest, scorer_factory) -> None:
    stream = [(d, payload([float(i), 0.1 * i, -0.2 * i], T0 + i), T0 + i) for i in range(12) for d in ("a", "b")]
    one = scorer_factory()
    events_one = new_pipeline(make_manifest(window=3), one).process(stream)
    many = scorer_factory()
    pipe = new_pipeline(make_manifest(window=3), many)
    events_many = [e for item in stream for e in pipe.process([item])]
    assert as_json(events_one) == as_json(events_many)
    assert len(one.calls) == 1 and len(many.calls) == 20  # the first 2 readings per device fill the window
    np.testing.assert_array_equal(np.concatenate(many.inputs), one.inputs[0])


@pytest.mark.parametrize("drift", ["off", "on"])
@pytest.mark.parametrize("window", [1, 3])
def test_batching_gives_the_same_events_as_one_by_one(make_manifest, scorer_factory, window, drift) -> None:
    stream = make_stream(1600, seed=window)
    checks = CheckConfig(min_stuck_run=5)
    thresholds = ThresholdConfig(mode="adaptive", warmup=20, drift=drift, drift_tau_s=60.0)
    whole = new_pipeline(make_manifest(window=window), scorer_factory(), checks=checks, thresholds=thresholds)
    expected = as_json(whole.process(stream))
    if drift == "on":
        assert any(np.abs(dev.drift.offset).max() > 0 for dev in whole.devices.values())

    single = new_pipeline(make_manifest(window=window), scorer_factory(), checks=checks, thresholds=thresholds)
    assert as_json([e for item in stream for e in single.process([item])]) == expected

    rng = np.random.default_rng(7)
    chunked = new_pipeline(make_manifest(window=window), scorer_factory(), checks=checks, thresholds=thresholds)
    got, i = [], 0
    while i < len(stream):
        size = int(rng.integers(0, 40))
        got.extend(chunked.process(stream[i : i + size]))
        i += size
    assert as_json(got) == expected
    assert whole.counters == single.counters == chunked.counters
    assert whole.state_snapshot() == single.state_snapshot() == chunked.state_snapshot()

    # the stream exercises every path
    seen = {k for k in (x["event"] + ":" + str(x.get("state", x.get("reason"))) for x in expected)}
    for wanted in (
        "scored:None",
        "alert:raised",
        "alert:cleared",
        "input_rejected:wrong_type",
        "input_rejected:out_of_order",
        "input_rejected:out_of_range",
        "sensor_fault:active",
        "sensor_fault:recovered",
    ):
        assert wanted in seen, wanted
    assert whole.counters["stuck"] > 0 and whole.counters["missing_values"] > 0


def test_process_reading_matches_process(make_manifest, scorer_factory) -> None:
    stream = [("d", [0.1 * i, -0.1, 0.3 if i % 7 else None], T0 + i) for i in range(40)]
    a = new_pipeline(make_manifest(window=2), scorer_factory())
    from_payloads = a.process([(d, payload(v, ts), ts) for d, v, ts in stream])
    b = new_pipeline(make_manifest(window=2), scorer_factory())
    from_readings = []
    for d, v, ts in stream:
        values = np.array([np.nan if x is None else x for x in v], dtype=np.float64)
        from_readings.extend(b.process_reading(d, Reading(ts, values)))  # NaN counts as missing
    assert as_json(from_payloads) == as_json(from_readings)
    with pytest.raises(ValueError, match="shape"):
        b.process_reading("d", Reading(T0 + 100, np.zeros(2)))


# ---------------------------------------------------------------- rejections and counters
def test_every_rejection_is_an_event_and_a_counter(make_manifest, fake_scorer) -> None:
    pipe = new_pipeline(make_manifest(), fake_scorer)
    A = T0 + 20  # arrival times: the readings' clocks are a little behind
    batch = [
        ("d", payload([0, 0, 0], T0 + 10), A + 1),
        ("d", b"x" * 20000, A + 2),
        ("d", b"{nope", A + 3),
        ("d", b'{"temp": 1, "pressure": 2, "vibration": 3, "humidity": 4}', A + 4),
        ("d", b'{"temp": 1, "pressure": 2}', A + 5),
        ("d", b'{"temp": 1, "pressure": true, "vibration": 3}', A + 6),
        ("d", b'{"temp": 1, "pressure": NaN, "vibration": 3}', A + 7),
        ("d", b'{"ts": "soon", "values": [1, 2, 3]}', A + 8),
        ("d", b"[1, 2]", A + 9),
        ("d", payload([0, 0, 0], T0 + 10), A + 10),  # duplicate
        ("d", payload([0, 0, 0], T0 + 5), A + 11),  # out of order
        ("d", payload([0, -500, 0], T0 + 11), A + 12),  # out of range
        ("d", payload([0, 0, 0], A + 14 + 301), A + 14),  # 301 s ahead of its arrival
        ("d", payload([0, 25, 0], T0 + 12), A + 13),  # beyond the training max of 3, but plausible: scored
    ]
    events = pipe.process(batch)
    reasons = [
        "oversized",
        "malformed_json",
        "unknown_feature",
        "missing_feature",
        "wrong_type",
        "non_finite",
        "bad_timestamp",
        "wrong_length",
        "duplicate_timestamp",
        "out_of_order",
        "out_of_range",
        "future_timestamp",
    ]
    assert kinds(events) == ["scored", *(f"rejected:{r}" for r in reasons), "scored"]
    for r in reasons:
        assert pipe.counters[r] == 1
    rejected = [e for e in events if isinstance(e, InputRejected)]
    assert rejected[0].ts == A + 2  # unparsable: arrival time
    assert rejected[8].ts == T0 + 10 and rejected[8].field == "ts"
    assert rejected[10].field == "pressure" and "'pressure'" in rejected[10].message
    assert pipe.counters["received"] == 14 and pipe.counters["accepted"] == 2 and pipe.counters["scored"] == 2
    assert rejected[11].ts == A + 14 and rejected[11].field == "ts"
    assert "checks.max_clock_skew_s" in rejected[11].message
    last = events[-1]
    assert isinstance(last, ScoredReading) and last.score > 4.0


def test_rejected_readings_do_not_advance_time(make_manifest, fake_scorer) -> None:
    pipe = new_pipeline(make_manifest(), fake_scorer)
    events = pipe.process(
        [
            ("d", payload([0, 0, 0], T0 + 5), T0 + 5),
            ("d", payload([999, 0, 0], T0 + 9), T0 + 9),
            ("d", payload([0, 0, 0], T0 + 7), T0 + 7),
        ]
    )
    assert kinds(events) == ["scored", "rejected:out_of_range", "scored"]


# ---------------------------------------------------------------- sensor faults
def test_missing_values_fault_onset_and_recovery(make_manifest, fake_scorer) -> None:
    pipe = new_pipeline(make_manifest(), fake_scorer)
    seq: list[list[Any]] = [
        [0.1, 0.2, 0.3],
        [None, 0.2, 0.3],
        [None, 0.2, 0.3],
        [None, 0.2, None],
        [0.1, 0.2, None],
        [0.1, 0.2, 0.3],
    ]
    events = pipe.process([("d", payload(v, T0 + i), T0 + i) for i, v in enumerate(seq)])
    assert kinds(events) == [
        "scored",
        "missing:active",
        "missing:active",
        "missing:recovered",
        "missing:recovered",
        "scored",
    ]
    faults = [e for e in events if isinstance(e, SensorFault)]
    assert [(f.state, f.sensors, f.ts) for f in faults] == [
        ("active", ("temp",), T0 + 1),
        ("active", ("vibration",), T0 + 3),
        ("recovered", ("temp",), T0 + 4),
        ("recovered", ("vibration",), T0 + 5),
    ]
    assert pipe.counters["missing_values"] == 4 and pipe.counters["accepted"] == 6


def test_missing_values_restart_the_window(make_manifest, fake_scorer) -> None:
    pipe = new_pipeline(make_manifest(window=3), fake_scorer)
    seq = [[0.1, 0.1, 0.1]] * 2 + [[None, 0.1, 0.1]] + [[0.2, 0.1, 0.1]] * 3
    events = pipe.process([("d", payload(v, T0 + i), T0 + i) for i, v in enumerate(seq)])
    assert kinds(events) == ["missing:active", "missing:recovered", "scored"]
    assert events[-1].ts == T0 + 5


def test_stuck_sensor_is_a_fault_not_an_anomaly(make_manifest, fake_scorer) -> None:
    pipe = new_pipeline(make_manifest(), fake_scorer, checks=CheckConfig(min_stuck_run=30))
    rng = np.random.default_rng(1)
    batch = []
    for i in range(50):
        values = [float(v) for v in rng.normal(0, 0.5, 3)]
        if 10 <= i < 45:
            values[1] = 1.234  # pressure frozen for 35 readings
        batch.append(("d", payload(values, T0 + i), T0 + i))
    events = pipe.process(batch)
    faults = [e for e in events if isinstance(e, SensorFault)]
    assert [(f.kind, f.state, f.sensors, f.ts) for f in faults] == [
        ("stuck", "active", ("pressure",), T0 + 39),  # the 30th identical value
        ("stuck", "recovered", ("pressure",), T0 + 45),
    ]
    scored_ts = [e.ts for e in events if isinstance(e, ScoredReading)]
    assert scored_ts == [T0 + i for i in range(50) if not 39 <= i < 45]
    assert pipe.counters["stuck"] == 6


def test_naturally_constant_sensors_do_not_false_alarm(make_manifest, fake_scorer) -> None:
    manifest = make_manifest(stats={"temp": {"longest_constant_run": 50}, "vibration": {"std": 0.0}})
    pipe = new_pipeline(manifest, fake_scorer, checks=CheckConfig(min_stuck_run=30))
    rng = np.random.default_rng(2)
    batch = [("d", payload([0.5, float(rng.normal()), 0.0], T0 + i), T0 + i) for i in range(99)]
    events = pipe.process(batch)
    assert kinds(events) == ["scored"] * 99  # temp needs 100 identical values, vibration is never watched
    events = pipe.process([("d", payload([0.5, 0.0, 0.0], T0 + 99), T0 + 99)])
    assert kinds(events) == ["stuck:active"]


# ---------------------------------------------------------------- alerts and thresholds
def test_alert_lifecycle(make_manifest, fake_scorer) -> None:
    pipe = new_pipeline(make_manifest(), fake_scorer, model_version="2026.01")
    seq = [[0.1, 0.1, 0.1]] * 3 + [[0.1, 0.1, 6.0]] * 3 + [[0.1, 0.1, 0.1]] * 5
    events = pipe.process([("pump-1", payload(v, T0 + i + 0.5), T0 + i + 0.5) for i, v in enumerate(seq)])
    alerts = [e for e in events if isinstance(e, AlertEvent)]
    assert [(a.state, a.severity, a.ts) for a in alerts] == [
        ("raised", "major", T0 + 5.5),
        ("cleared", "major", T0 + 10.5),
    ]
    raised = alerts[0]
    assert raised.alert_id == f"pump-1-{int((T0 + 5.5) * 1000)}" == alerts[1].alert_id
    assert raised.top_features[0].feature == "vibration" and raised.top_features[0].share > 0.99
    assert (raised.model_id, raised.model_version) == ("dense-ae-0badc0de", "2026.01")
    assert raised.threshold == 4.0 and raised.score == pytest.approx(12.0067, rel=1e-3)
    scored = [e for e in events if isinstance(e, ScoredReading)]
    assert [e.alert_active for e in scored] == [False] * 5 + [True] * 5 + [False]


def test_threshold_does_not_learn_during_alert(make_manifest, fake_scorer) -> None:
    pipe = new_pipeline(make_manifest(), fake_scorer, thresholds=ThresholdConfig(mode="adaptive", warmup=0))
    pipe.process([("d", payload([0.1, 0.1, 0.1], T0 + i), T0 + i) for i in range(3)])
    learned = pipe.devices["d"].threshold.snapshot().n_learned
    # alert raised at the 3rd high reading, then readings between the hysteresis and the threshold
    seq = [[0, 0, 6.0]] * 3 + [[1.8, 1.8, 1.8]] * 20
    pipe.process([("d", payload(v, T0 + 10 + i), T0 + 10 + i) for i, v in enumerate(seq)])
    assert pipe.devices["d"].alert.active
    assert pipe.devices["d"].threshold.snapshot().n_learned == learned


def test_adaptive_threshold_follows_a_device(make_manifest, fake_scorer) -> None:
    # validation median 0.8 (manifest); this device runs at about twice that level
    pipe = new_pipeline(make_manifest(), fake_scorer, thresholds=ThresholdConfig(mode="adaptive", warmup=100))
    rng = np.random.default_rng(5)
    batch = [("d", payload([float(v) for v in rng.normal(0, 1.25, 3)], T0 + i), T0 + i) for i in range(3000)]
    events = pipe.process(batch)
    thresholds = [e.threshold for e in events if isinstance(e, ScoredReading)]
    assert thresholds[0] == 4.0
    assert 1.35 * 4.0 < thresholds[-1] <= 1.5 * 4.0


def test_no_alert_while_the_run_indicator_says_stopped(make_manifest, fake_scorer) -> None:
    """alerts.suppress_feature: 'pressure' < 1 means stopped; raising waits until 5 s after the restart."""
    config = AlertConfig(k=3, n=5, suppress_feature="pressure", suppress_below=1.0, suppress_settle_s=5.0)
    pipe = new_pipeline(make_manifest(), fake_scorer, alerts=config)
    # vibration far off all along; pressure 0 (stopped) for 10 readings, then 2 (running)
    seq = [[0.1, 0.0 if i < 10 else 2.0, 6.0] for i in range(20)]
    events = pipe.process([("d", payload(v, T0 + i), T0 + i) for i, v in enumerate(seq)])
    raised = [e for e in events if isinstance(e, AlertEvent) and e.state == "raised"]
    assert [e.ts for e in raised] == [T0 + 15]  # restart at T0 + 10, settled at T0 + 15
    assert sum(isinstance(e, ScoredReading) for e in events) == 20  # scored all along


def test_a_missing_run_indicator_keeps_the_run_state(make_manifest, fake_scorer) -> None:
    config = AlertConfig(k=1, n=1, suppress_feature="pressure", suppress_below=1.0, suppress_settle_s=0.0)
    pipe = new_pipeline(make_manifest(), fake_scorer, alerts=config)
    pipe.process([("d", payload([0.1, 0.0, 0.1], T0), T0)])  # stopped
    pipe.process([("d", payload([0.1, None, 0.1], T0 + 1), T0 + 1)])  # run indicator missing: still stopped
    events = pipe.process([("d", payload([0.1, 0.5, 6.0], T0 + 2), T0 + 2)])
    assert not any(isinstance(e, AlertEvent) for e in events)
    assert pipe.devices["d"].alert.suppressed(T0 + 2)


def test_an_unknown_run_indicator_is_refused(make_manifest, fake_scorer) -> None:
    with pytest.raises(ConfigError) as info:
        new_pipeline(make_manifest(), fake_scorer, alerts=AlertConfig(suppress_feature="speed_rpm"))
    assert info.value.field == "alerts.suppress_feature" and "'speed_rpm' is not a feature" in str(info.value)


def _with_run_state(make_manifest_dict, feature: str = "pressure", below: float = 1.0) -> Manifest:
    return Manifest.from_json(make_manifest_dict(run_indicator=(feature, below)))


def _raised_ts(pipe: Pipeline) -> list[float]:
    # stopped (pressure 0) for 10 readings, then running; vibration far off all along
    seq = [[0.1, 0.0 if i < 10 else 2.0, 6.0] for i in range(20)]
    events = pipe.process([("d", payload(v, T0 + i), T0 + i) for i, v in enumerate(seq)])
    return [e.ts for e in events if isinstance(e, AlertEvent) and e.state == "raised"]


def test_the_bundles_run_indicator_suppresses_without_configuration(make_manifest_dict, fake_scorer) -> None:
    manifest = _with_run_state(make_manifest_dict)
    pipe = new_pipeline(manifest, fake_scorer, alerts=AlertConfig(k=3, n=5, suppress_settle_s=5.0))
    assert pipe.config.alerts.suppress_feature == "pressure" and pipe.config.alerts.suppress_below == 1.0
    assert _raised_ts(pipe) == [T0 + 15]  # restart at T0 + 10, settled at T0 + 15


def test_the_bundles_run_indicator_can_be_turned_off(make_manifest_dict, fake_scorer) -> None:
    config = AlertConfig(k=3, n=5, suppress_settle_s=5.0, suppress_from_bundle=False)
    pipe = new_pipeline(_with_run_state(make_manifest_dict), fake_scorer, alerts=config)
    assert pipe.config.alerts.suppress_feature == ""
    assert _raised_ts(pipe) == [T0 + 2]  # the third reading far off


def test_a_configured_run_indicator_wins_over_the_bundles(make_manifest_dict, fake_scorer) -> None:
    # the bundle says "pressure", the device config says "temp" (never below 0.05 here): no suppression
    config = AlertConfig(k=3, n=5, suppress_feature="temp", suppress_below=0.05, suppress_settle_s=5.0)
    pipe = new_pipeline(_with_run_state(make_manifest_dict), fake_scorer, alerts=config)
    assert pipe.config.alerts.suppress_feature == "temp"
    assert _raised_ts(pipe) == [T0 + 2]


def test_fixed_threshold_mode(make_manifest, fake_scorer) -> None:
    pipe = new_pipeline(make_manifest(), fake_scorer, thresholds=ThresholdConfig(mode="fixed"))
    rng = np.random.default_rng(5)
    events = pipe.process(
        [("d", payload([float(v) for v in rng.normal(0, 1.25, 3)], T0 + i), T0 + i) for i in range(500)]
    )
    assert {e.threshold for e in events if isinstance(e, ScoredReading)} == {4.0}


# ---------------------------------------------------------------- persistence
def test_snapshot_restore_round_trip(make_manifest, scorer_factory) -> None:
    stream = [
        (d, payload([0.1, 0.2, 7.0 if 40 <= i < 50 else 0.3], T0 + i), T0 + i)
        for i in range(60)
        for d in ("a", "b")
    ]
    first, second = stream[:90], stream[90:]
    a = new_pipeline(make_manifest(), scorer_factory(), checks=CheckConfig(stuck_detection=False))
    a.process(first)
    assert a.devices["a"].alert.active
    snapshot = json.loads(json.dumps(a.state_snapshot(), allow_nan=False))

    b = new_pipeline(make_manifest(), scorer_factory(), checks=CheckConfig(stuck_detection=False))
    b.restore(snapshot)
    assert b.state_snapshot() == a.state_snapshot()
    assert as_json(b.process(second)) == as_json(a.process(second))
    # the last timestamp survives a restart: an MQTT redelivery is a duplicate
    c = new_pipeline(make_manifest(), scorer_factory())
    c.restore(snapshot)
    assert kinds(c.process([stream[89], stream[88]])) == ["rejected:duplicate_timestamp"] * 2


def test_restore_rejects_other_models_and_bad_snapshots(make_manifest, fake_scorer) -> None:
    pipe = new_pipeline(make_manifest(), fake_scorer)
    pipe.process([("d", payload([0, 0, 0], T0), T0)])
    snapshot = pipe.state_snapshot()
    other = new_pipeline(make_manifest(model_id="dense-ae-ffffffff"), fake_scorer)
    with pytest.raises(ConfigError) as info:
        other.restore(snapshot)
    assert info.value.field == "state.model_id" and "dense-ae-0badc0de" in str(info.value)

    bad = json.loads(json.dumps(snapshot))
    bad["devices"]["d"]["threshold"]["level"] = "high"
    fresh = new_pipeline(make_manifest(), fake_scorer)
    with pytest.raises(ConfigError) as info:
        fresh.restore(bad)
    assert info.value.field == "state.devices.d.threshold.level"
    assert fresh.devices == {}  # nothing applied
    with pytest.raises(ConfigError):
        fresh.restore({"version": 7})


def test_restore_with_a_changed_threshold_mode_starts_fresh(make_manifest, fake_scorer) -> None:
    pipe = new_pipeline(make_manifest(), fake_scorer)
    pipe.process([("d", payload([0, 0, 0], T0), T0)])
    fixed = new_pipeline(make_manifest(), fake_scorer, thresholds=ThresholdConfig(mode="fixed"))
    fixed.restore(pipe.state_snapshot())
    assert fixed.devices["d"].threshold.snapshot().kind == "fixed"


# ---------------------------------------------------------------- scorer contract
class BadScorer:
    artifact = SquaredScorer.artifact

    def __init__(self, scores: np.ndarray, errors: np.ndarray) -> None:
        self.result = ScoreBatch(scores, errors)

    def score_batch(self, x: np.ndarray) -> ScoreBatch:
        return self.result


def test_scorer_output_is_checked(make_manifest) -> None:
    batch = [("d", payload([0, 0, 0], T0), T0)]
    with pytest.raises(RuntimeBackendError, match="expected"):
        new_pipeline(make_manifest(), BadScorer(np.zeros(2), np.zeros((2, 3)))).process(batch)
    with pytest.raises(RuntimeBackendError, match="non-finite"):
        new_pipeline(make_manifest(), BadScorer(np.array([np.nan]), np.zeros((1, 3)))).process(batch)
    drifting = ThresholdConfig(drift="on")
    with pytest.raises(RuntimeBackendError, match="reconstruction"):
        new_pipeline(make_manifest(), BadScorer(np.zeros(1), np.zeros((1, 3))), thresholds=drifting).process(batch)


def test_core_imports_only_stdlib_and_numpy() -> None:
    code = (
        "import sys, edgewatch.core; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'sklearn', 'pandas', 'onnxruntime', 'ai_edge_litert', 'yaml', 'paho')"
        " or m.startswith(('edgewatch.runtime', 'edgewatch.agent', 'edgewatch.train'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
