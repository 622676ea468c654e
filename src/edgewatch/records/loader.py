"""Strict construction of frozen dataclasses from parsed JSON, TOML or YAML, with errors that name the field.

``load(cls, raw, prefix="mqtt", error=ConfigError)`` checks ``raw`` against the fields of dataclass ``cls``:

* a key that is not a field -> ``error("mqtt.prot: unknown key (known: ...)")``;
* a value of the wrong type -> ``error("mqtt.port: expected an integer 1-65535, got 'abc'")``.
  Types understood: ``bool``, ``int`` (a bool is not an int here), ``float`` (an int is accepted, NaN
  is not), ``str``, :class:`Secret`, ``Literal[...]``, ``X | None``, nested dataclasses (a table),
  ``dict[str, X]`` and ``tuple[X, ...]`` (a list); no coercion from strings;
* a field may carry ``metadata=check(predicate, "an integer 1-65535")`` for a range;
* a missing field without a default -> ``error("bundle.path: is required")``;
* a :class:`~edgewatch.errors.FieldError` or ``ValueError`` raised by the dataclass itself
  (``__post_init__``) is re-raised as ``error`` with its field placed under the record's dotted path.

``error`` is the :class:`~edgewatch.errors.FieldError` subclass the caller reports (``ConfigError`` for
configurations and saved state, ``BundleError`` for manifests). Fields declared with ``init=False``
(derived values) are neither read nor written. :func:`dump` is the inverse: a record as plain JSON data.

Speed (the saved state of 10,000 devices is 90,000 records): :func:`load` first tries a reader compiled once
per record class from the same declarations, which accepts only the plainest well-formed input (exact
``dict``/``list``/scalar types, every value within its type and check) and builds the same record; anything
else -- an error above all -- goes to the generic walk, which names the field. So the fast path never decides
an error, and its errors are the generic loader's by construction. :func:`dump` dispatches on the exact type
the same way.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

from edgewatch.errors import ConfigError, FieldError

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


def load(cls: type[T], raw: Any, prefix: str = "", *, error: type[FieldError] = ConfigError) -> T:
    """Construct dataclass ``cls`` from mapping ``raw``; see the module docstring."""
    fast = _fast_record(typing.cast(type, cls))
    if fast is not None:
        try:
            return typing.cast(T, fast(raw))
        except Exception:  # undecided: the generic walk below reads it and names any error
            pass
    return _load(cls, raw, prefix, error)


def _load(cls: type[T], raw: Any, prefix: str, error: type[FieldError]) -> T:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise error(f"expected a table, got {_show(raw)}", field=prefix or None)
    hints, fields = _fields(typing.cast(type, cls))
    for key in raw:
        if key not in fields:
            raise error(f"unknown key (known: {', '.join(sorted(fields))})", field=_join(prefix, str(key)))
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        path = _join(prefix, name)
        if name not in raw:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise error("is required", field=path)
            continue
        value = _convert(hints[name], raw[name], path, spec.metadata.get("expect"), error)
        predicate = spec.metadata.get("check")
        if predicate is not None and value is not None and not predicate(value):
            raise error(f"expected {spec.metadata['expect']}, got {_show(raw[name])}", field=path)
        values[name] = value
    try:
        return cls(**values)
    except FieldError as exc:
        raise error(exc.message, field=_under(prefix, exc.field)) from None
    except ValueError as exc:
        raise error(str(exc), field=prefix or None) from None


def dump(record: Any) -> Any:
    """A record (and the dicts, tuples and lists in it) as plain JSON data; a :class:`Secret` stays one."""
    kind: Any = type(record)
    if kind in _PLAIN:
        return record
    if kind is tuple or kind is list:
        if all(type(v) in _PLAIN for v in record):
            return list(record)
        return [dump(v) for v in record]
    names = _record_names(kind)
    if names is not None:
        out = {name: getattr(record, name) for name in names}
        for name, value in out.items():
            if type(value) not in _PLAIN:
                out[name] = dump(value)
        return out
    if isinstance(record, Mapping):
        return {str(k): dump(v) for k, v in record.items()}
    if isinstance(record, tuple | list):
        return [dump(v) for v in record]
    return record


_PLAIN = frozenset({str, float, int, bool, type(None)})  # dumped as they are


@functools.cache
def _record_names(kind: type) -> tuple[str, ...] | None:
    """The fields :func:`dump` writes of an instance of ``kind``; None when it is no dataclass."""
    if not dataclasses.is_dataclass(kind):
        return None
    return tuple(f.name for f in dataclasses.fields(kind) if f.init)


class _Undecided(Exception):
    """The fast reader does not take this value: the generic walk decides."""


_COMPILING: set[type] = set()


@functools.cache
def _fast_record(cls: type) -> Callable[[Any], Any] | None:
    """A reader of ``cls`` equivalent to :func:`_load` on the input it accepts and raising on anything else;
    None when a field's type is beyond it (the generic walk reads every value then)."""
    if cls in _COMPILING:  # a record that contains itself: leave it to the generic walk
        return None
    _COMPILING.add(cls)
    try:
        hints, fields = _fields(cls)
        plan = []
        for name, spec in fields.items():
            required = spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
            plan.append((name, _fast_value(hints[name]), spec.metadata.get("check"), required))
    except TypeError:
        return None
    finally:
        _COMPILING.discard(cls)
    steps = tuple(plan)

    def read(raw: Any) -> Any:
        if type(raw) is not dict:
            raise _Undecided
        values: dict[str, Any] = {}
        for name, convert, predicate, required in steps:
            if name in raw:
                value = convert(raw[name])
                if predicate is not None and value is not None and not predicate(value):
                    raise _Undecided
                values[name] = value
            elif required:
                raise _Undecided
        if len(values) != len(raw):  # a key that is not a field
            raise _Undecided
        return cls(**values)

    return read


