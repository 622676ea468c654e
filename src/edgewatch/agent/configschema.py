"""Strict construction of frozen dataclasses from parsed TOML/YAML, with errors that name the field.

``build(cls, raw, "mqtt")`` checks ``raw`` against the fields of dataclass ``cls``:

* a key that is not a field -> ``ConfigError("mqtt.prot: unknown key (known: ...)")``;
* a value of the wrong type -> ``ConfigError("mqtt.port: expected an integer 1-65535, got 'abc'")``.
  Types understood: ``bool``, ``int`` (a bool is not an int here), ``float`` (an int is accepted, NaN
  is not), ``str``, ``Literal[...]``, ``X | None``, nested dataclasses (a table) and
  ``dict[str, X]``; no coercion from strings;
* a field may carry ``metadata={"check": predicate, "expect": "an integer 1-65535"}`` for a range;
* a missing field without a default -> ``ConfigError("bundle.path: is required")``;
* a ``ConfigError`` raised by the dataclass itself (``__post_init__``) is re-raised with the field
  renamed into this file's dotted path.

A ``str`` field may also be given a :class:`Secret` (for passwords); it is kept as the Secret.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

from edgewatch.errors import ConfigError

T = TypeVar("T")


class Secret:
    """A string that never shows itself in ``repr``/``str`` (so it cannot leak into logs)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


def check(predicate: Callable[[Any], bool], expect: str) -> dict[str, Any]:
    """Field metadata: the value must satisfy ``predicate``; ``expect`` describes it for errors."""
    return {"check": predicate, "expect": expect}


def build(cls: type[T], raw: Any, prefix: str) -> T:
    """Construct dataclass ``cls`` from mapping ``raw``; see the module docstring."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"expected a table, got {_show(raw)}", field=prefix or None)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    for key in raw:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"unknown key (known: {known})", field=_join(prefix, str(key)))
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        path = _join(prefix, name)
        if name not in raw:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ConfigError("is required", field=path)
            continue
        value = convert(hints[name], raw[name], path, spec.metadata.get("expect"))
        predicate = spec.metadata.get("check")
        if predicate is not None and value is not None and not predicate(value):
            raise ConfigError(f"expected {spec.metadata['expect']}, got {_show(raw[name])}", field=path)
        values[name] = value
    try:
        return cls(**values)
    except ConfigError as exc:
        if exc.field is None:
            raise ConfigError(str(exc), field=prefix or None) from None
        own = exc.field.rsplit(".", 1)[-1]
        message = str(exc).removeprefix(f"{exc.field}: ")
        raise ConfigError(message, field=_join(prefix, own)) from None


def convert(hint: Any, value: Any, path: str, expect: str | None = None) -> Any:
    """Check ``value`` against type ``hint``; return it (ints widened to float where a float is due)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        others = [o for o in options if o is not type(None)]
        if len(others) == 1:
            return convert(others[0], value, path, expect)
        for option in others:
            try:
                return convert(option, value, path, expect)
            except ConfigError:
                continue
        raise ConfigError(f"expected {expect or _describe(hint)}, got {_show(value)}", field=path)
    if origin is Literal:
        if value in typing.get_args(hint) and type(value) in {type(a) for a in typing.get_args(hint)}:
            return value
        raise ConfigError(f"expected {expect or _describe(hint)}, got {_show(value)}", field=path)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"expected a table, got {_show(value)}", field=path)
        item_hint = typing.get_args(hint)[1] if typing.get_args(hint) else Any
        return {str(k): convert(item_hint, v, _join(path, str(k)), None) for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return build(hint, value, path)  # type: ignore[arg-type]
    if hint is Any:
        return value
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)
        if ok:
            value = float(value)
    elif hint is str:
        ok = isinstance(value, str | Secret)
    elif hint is Secret:
        if not isinstance(value, str | Secret):  # never echo a secret, even a mistyped one
            raise ConfigError(f"expected a string, got a {type(value).__name__}", field=path)
        return value if isinstance(value, Secret) else Secret(value)
    else:
        raise TypeError(f"configschema cannot check type {hint!r} of {path}")
    if not ok:
        raise ConfigError(f"expected {expect or _describe(hint)}, got {_show(value)}", field=path)
    return value


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(o) for o in typing.get_args(hint) if o is not type(None))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    return {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        Secret: "a string",
    }.get(hint, getattr(hint, "__name__", str(hint)))


def _show(value: Any) -> str:
    if isinstance(value, Secret):
        return "a secret"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
