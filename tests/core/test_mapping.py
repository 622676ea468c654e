"""Payload mapping ([mqtt.payload]): the shapes gateways publish, read through one compiled mapping, and every
bad mapping refused at start naming its field."""

from __future__ import annotations

import json
import math

import pytest

from edgewatch.core.mapping import MappedParser, PayloadMapping, make_parser
from edgewatch.core.payload import PayloadParser
from edgewatch.errors import ConfigError, PayloadError
from edgewatch.records import load
from tests.payload_shapes import FEATURES, SHAPES

T0 = 1_767_225_600.0


def _parser(mapping: dict, features=FEATURES) -> MappedParser:  # type: ignore[no-untyped-def,type-arg]
    return MappedParser(features, load(PayloadMapping, mapping, "mqtt.payload"))


def _parse(parser: MappedParser, doc: object, arrival: float = T0 + 99) -> tuple[float, list[float], tuple[str, ...]]:
    return parser.parse_values(json.dumps(doc).encode(), arrival_time=arrival)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_shape_reads_the_messages_its_source_publishes(name: str) -> None:
    shape = SHAPES[name]
    parser = _parser(shape.mapping)
    values = {f: 10.0 + j for j, f in enumerate(FEATURES)}
    ts, got, missing = parser.parse_values(shape.payload(T0 + 7, values), arrival_time=T0 + 99)
    assert ts == T0 + 7
    assert got == [values[f] for f in FEATURES]
    assert missing == ()


def test_telegraf_documented_message() -> None:
    shape = SHAPES["telegraf"]
    parser = _parser(shape.mapping, ("field_1", "field_2", "field_N", "n_images"))
    assert _parse(parser, shape.documented) == (1458229140.0, [30.0, 4.0, 59.0, 660.0], ())


def test_neuron_documented_message_its_errors_are_missing_values() -> None:
    shape = SHAPES["neuron"]
    mapping = {k: v for k, v in shape.mapping.items() if k != "rename"}
    ts, values, missing = _parse(_parser(mapping, ("tag0", "tag1")), shape.documented)
    assert ts == pytest.approx(1650006388.943)
    assert values[0] == 123.0 and math.isnan(values[1]) and missing == ("tag1",)


def test_zigbee2mqtt_documented_message_extra_keys_counted_not_refused() -> None:
    shape = SHAPES["zigbee2mqtt"]
    mapping = {k: v for k, v in shape.mapping.items() if k != "rename"}
    parser = _parser(mapping, ("temperature", "humidity", "pressure"))
    ts, values, _ = _parse(parser, shape.documented)
    assert ts == 1714551300.0  # 2024-05-01T10:15:00+02:00
    assert values == [21.5, 45.2, 1012.0]
    assert parser.ignored_keys == 3  # battery, voltage, linkquality


def test_tasmota_documented_message_nested_sensors_by_dotted_name() -> None:
    shape = SHAPES["tasmota"]
    mapping = {k: v for k, v in shape.mapping.items() if k != "rename"}
    parser = _parser(mapping, ("BME280.Temperature", "DS18B20.Temperature", "ANALOG.A0"))
    ts, values, _ = _parse(parser, shape.documented)
    assert ts == 1609502400.0  # 2021-01-01T12:00:00, naive = UTC
    assert values == [21.3, 21.6, 512.0]
    assert parser.ignored_keys == 7  # Humidity, DewPoint, Pressure, Id, A1, PressureUnit, TempUnit


def test_unknown_keys_are_errors_by_default() -> None:
    shape = SHAPES["zigbee2mqtt"]
    mapping = {k: v for k, v in shape.mapping.items() if k != "ignore_unknown"}
    with pytest.raises(PayloadError) as info:
        _parse(_parser(mapping), shape.build(T0, dict.fromkeys(FEATURES, 1.0)))
    assert info.value.reason == "unknown_feature" and info.value.field == "battery"
    assert "ignore_unknown" in str(info.value)
    nested = SHAPES["tasmota"]
    strict = {k: v for k, v in nested.mapping.items() if k != "ignore_unknown"}
    with pytest.raises(PayloadError) as info:
        _parse(_parser(strict), nested.build(T0, dict.fromkeys(FEATURES, 1.0)))
    assert info.value.field == "BME280.DewPoint"


