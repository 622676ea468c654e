"""The strict record loader: types, defaults, checks and errors naming the dotted field; dump is its inverse."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import pytest

from edgewatch.errors import BundleError, ConfigError
from edgewatch.records import Secret, check, dump, load
from edgewatch.records.loader import _fast_record, _load


@dataclass(frozen=True)
class Inner:
    rate: float = field(default=1.0, metadata=check(lambda v: v > 0, "a positive number"))
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outer:
    name: str
    mode: Literal["fast", "slow"] = "fast"
    count: int | None = None
    inner: Inner = field(default_factory=Inner)
    parts: dict[str, Inner] = field(default_factory=dict)
    values: tuple[float | None, ...] = ()
    password: Secret | None = None

    def __post_init__(self) -> None:
        if self.name == "taken":
            raise ConfigError("is taken", field="name")


def test_a_record_loads_and_dumps_back() -> None:
    data = {"name": "a", "mode": "slow", "count": 3, "inner": {"rate": 2, "tags": ["x"]}, "values": [1, None]}
    record = load(Outer, data | {"parts": {"p": {}}})
    assert record.inner == Inner(2.0, ("x",)) and record.values == (1.0, None) and record.parts == {"p": Inner()}
    assert isinstance(record.inner.rate, float)
    assert load(Outer, dump(record)) == record


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "name: is required"),
        ({"name": "a", "nmae": 1}, "nmae: unknown key (known: count, inner, mode, name, parts, password, values)"),
        ({"name": 1}, "name: expected a string, got 1"),
        ({"name": "a", "mode": "quick"}, "mode: expected one of 'fast', 'slow', got 'quick'"),
        ({"name": "a", "count": True}, "count: expected an integer, got True"),
        ({"name": "a", "inner": {"rate": 0}}, "inner.rate: expected a positive number, got 0"),
        ({"name": "a", "inner": {"rate": math.nan}}, "inner.rate: expected a positive number, got nan"),
        ({"name": "a", "inner": []}, "inner: expected a table, got []"),
        ({"name": "a", "parts": {"p": {"tags": [1]}}}, "parts.p.tags[0]: expected a string, got 1"),
        ({"name": "a", "values": [1, "x"]}, "values[1]: expected a number, got 'x'"),
        ({"name": "a", "values": [10**400]}, "values[0]: expected a number"),
        ({"name": "taken"}, "name: is taken"),
    ],
)
def test_errors_name_the_dotted_field(data: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as info:
        load(Outer, data)
    assert str(info.value).startswith(message)


def test_the_caller_chooses_the_error_and_the_prefix() -> None:
    with pytest.raises(BundleError, match=r"^manifest\.inner\.rate: expected a positive number"):
        load(Outer, {"name": "a", "inner": {"rate": -1}}, "manifest", error=BundleError)


def test_a_secret_is_never_shown() -> None:
    record = load(Outer, {"name": "a", "password": "hunter2"})
    assert isinstance(record.password, Secret) and record.password.reveal() == "hunter2"
    assert "hunter2" not in repr(record)
    with pytest.raises(ConfigError) as info:
        load(Outer, {"name": "a", "password": 12345})
    assert "12345" not in str(info.value)


# ---------------------------------------------------------------- the fast reader (records.loader._fast_record)
GOOD: list[dict] = [  # type: ignore[type-arg]
    {"name": "a"},
    {"name": "a", "mode": "slow", "count": None, "values": [1, None, 2.5], "password": "pw"},
    {"name": "a", "count": 3, "inner": {"rate": 2, "tags": ["x", "y"]}, "parts": {"p": {}, "q": {"rate": 0.5}}},
    {"name": "a", "values": [], "inner": {"tags": []}},
]


@pytest.mark.parametrize("data", GOOD)
def test_the_fast_reader_builds_what_the_generic_walk_builds(data: dict) -> None:  # type: ignore[type-arg]
    fast = _fast_record(Outer)
    assert fast is not None
    record = fast(copy.deepcopy(data))
    generic = _load(Outer, copy.deepcopy(data), "", ConfigError)
    assert record == generic == load(Outer, data)
    assert type(record.inner.rate) is float and all(type(v) in (float, type(None)) for v in record.values)
    assert isinstance(record.values, tuple) and isinstance(record.inner.tags, tuple)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": "a", "nmae": 1},
        {"name": 1},
        {"name": "a", "mode": "quick"},
        {"name": "a", "count": True},
        {"name": "a", "inner": {"rate": 0}},
        {"name": "a", "inner": {"rate": math.nan}},
        {"name": "a", "inner": []},
        {"name": "a", "inner": None},
        {"name": "a", "parts": {"p": {"tags": [1]}}},
        {"name": "a", "values": [1, "x"]},
        {"name": "a", "values": [math.nan]},
        {"name": "a", "values": [True]},
        {"name": "a", "values": [10**400]},
        {"name": "taken"},
    ],
)
def test_the_fast_reader_decides_no_error_and_takes_nothing_doubtful(data: dict) -> None:  # type: ignore[type-arg]
    """Whatever the fast reader declines goes to the generic walk, which alone names errors (or, like a null
    table read as its defaults, takes it)."""
    fast = _fast_record(Outer)
    assert fast is not None
    with pytest.raises(Exception):  # noqa: B017 -- any: it only means "not decided here"
        fast(data)


def test_values_the_fast_reader_declines_are_still_read() -> None:
    class Rate(float):
        pass

    data = MappingProxyType({"name": "a", "inner": MappingProxyType({"rate": Rate(2.0)}), "values": (1.5,)})
    record = load(Outer, data)
    assert record == Outer("a", inner=Inner(2.0), values=(1.5,)) and type(record.inner.rate) is float
    assert load(Outer, {"name": "a", "inner": None}).inner == Inner()


def test_dump_writes_mappings_lists_and_records_as_plain_data() -> None:
    record = Outer("a", parts={"p": Inner(2.0, ("x",))}, values=(1.0, None), password=Secret("pw"))
    data = dump(record)
    assert data["parts"] == {"p": {"rate": 2.0, "tags": ["x"]}} and data["values"] == [1.0, None]
    assert data["password"] == Secret("pw") and load(Outer, data) == record
    assert dump(MappingProxyType({1: [Inner()]})) == {"1": [{"rate": 1.0, "tags": []}]}
