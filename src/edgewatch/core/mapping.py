"""Payloads as plants already publish them: a mapping, compiled once, from a gateway's JSON to a reading.

The agent configuration's ``[mqtt.payload]`` section (:class:`PayloadMapping`) says where a payload keeps its
values and its time, and what the bundle's features are called in it::

    [mqtt.payload]
    values = "fields"            # key path of the object (or array, in feature order) holding the values
    timestamp = "timestamp"      # key path of the reading's time ("": none, the arrival time is used)
    timestamp_unit = "s"         # auto | s | ms | us | ns | iso
    missing = ""                 # key path of an object naming values the source could not read
    ignore_unknown = true        # other keys among the values are counted, not errors
    [mqtt.payload.rename]        # payload name -> the bundle's feature name
    "BME280.Temperature" = "temp"

Key paths are dotted (``"a.b"``: key ``b`` of the object at key ``a``); ``""`` is the top level. Among the
values, a nested object is named by its dotted path too (Tasmota's ``{"BME280": {"Temperature": 21.3}}`` holds
``BME280.Temperature``). Keys of the payload outside the values object (Telegraf's ``name`` and ``tags``, Neuron's
``node`` and ``group``) are not values and are not looked at; the timestamp's and ``missing``'s own keys are
never values even when they sit among them.

The rules of :mod:`edgewatch.core.payload` hold otherwise: every feature must be present (a JSON ``null``, or a
name listed in the ``missing`` object, is a missing value), values are finite JSON numbers, the errors have the
same reasons. ``timestamp_unit = "auto"`` is the one time rule of :mod:`edgewatch.core.timestamps`; ``s``,
``ms``, ``us``, ``ns`` take a number in that unit; ``iso`` an ISO 8601 string. An absent time is the arrival
time. Without ``ignore_unknown`` (the default) an unknown key among the values is an ``unknown_feature`` error;
with it, :attr:`MappedParser.ignored_keys` counts each one.

:func:`compile_mapping` checks a mapping against the bundle's features once, at start (a rename to a feature
the bundle does not have, or two names for one feature, is a :class:`ConfigError` naming the
``mqtt.payload`` field); :class:`MappedParser` then walks each payload along the compiled paths: no name is
looked up twice and nothing is interpreted per message.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from edgewatch.core.payload import DEFAULT_MAX_BYTES, PayloadParser, decode_payload, json_kind, number_or_nan
from edgewatch.core.timestamps import epoch_from_iso, parse_timestamp
from edgewatch.errors import ConfigError, PayloadError
from edgewatch.records import check

TimestampUnit = Literal["auto", "s", "ms", "us", "ns", "iso"]
_DIVISOR = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
_FIELD = "mqtt.payload"


def _path_ok(path: str) -> bool:
    return path == "" or all(path.split("."))


_PATH = check(_path_ok, 'a dotted key path such as "fields" or "data.values" ("" for the top level)')


@dataclass(frozen=True)
class PayloadMapping:
    """The ``[mqtt.payload]`` section (see the module docstring)."""

    values: str = field(default="values", metadata=_PATH)
    timestamp: str = field(default="ts", metadata=_PATH)
    timestamp_unit: TimestampUnit = "auto"
    missing: str = field(default="", metadata=_PATH)
    ignore_unknown: bool = False
    rename: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, feature in self.rename.items():
            if not name:
                raise ConfigError("a payload name cannot be empty", field="rename")
            if not feature:
                raise ConfigError("must name one of the bundle's features", field=f"rename.{name}")
        if self.missing and self.missing == self.values:
            raise ConfigError("must not be the values path itself", field="missing")


def _split(path: str) -> tuple[str, ...]:
    return tuple(path.split(".")) if path else ()


@dataclass(frozen=True)
class _Compiled:
    values_path: tuple[str, ...]
    ts_path: tuple[str, ...]
    missing_path: tuple[str, ...]
    tree: dict[str, Any]  # payload key -> feature index, or a nested tree
    skip: frozenset[str]  # keys among the top-level values that are the timestamp's or the missing object's


def compile_mapping(mapping: PayloadMapping, features: Sequence[str]) -> _Compiled:
    """Check ``mapping`` against the bundle's ``features``; :class:`ConfigError` naming the field otherwise."""
    unknown = [name for name, feature in mapping.rename.items() if feature not in features]
    if unknown:
        name = unknown[0]
        raise ConfigError(
            f"{mapping.rename[name]!r} is not a feature of the bundle (features: {', '.join(features)})",
            field=f"{_FIELD}.rename.{name}",
        )
    renamed = {feature: name for name, feature in mapping.rename.items()}
    twice = [f for f in renamed if list(mapping.rename.values()).count(f) > 1]
    if twice:
        names = [n for n, f in mapping.rename.items() if f == twice[0]]
        raise ConfigError(
            f"{names} all name feature {twice[0]!r}; give each feature one name", field=f"{_FIELD}.rename"
        )
    tree: dict[str, Any] = {}
    for j, feature in enumerate(features):
        name = renamed.get(feature, feature)
        tree[name] = j  # the literal key (a payload key may itself contain dots)
        parts = name.split(".")
        node = tree
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break  # a feature is literally named like the prefix: the literal key wins
            node = child
        else:
            if len(parts) > 1:
                node.setdefault(parts[-1], j)
    values_path, ts_path, missing_path = (_split(p) for p in (mapping.values, mapping.timestamp, mapping.missing))
    skip = set()
    for path, what in ((ts_path, "timestamp"), (missing_path, "missing")):
        if path and path[:-1] == values_path:
            if isinstance(tree.get(path[-1]), int):
                raise ConfigError(
                    f"{'.'.join(path)!r} is also the payload name of feature "
                    f"{features[tree[path[-1]]]!r}; rename one of them",
                    field=f"{_FIELD}.{what}",
                )
            skip.add(path[-1])
    return _Compiled(values_path, ts_path, missing_path, tree, frozenset(skip))