def test_a_feature_absent_is_named_by_its_payload_name_and_null_is_missing() -> None:
    shape = SHAPES["tasmota"]
    doc = shape.build(T0, dict.fromkeys(FEATURES, 1.0))
    del doc["ANALOG"]["A1"]
    with pytest.raises(PayloadError) as info:
        _parse(_parser(shape.mapping), doc)
    assert info.value.reason == "missing_feature" and info.value.field == "ANALOG.A1"
    doc["ANALOG"]["A1"] = None
    _, values, missing = _parse(_parser(shape.mapping), doc)
    assert math.isnan(values[5]) and missing == ("s5",)


@pytest.mark.parametrize(
    ("mapping", "doc", "reason", "field"),
    [
        ({"values": "fields"}, {"ts": 1, "other": {}}, "missing_feature", "fields"),
        ({"values": "fields"}, {"fields": 3}, "wrong_type", "fields"),
        ({"values": "fields"}, {"fields": [1.0, 2.0]}, "wrong_length", None),
        ({"values": "fields"}, {"fields": dict.fromkeys(FEATURES, "x")}, "wrong_type", "s0"),
        (
            {"values": "f", "timestamp": "t", "timestamp_unit": "ms"},
            {"t": "now", "f": dict.fromkeys(FEATURES, 1)},
            "bad_timestamp",
            "t",
        ),
        (
            {"values": "f", "timestamp": "t", "timestamp_unit": "s"},
            {"t": -5, "f": dict.fromkeys(FEATURES, 1)},
            "bad_timestamp",
            "t",
        ),
        (
            {"values": "f", "timestamp": "t", "timestamp_unit": "iso"},
            {"t": 17, "f": dict.fromkeys(FEATURES, 1)},
            "bad_timestamp",
            "t",
        ),
        (
            {"values": "f", "timestamp": "m.t"},
            {"m": {"t": "yesterday"}, "f": dict.fromkeys(FEATURES, 1)},
            "bad_timestamp",
            "m.t",
        ),
    ],
)
def test_bad_payloads_name_reason_and_field(mapping: dict, doc: dict, reason: str, field: str | None) -> None:  # type: ignore[type-arg]
    with pytest.raises(PayloadError) as info:
        _parse(_parser(mapping), doc)
    assert (info.value.reason, info.value.field) == (reason, field)


@pytest.mark.parametrize(
    ("unit", "raw", "ts"),
    [
        ("s", 1767225600, T0),
        ("ms", 1767225600500, T0 + 0.5),
        ("us", 1767225600000000, T0),
        ("ns", 1767225600000000000, T0),
        ("iso", "2026-01-01T00:00:00Z", T0),
        ("auto", 1767225600000, T0),
    ],
)
def test_timestamp_units(unit: str, raw: object, ts: float) -> None:
    parser = _parser({"values": "v", "timestamp": "time", "timestamp_unit": unit})
    assert _parse(parser, {"time": raw, "v": dict.fromkeys(FEATURES, 1.0)})[0] == ts


