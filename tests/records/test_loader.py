"""The strict record loader: types, defaults, checks and errors naming the dotted field; dump is its inverse."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import pytest

from edgewatch.errors import BundleError, ConfigError
from edgewatch.records import Secret, check, dump, load


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