class MappedParser:
    """A payload parser for one feature list and one :class:`PayloadMapping`, compiled once (see the module
    docstring). Same interface as :class:`~edgewatch.core.payload.PayloadParser`."""

    def __init__(self, features: Sequence[str], mapping: PayloadMapping, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.features: tuple[str, ...] = tuple(features)
        self.max_bytes = int(max_bytes)
        self.mapping = mapping
        compiled = compile_mapping(mapping, self.features)
        self._values_path = compiled.values_path
        self._ts_path = compiled.ts_path
        self._missing_path = compiled.missing_path
        self._tree = compiled.tree
        self._skip = compiled.skip
        self._unit = mapping.timestamp_unit
        self._ignore = mapping.ignore_unknown
        self._n = len(self.features)
        self._names = {j: name for name, j in compiled.tree.items() if isinstance(j, int)}
        #: unknown keys skipped because of ``ignore_unknown`` (the agent reports it in its stats)
        self.ignored_keys = 0

    def parse_values(
        self, payload: bytes | bytearray | str, *, arrival_time: float
    ) -> tuple[float, list[float], tuple[str, ...]]:
        """``(ts, values in feature order, missing feature names)``, or :class:`PayloadError`."""
        doc = decode_payload(payload, self.max_bytes)
        node = _walk(doc, self._values_path)
        if node is None:
            where = ".".join(self._values_path)
            raise PayloadError("missing_feature", f"the payload has no values at {where!r}", field=where)
        values: list[Any] = [None] * self._n
        if type(node) is list:
            if len(node) != self._n:
                raise PayloadError("wrong_length", f"values array has {len(node)} values; this model expects {self._n}")
            for j, v in enumerate(node):
                values[j] = number_or_nan(self.features[j], v)
        elif type(node) is dict:
            self._collect(node, self._tree, "", values, self._skip)
        else:
            where = ".".join(self._values_path)
            raise PayloadError(
                "wrong_type",
                f"{where!r}: expected an object or array of values, got a JSON {json_kind(node)}",
                field=where,
            )
        if self._missing_path:
            unread = _walk(doc, self._missing_path)
            if type(unread) is dict:
                for key in unread:
                    leaf = self._tree.get(key)
                    if type(leaf) is int and values[leaf] is None:
                        values[leaf] = math.nan
        absent = [j for j, v in enumerate(values) if v is None]
        if absent:
            names = [self._names.get(j, self.features[j]) for j in absent]
            shown = ", ".join(repr(n) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            raise PayloadError(
                "missing_feature",
                f"feature {shown} missing from payload (send null for a value the sensor could not read)",
                field=names[0],
            )
        missing = tuple(self.features[j] for j, v in enumerate(values) if v != v)
        return self._time(doc, arrival_time), values, missing

    def _collect(self, obj: dict[str, Any], tree: dict[str, Any], prefix: str, out: list[Any], skip: Any) -> None:
        for key, v in obj.items():
            j = tree.get(key)
            if type(j) is int:
                out[j] = number_or_nan(self._names[j], v)
            elif j is not None and type(v) is dict:
                self._collect(v, j, f"{prefix}{key}.", out, ())
            elif key in skip:
                continue
            elif self._ignore:
                self.ignored_keys += 1
            else:
                raise self._unknown(prefix + key)

    def _unknown(self, key: str) -> PayloadError:
        import difflib  # here, not at module level: only a rejected reading needs it (memory on the edge)

        names = sorted(self._names.values())
        close = difflib.get_close_matches(key, names, n=1) if len(names) <= 200 else []
        hint = (
            f"; did you mean {close[0]!r}?"
            if close
            else f" (expected: {', '.join(names[:8])}{', …' if len(names) > 8 else ''})"
        )
        return PayloadError(
            "unknown_feature",
            f"unknown key {key!r} among the values{hint} (mqtt.payload.ignore_unknown skips such keys)",
            field=key,
        )

    def _time(self, doc: Any, arrival_time: float) -> float:
        if not self._ts_path:
            return float(arrival_time)
        raw = _walk(doc, self._ts_path)
        unit = self._unit
        field_name = ".".join(self._ts_path)
        if unit == "auto" or raw is None:
            try:
                return parse_timestamp(raw, arrival_time)
            except PayloadError as exc:
                raise PayloadError(exc.reason, str(exc), field=field_name) from None
        if unit == "iso":
            if type(raw) is not str:
                raise PayloadError(
                    "bad_timestamp",
                    f"timestamp must be an ISO 8601 string, not a JSON {json_kind(raw)}",
                    field=field_name,
                )
            try:
                return epoch_from_iso(raw)
            except ValueError as exc:
                raise PayloadError("bad_timestamp", f"timestamp {raw!r} {exc}", field=field_name) from None
        if type(raw) not in (int, float):
            raise PayloadError(
                "bad_timestamp", f"timestamp must be a number of {unit}, not a JSON {json_kind(raw)}", field=field_name
            )
        ts = raw / _DIVISOR[unit]
        if not (math.isfinite(ts) and ts >= 0):
            raise PayloadError(
                "bad_timestamp", f"timestamp {raw!r} must be a finite, non-negative epoch time", field=field_name
            )
        return float(ts)


def _walk(doc: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in ``doc`` (None when any step is absent or not an object)."""
    node = doc
    for key in path:
        if type(node) is not dict:
            return None
        node = node.get(key)
    return node


def make_parser(
    features: Sequence[str], mapping: PayloadMapping | None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> PayloadParser | MappedParser:
    """The standard parser without a mapping, the compiled :class:`MappedParser` with one."""
    if mapping is None:
        return PayloadParser(features, max_bytes=max_bytes)
    return MappedParser(features, mapping, max_bytes=max_bytes)
