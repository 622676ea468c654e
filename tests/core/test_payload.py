"""Payload parsing: the accepted forms, timestamp formats and every rejection reason."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from edgewatch.core.payload import PAYLOAD_REASONS, PayloadParser, Reading, parse_reading
from edgewatch.errors import PayloadError

FEATURES = ("temp", "pressure", "vibration")
ARRIVAL = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def parse(payload: bytes | str, **kwargs) -> Reading:
    if isinstance(payload, str):
        payload = payload.encode()
    return parse_reading(payload, FEATURES, arrival_time=ARRIVAL, **kwargs)


def reject(payload: bytes | str, **kwargs) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse(payload, **kwargs)
    assert info.value.reason in PAYLOAD_REASONS
    return info.value


# ---------------------------------------------------------------- accepted forms
def test_nested_object_in_manifest_order() -> None:
    r = parse('{"ts": 1767225601, "values": {"vibration": 3, "temp": 1.5, "pressure": -2}}')
    assert r.ts == 1767225601.0
    assert r.values.dtype == np.float64 and r.values.shape == (3,)
    assert r.values.tolist() == [1.5, -2.0, 3.0]
    assert r.missing == ()


def test_flat_object_with_and_without_ts() -> None:
    r = parse('{"pressure": 2, "temp": 1, "vibration": 3, "ts": 1767225605.25}')
    assert r.values.tolist() == [1.0, 2.0, 3.0] and r.ts == 1767225605.25
    r = parse('{"pressure": 2, "temp": 1, "vibration": 3}')
    assert r.ts == ARRIVAL


def test_array_form_uses_arrival_time() -> None:
    r = parse("[1, 2.5, -3e2]")
    assert r.values.tolist() == [1.0, 2.5, -300.0] and r.ts == ARRIVAL


def test_nested_array_form() -> None:
    r = parse('{"ts": 1767225601000, "values": [1, 2, 3]}')
    assert r.values.tolist() == [1.0, 2.0, 3.0] and r.ts == 1767225601.0


def test_null_is_a_missing_value_not_an_error() -> None:
    r = parse('{"vibration": null, "temp": null, "pressure": 2}')
    assert r.missing == ("temp", "vibration")  # manifest order
    assert math.isnan(r.values[0]) and math.isnan(r.values[2]) and r.values[1] == 2.0
    r = parse("[null, 1, 2]")
    assert r.missing == ("temp",)


def test_parser_is_reusable_and_accepts_str_and_bytearray() -> None:
    parser = PayloadParser(FEATURES)
    a = parser.parse(b"[1, 2, 3]", arrival_time=1.0)
    b = parser.parse(bytearray(b"[4, 5, 6]"), arrival_time=2.0)
    c = parser.parse('{"temp": 7, "pressure": 8, "vibration": 9}', arrival_time=3.0)
    assert [a.values.tolist(), b.values.tolist(), c.values.tolist()] == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    ts, values, missing = parser.parse_values(b"[1, null, 3]", arrival_time=5.0)
    assert ts == 5.0 and values[0] == 1.0 and math.isnan(values[1]) and missing == ("pressure",)


def test_big_ints_are_floats() -> None:
    assert parse("[1, 20000000000000000000, 3]").values[1] == 2e19


# ---------------------------------------------------------------- timestamps
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1767225600", 1767225600.0),  # epoch seconds
        ("1767225600.5", 1767225600.5),
        ("1767225600500", 1767225600.5),  # epoch milliseconds
        ("100000000001", 100000000.001),  # just above 1e11 -> milliseconds
        ("99999999999", 99999999999.0),  # just below -> seconds
        ('"2026-01-01T00:00:00Z"', 1767225600.0),
        ('"2026-01-01T01:30:00+01:30"', 1767225600.0),
        ('"2026-01-01T00:00:00.250Z"', 1767225600.25),
        ('"2026-01-01T00:00:00"', 1767225600.0),  # naive = UTC
        ('"2026-01-01 00:00:01"', 1767225601.0),
        ("null", ARRIVAL),
    ],
)
def test_timestamp_formats(raw: str, expected: float) -> None:
    r = parse(f'{{"ts": {raw}, "values": [1, 2, 3]}}')
    assert r.ts == pytest.approx(expected, abs=1e-6)
    r = parse(f'{{"temp": 1, "ts": {raw}, "pressure": 2, "vibration": 3}}')
    assert r.ts == pytest.approx(expected, abs=1e-6)


def test_iso_timestamp_agrees_with_datetime() -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    r = parse(f'{{"ts": "{moment.isoformat()}", "values": [1, 2, 3]}}')
    assert r.ts == pytest.approx(moment.timestamp())


@pytest.mark.parametrize(
    "raw",
    [
        '"yesterday"',
        '"2026-13-01T00:00:00Z"',
        '""',
        "true",
        "[1]",
        '{"s": 1}',
        "-5",
        "NaN",
        "Infinity",
        "1767225600000000",
        '"1969-12-31T23:59:59Z"',
    ],
)
def test_bad_timestamps(raw: str) -> None:
    err = reject(f'{{"ts": {raw}, "values": [1, 2, 3]}}')
    assert err.reason == "bad_timestamp" and err.field == "ts"
    assert "timestamp" in str(err)


# ---------------------------------------------------------------- rejections
def test_oversized_is_checked_before_decoding() -> None:
    err = reject(b"\xff" * 20000)
    assert err.reason == "oversized" and "20000 bytes" in str(err) and "16384" in str(err)
    err = reject(b"[1, 2, 3]" + b" " * 100, max_bytes=64)
    assert err.reason == "oversized"
    assert parse(b"[1, 2, 3]", max_bytes=9).values.tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"{",
        b"[1, 2, 3",
        b"{'temp': 1}",
        b"temp=1",
        b'"just a string"',
        b"42",
        b"null",
        b"true",
        b"\xff\xfe[1, 2, 3]",
        "[1, 2, 3]".encode("utf-16"),
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_malformed_json(payload: bytes) -> None:
    err = reject(payload)
    assert err.reason == "malformed_json"
    assert str(err)


def test_non_utf8_message() -> None:
    err = reject(b'{"temp": "\xe9"}')
    assert err.reason == "malformed_json" and "UTF-8" in str(err)


def test_top_level_kind_is_named() -> None:
    assert "string" in str(reject(b'"hello"'))


def test_unknown_feature_is_named_with_suggestion() -> None:
    err = reject('{"temp": 1, "presure": 2, "vibration": 3}')
    assert err.reason == "unknown_feature" and err.field == "presure"
    assert "'presure'" in str(err) and "did you mean 'pressure'" in str(err)
    err = reject('{"temp": 1, "pressure": 2, "vibration": 3, "zzz": 4}')
    assert err.field == "zzz" and "temp, pressure, vibration" in str(err)


def test_unknown_top_level_key_in_nested_form() -> None:
    err = reject('{"ts": 1, "values": [1, 2, 3], "device": "x"}')
    assert err.reason == "unknown_feature" and err.field == "device"


def test_unknown_key_inside_nested_values() -> None:
    err = reject('{"ts": 1, "values": {"temp": 1, "pressure": 2, "vibration": 3, "ts": 5}}')
    assert err.reason == "unknown_feature" and err.field == "ts"


def test_missing_feature_is_distinct_from_null() -> None:
    err = reject('{"temp": 1, "vibration": 3}')
    assert err.reason == "missing_feature" and err.field == "pressure" and "'pressure'" in str(err)
    err = reject('{"ts": 5, "values": {}}')
    assert err.reason == "missing_feature" and err.field == "temp"
    assert "'temp', 'pressure', 'vibration'" in str(err)
    assert parse('{"temp": 1, "pressure": null, "vibration": 3}').missing == ("pressure",)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ('"1.5"', "string"),
        ("true", "boolean"),
        ("false", "boolean"),
        ('{"v": 1}', "object"),
        ("[1]", "array"),
    ],
)
def test_wrong_type_names_field(value: str, kind: str) -> None:
    err = reject(f'{{"temp": 1, "pressure": {value}, "vibration": 3}}')
    assert err.reason == "wrong_type" and err.field == "pressure"
    assert "'pressure'" in str(err) and kind in str(err)
    err = reject(f"[1, {value}, 3]")
    assert err.reason == "wrong_type" and err.field == "pressure"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400", "1" + "0" * 400])
def test_non_finite_values_are_rejected(value: str) -> None:
    err = reject(f'{{"temp": 1, "pressure": 2, "vibration": {value}}}')
    assert err.reason == "non_finite" and err.field == "vibration" and "'vibration'" in str(err)
    err = reject(f"[{value}, 1, 2]")
    assert err.reason == "non_finite" and err.field == "temp"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_values_are_rejected_among_floats_in_model_order(value: str) -> None:
    # all floats, every feature in the model's order: the form the parser checks in one pass first
    err = reject(f'{{"ts": 1767225601, "values": {{"temp": 1.5, "pressure": 2.5, "vibration": {value}}}}}')
    assert err.reason == "non_finite" and err.field == "vibration"
    err = reject(f"[1.5, {value}, 2.5]")
    assert err.reason == "non_finite" and err.field == "pressure"


def test_finite_floats_whose_sum_overflows_are_accepted() -> None:
    r = parse('{"ts": 1767225601, "values": {"temp": 1.5e308, "pressure": 1.5e308, "vibration": -0.5}}')
    assert r.values.tolist() == [1.5e308, 1.5e308, -0.5]
    assert parse("[1.5e308, 1.5e308, -0.5]").values.tolist() == [1.5e308, 1.5e308, -0.5]


def test_floats_in_model_order_with_a_null_or_an_int() -> None:
    r = parse('{"ts": 1767225601, "values": {"temp": 1.5, "pressure": null, "vibration": 3}}')
    assert r.values[0] == 1.5 and math.isnan(r.values[1]) and r.values[2] == 3.0 and r.missing == ("pressure",)
    r = parse("[1.5, 2.5, 3]")
    assert r.values.tolist() == [1.5, 2.5, 3.0] and r.missing == ()


@pytest.mark.parametrize("payload", ["[]", "[1, 2]", "[1, 2, 3, 4]", '{"ts": 1, "values": [1]}'])
def test_wrong_length(payload: str) -> None:
    err = reject(payload)
    assert err.reason == "wrong_length" and "expects 3" in str(err) and "temp, pressure, vibration" in str(err)


def test_every_reason_is_covered() -> None:
    seen = {
        reject(p).reason
        for p in [
            b"x" * 20000,
            b"{",
            b'{"x": 1}',
            b'{"temp": 1}',
            b'[1, "a", 2]',
            b"[NaN, 1, 2]",
            b'{"ts": "no", "values": [1, 2, 3]}',
            b"[1]",
        ]
    }
    assert seen == set(PAYLOAD_REASONS)


def test_feature_named_ts_or_values_is_a_value() -> None:
    parser = PayloadParser(("ts", "values"))
    r = parser.parse(b'{"ts": 5, "values": 7}', arrival_time=ARRIVAL)
    assert r.values.tolist() == [5.0, 7.0] and r.ts == ARRIVAL


def test_parser_rejects_bad_feature_lists() -> None:
    with pytest.raises(ValueError):
        PayloadParser(())
    with pytest.raises(ValueError):
        PayloadParser(("a", "a"))