def test_no_timestamp_path_or_no_time_in_the_payload_means_the_arrival_time() -> None:
    assert _parse(_parser({"values": "v", "timestamp": ""}), {"v": [1.0] * 6}, arrival=T0)[0] == T0
    assert _parse(_parser({"values": "v", "timestamp": "t"}), {"v": [1.0] * 6}, arrival=T0)[0] == T0


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"rename": {"temp_c": "temperature"}}, "mqtt.payload.rename.temp_c"),
        ({"rename": {"a": "s0", "b": "s0"}}, "mqtt.payload.rename"),
        ({"values": "", "timestamp": "s1"}, "mqtt.payload.timestamp"),
        ({"values": "", "missing": "s2"}, "mqtt.payload.missing"),
    ],
)
def test_a_mapping_that_does_not_fit_the_bundle_is_refused_naming_the_field(mapping: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as info:
        _parser(mapping)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"valuez": "fields"}, "mqtt.payload.valuez"),
        ({"values": "a..b"}, "mqtt.payload.values"),
        ({"timestamp": "."}, "mqtt.payload.timestamp"),
        ({"timestamp_unit": "minutes"}, "mqtt.payload.timestamp_unit"),
        ({"ignore_unknown": "yes"}, "mqtt.payload.ignore_unknown"),
        ({"rename": {"x": 3}}, "mqtt.payload.rename.x"),
        ({"values": "v", "missing": "v"}, "mqtt.payload.missing"),
    ],
)
def test_the_section_is_validated_strictly(section: dict, field: str) -> None:  # type: ignore[type-arg]
    from edgewatch.agent.config import config_from_dict

    with pytest.raises(ConfigError) as info:
        config_from_dict({"bundle": {"path": "b"}, "mqtt": {"payload": section}}, check_paths=False)
    assert info.value.field == field


def test_without_a_section_the_standard_parser_is_used() -> None:
    assert type(make_parser(FEATURES, None)) is PayloadParser
    assert type(make_parser(FEATURES, PayloadMapping())) is MappedParser


def test_the_pipeline_scores_mapped_payloads() -> None:
    from edgewatch.core.events import ScoredReading
    from edgewatch.core.pipeline import Pipeline
    from tests.fakes import FEATURES as FAKE
    from tests.fakes import SquaredScorer, make_manifest

    mapping = PayloadMapping(values="fields", timestamp="timestamp", timestamp_unit="s", rename={"t_c": "temp"})
    pipeline = Pipeline(make_manifest(), SquaredScorer(), payload=mapping)
    doc = {"fields": {"t_c": 0.1, "pressure": 0.2, "vibration": 0.3}, "name": "pump", "timestamp": int(T0)}
    events = pipeline.process([("p1", json.dumps(doc).encode(), T0 + 50)])
    assert [type(e) for e in events] == [ScoredReading]
    assert events[0].ts == T0 and events[0].features == FAKE
    assert pipeline.ignored_keys == 0
    lenient = Pipeline(make_manifest(), SquaredScorer(), payload=PayloadMapping(values="", ignore_unknown=True))
    flat = {"temp": 0.1, "pressure": 0.2, "vibration": 0.3, "battery": 97, "linkquality": 120}
    lenient.process([("p1", json.dumps(flat).encode(), T0)])
    assert lenient.ignored_keys == 2


def test_validate_config_checks_the_mapping_against_the_bundle(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from edgewatch.cli import main
    from edgewatch.rig.agent import write_agent_config
    from tests.fakes import write_fake_bundle

    bundle = write_fake_bundle(tmp_path / "bundle")
    payload = {"values": "", "rename": {"t_c": "temperature"}}
    config = write_agent_config(
        tmp_path / "a.toml",
        bundle=bundle,
        url="mqtt://127.0.0.1:1",
        state_dir=tmp_path,
        sections={"mqtt": {"payload": payload}},
    )
    assert main(["run", "--config", str(config), "--validate-config"]) != 0
    assert "mqtt.payload.rename.t_c: 'temperature' is not a feature of the bundle" in capsys.readouterr().err
    payload["rename"] = {"t_c": "temp"}
    write_agent_config(
        tmp_path / "a.toml",
        bundle=bundle,
        url="mqtt://127.0.0.1:1",
        state_dir=tmp_path,
        sections={"mqtt": {"payload": payload}},
    )
    assert main(["run", "--config", str(config), "--validate-config"]) == 0
