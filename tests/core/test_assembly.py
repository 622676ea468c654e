"""One topic per sensor: single values held and assembled into readings at a fixed rate in reading time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgewatch.core.assembly import PerSensorConfig, SensorAssembler
from edgewatch.errors import ConfigError, PayloadError

FEATURES = ("temp", "flow", "rpm")
T0 = 1_767_225_600.0


def _assembler(**kwargs) -> SensorAssembler:  # type: ignore[no-untyped-def]
    return SensorAssembler(FEATURES, PerSensorConfig(**{"sensor_level": 2, "interval_s": 1.0, **kwargs}))


def _feed(assembler: SensorAssembler, device: str, updates: list[tuple[float, str, float]]) -> list:  # type: ignore[type-arg]
    out = []
    for ts, sensor, value in updates:
        out += assembler.update(device, FEATURES.index(sensor), ts, value)
    return out


def test_readings_at_grid_times_from_the_values_held_then() -> None:
    a = _assembler()
    got = _feed(
        a,
        "p1",
        [
            (T0 + 0.1, "temp", 20.0),
            (T0 + 0.4, "flow", 5.0),
            (T0 + 0.7, "rpm", 1500.0),  # all three held by T0 + 1
            (T0 + 1.2, "temp", 21.0),  # passes grid T0 + 1: (20, 5, 1500)
            (T0 + 1.5, "flow", 6.0),
            (T0 + 2.3, "rpm", 1510.0),
        ],  # passes T0 + 2: (21, 6, 1500) -- rpm held
    )
    assert [r.ts for r in got] == [T0 + 1, T0 + 2]
    assert got[0].values.tolist() == [20.0, 5.0, 1500.0] and got[0].missing == ()
    assert got[1].values.tolist() == [21.0, 6.0, 1500.0]


def test_a_device_waits_for_its_first_values_then_reports_the_silent_sensor_missing() -> None:
    a = _assembler(max_age_s=2.0)
    updates = [(T0 + i + 0.5, "temp", 20.0 + i) for i in range(5)]  # flow and rpm never send
    updates += [(T0 + i + 0.6, "flow", 5.0) for i in range(5)]
    got = _feed(a, "p1", sorted(updates))
    # grace: no reading while T0 + 0.5 + max age (2 s) has not passed; after it, rpm is missing
    assert [r.ts for r in got] == [T0 + 3, T0 + 4]
    assert all(r.missing == ("rpm",) and math.isnan(r.values[2]) for r in got)


def test_a_stale_sensor_becomes_missing_and_fresh_again_when_it_sends() -> None:
    a = _assembler(max_age={"rpm": 1.5})
    updates = [(T0 + 0.1, "rpm", 1500.0)]
    updates += [(T0 + i + 0.2, "temp", 20.0) for i in range(6)] + [(T0 + i + 0.3, "flow", 5.0) for i in range(6)]
    updates += [(T0 + 4.5, "rpm", 1490.0)]
    got = {r.ts - T0: r for r in _feed(a, "p1", sorted(updates))}
    assert got[1].missing == ()  # rpm's value is 0.9 s old
    assert got[2].missing == got[3].missing == got[4].missing == ("rpm",)  # 1.9 s and more: beyond 1.5 s
    assert got[5].missing == () and got[5].values[2] == 1490.0


def test_stale_everything_makes_no_readings_and_a_long_gap_costs_nothing() -> None:
    a = _assembler()
    _feed(a, "p1", [(T0 + 0.1, "temp", 1.0), (T0 + 0.2, "flow", 1.0), (T0 + 0.3, "rpm", 1.0)])
    got = _feed(a, "p1", [(T0 + 86_400.5, "temp", 2.0)])  # a day later: only grid times within the max age
    assert [r.ts - T0 for r in got] == [1.0, 2.0, 3.0]  # held values fresh for 3 intervals, then all stale


def test_values_only_move_forward_and_devices_are_independent() -> None:
    a = _assembler()
    _feed(a, "p1", [(T0 + 5, "temp", 1.0)])
    with pytest.raises(PayloadError) as info:
        a.update("p1", 0, T0 + 4, 2.0)
    assert info.value.reason == "out_of_order"
    assert a.update("p2", 0, T0 + 4, 2.0) == []


def test_the_same_values_give_the_same_readings() -> None:
    rng = np.random.default_rng(3)
    updates = sorted(
        (T0 + float(t), FEATURES[int(j)], float(v))
        for t, j, v in zip(rng.uniform(0, 60, 200), rng.integers(0, 3, 200), rng.normal(size=200), strict=True)
    )
    first = [(r.ts, np.nan_to_num(r.values, nan=-1e9).tolist(), r.missing) for r in _feed(_assembler(), "p", updates)]
    again = [(r.ts, np.nan_to_num(r.values, nan=-1e9).tolist(), r.missing) for r in _feed(_assembler(), "p", updates)]
    assert first == again and len(first) > 40


@pytest.mark.parametrize(
    ("payload", "ts", "value"),
    [
        (b"21.5", T0, 21.5),  # ESPHome: the state as text
        (b" 1500 ", T0, 1500.0),
        (b"nan", T0, math.nan),  # ESPHome: no reading
        (b"unavailable", T0, math.nan),  # Home Assistant
        (b"", T0, math.nan),
        (b'{"value": 3.5, "ts": 1767225500}', 1767225500.0, 3.5),  # Node-RED style object
        (b'{"value": null}', T0, math.nan),
    ],
)
def test_sensor_payloads(payload: bytes, ts: float, value: float) -> None:
    j, got_ts, got = _assembler().sensor_value("temp", payload, T0)  # type: ignore[misc]
    assert (j, got_ts) == (0, ts)
    assert got == value or (math.isnan(got) and math.isnan(value))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"warm", "malformed_json"),
        (b"inf", "non_finite"),
        (b'"21"', "wrong_type"),
        (b'{"v": 1}', "missing_feature"),
        (b'{"value": true}', "wrong_type"),
        (b'{"value": 1, "ts": "later"}', "bad_timestamp"),
    ],
)
def test_bad_sensor_payloads_name_the_sensor(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as info:
        _assembler().sensor_value("flow", payload, T0)
    assert info.value.reason == reason
    assert info.value.field in ("flow", "ts")


def test_topic_names_rename_and_unknown_sensors() -> None:
    a = _assembler(rename={"temperature": "temp"})
    assert a.sensor_value("temperature", b"1", T0) == (0, T0, 1.0)
    with pytest.raises(PayloadError) as info:
        a.sensor_value("humidity", b"1", T0)
    assert info.value.reason == "unknown_feature" and info.value.field == "humidity"
    lenient = _assembler(ignore_unknown=True)
    assert lenient.sensor_value("humidity", b"1", T0) is None and lenient.ignored == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rename": {"t": "temperature"}}, "mqtt.per_sensor.rename.t"),
        ({"rename": {"t": "temp", "u": "temp"}}, "mqtt.per_sensor.rename"),
        ({"max_age": {"pressure": 5.0}}, "mqtt.per_sensor.max_age.pressure"),
    ],
)
def test_a_section_that_does_not_fit_the_bundle_is_refused(kwargs: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as info:
        _assembler(**kwargs)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("mqtt", "field"),
    [
        ({"topic": "plant/+/+/state", "per_sensor": {"sensor_level": 2}}, "mqtt.per_sensor.interval_s"),
        (
            {"topic": "plant/+/+/state", "per_sensor": {"sensor_level": 3, "interval_s": 1.0}},
            "mqtt.per_sensor.sensor_level",
        ),
        (
            {"topic": "plant/+/+/state", "per_sensor": {"sensor_level": 2, "interval_s": 0}},
            "mqtt.per_sensor.interval_s",
        ),
        (
            {"topic": "plant/+/+/state", "per_sensor": {"sensor_level": 2, "interval_s": 1.0, "max_age": {"a": -1}}},
            "mqtt.per_sensor.max_age.a",
        ),
        (
            {"topic": "plant/+/+/state", "payload": {}, "per_sensor": {"sensor_level": 2, "interval_s": 1.0}},
            "mqtt.per_sensor",
        ),
    ],
)
def test_the_section_is_validated_naming_the_field(mqtt: dict, field: str) -> None:  # type: ignore[type-arg]
    from edgewatch.agent.config import config_from_dict

    with pytest.raises(ConfigError) as info:
        config_from_dict({"bundle": {"path": "b"}, "mqtt": mqtt}, check_paths=False)
    assert info.value.field == field


def test_the_device_level_is_the_other_wildcard() -> None:
    from edgewatch.agent.config import config_from_dict

    config = config_from_dict(
        {
            "bundle": {"path": "b"},
            "mqtt": {"topic": "+/sensor/+/state", "per_sensor": {"sensor_level": 2, "interval_s": 10}},
        },
        check_paths=False,
    )
    assert config.device_level == 0