def _fast_value(hint: Any) -> Callable[[Any], Any]:
    """What :func:`_convert` does with ``hint`` on the plainest input; raises on anything else (TypeError at
    once for a type it does not know)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [o for o in args if o is not type(None)]
        # the first option alone: when it takes the value, so does the generic walk, which tries it first
        first = _fast_value(options[0])
        if type(None) not in args:
            return first

        def optional(v: Any) -> Any:
            return None if v is None else first(v)

        return optional
    if origin is Literal:
        choices, kinds = args, {type(a) for a in args}

        def literal(v: Any) -> Any:
            if v in choices and type(v) in kinds:
                return v
            raise _Undecided

        return literal
    if origin is dict:
        item = _fast_value(args[1])

        def table(v: Any) -> Any:
            if type(v) is not dict:
                raise _Undecided
            return {str(k): item(x) for k, x in v.items()}

        return table
    if origin is tuple:
        return _fast_items(args[0])
    if dataclasses.is_dataclass(hint):
        record = _fast_record(typing.cast(type, hint))
        if record is None:
            raise TypeError(hint)
        return record
    if hint is Any:
        return _same
    if hint is Secret:
        return _secret
    scalar = _FAST_SCALARS.get(hint)
    if scalar is None:
        raise TypeError(hint)
    return scalar


def _same(v: Any) -> Any:
    return v


def _secret(v: Any) -> Any:
    if type(v) is Secret:
        return v
    if type(v) is str:
        return Secret(v)
    raise _Undecided


def _exact(kind: type) -> Callable[[Any], Any]:
    def scalar(v: Any) -> Any:
        if type(v) is kind:
            return v
        raise _Undecided

    return scalar


def _float(v: Any) -> float:
    if type(v) is float and v == v:  # not NaN
        return v
    if type(v) is int:
        return float(v)  # OverflowError for a huge one: undecided
    raise _Undecided


_FAST_SCALARS: dict[Any, Callable[[Any], Any]] = {bool: _exact(bool), int: _exact(int), str: _exact(str), float: _float}
_NUMBER_OR_NONE: frozenset[Any] = frozenset({float, type(None)})
_BULK: dict[Any, frozenset[Any]] = {
    float: frozenset({float}),
    float | None: _NUMBER_OR_NONE,
    int: frozenset({int}),
    str: frozenset({str}),
}


def _fast_items(hint: Any) -> Callable[[Any], tuple[Any, ...]]:
    """A list of ``hint`` as a tuple; a list of plain floats (or floats and nulls, or of integers, or strings)
    is checked in bulk."""
    item = _fast_value(hint)
    bulk = _BULK.get(hint)

    def items(v: Any) -> tuple[Any, ...]:
        kind = type(v)
        if kind is not list and kind is not tuple:
            raise _Undecided
        if bulk is not None and bulk.issuperset(map(type, v)):
            if bulk is _NUMBER_OR_NONE or hint is float:
                if not all(map(operator.eq, v, v)):  # a NaN (None == None)
                    raise _Undecided
            return tuple(v)
        return tuple(map(item, v))

    return items


@functools.cache
def _fields(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    return typing.get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls) if f.init}


def _convert(hint: Any, value: Any, path: str, expect: str | None, error: type[FieldError]) -> Any:
    """Check ``value`` against type ``hint``; return it (ints widened to float, lists made tuples)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (o for o in args if o is not type(None)):
            try:
                return _convert(option, value, path, expect, error)
            except FieldError as exc:
                if len(args) - (type(None) in args) == 1 or exc.field != path:
                    raise  # the one option, or an error inside a nested record: report it as it is
        raise error(f"expected {expect or _describe(hint)}, got {_show(value)}", field=path)
    if origin is Literal:
        if value in args and type(value) in {type(a) for a in args}:
            return value
    elif origin is dict:
        if not isinstance(value, Mapping):
            raise error(f"expected a table, got {_show(value)}", field=path)
        return {str(k): _convert(args[1], v, _join(path, str(k)), None, error) for k, v in value.items()}
    elif origin is tuple:
        if isinstance(value, list | tuple):
            return tuple(_convert(args[0], v, f"{path}[{i}]", None, error) for i, v in enumerate(value))
    elif dataclasses.is_dataclass(hint):
        return load(hint, value, path, error=error)  # type: ignore[arg-type]
    elif hint is Secret:
        if not isinstance(value, str | Secret):  # never echo a secret, even a mistyped one
            raise error(f"expected a string, got a {type(value).__name__}", field=path)
        return value if isinstance(value, Secret) else Secret(value)
    elif _matches(hint, value):
        if hint is not float:
            return value
        try:
            return float(value)
        except OverflowError:  # an integer too large for a float
            pass
    raise error(f"expected {expect or _describe(hint)}, got {_show(value)}", field=path)


def _matches(hint: Any, value: Any) -> bool:
    if hint is Any:
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        if isinstance(value, float):
            return not math.isnan(value)
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str | Secret)
    raise TypeError(f"the record loader cannot check type {hint!r}")


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(o) for o in typing.get_args(hint) if o is not type(None))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin is tuple:
        return f"a list of {_describe(typing.get_args(hint)[0]).removeprefix('a ').removeprefix('an ')}s"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string", Secret: "a string"}
    return names.get(hint, "a table" if dataclasses.is_dataclass(hint) else getattr(hint, "__name__", str(hint)))


def _show(value: Any) -> str:
    if isinstance(value, Secret):
        return "a secret"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _under(prefix: str, field: str | None) -> str | None:
    """The dotted path of ``field``, named by a record's own validation, under the record's ``prefix``.

    A record may name its field with its own section name first (``AlertConfig`` raises ``alerts.k``,
    also when constructed directly); that name is replaced by the record's place in the file."""
    if field is None:
        return prefix or None
    own = prefix.rsplit(".", 1)[-1]
    if own and (field == own or field.startswith(own + ".")):
        field = field[len(own) + 1 :]
    return _join(prefix, field) if field else prefix
