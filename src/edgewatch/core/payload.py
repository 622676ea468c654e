"""Parse one MQTT payload into a :class:`Reading` (the agent's hot path).

Accepted payloads (UTF-8 JSON, at most ``max_bytes`` bytes)::

    {"ts": 1767225600.5, "values": {"temp": 21.5, "rpm": 1480}}    nested object
    {"ts": 1767225600.5, "values": [21.5, 1480]}                    nested array, manifest order
    {"temp": 21.5, "rpm": 1480, "ts": "2026-01-01T00:00:00Z"}       flat object, "ts" optional
    [21.5, 1480]                                                     array in manifest order, no ts

Rules:

* Every feature of the manifest must be present; JSON ``null`` marks a *missing value* (the value
  becomes NaN and the name is listed in ``Reading.missing``; the pipeline reports a sensor fault,
  it is not a payload error). A key that is absent altogether is a ``missing_feature`` error.
* Values must be JSON numbers (ints or floats, not bools) and finite. Python's ``json`` accepts the
  non-standard literals ``NaN``/``Infinity`` and overflows ``1e999`` to infinity: all are rejected.
* ``ts``: epoch seconds, epoch milliseconds or an ISO 8601 string (see
  :func:`edgewatch.core.timestamps.parse_timestamp`); absent or ``null`` means "use the arrival
  time". Anything else is ``bad_timestamp``.
* In the flat form a key is looked up as a feature first, so a feature literally named ``ts`` is a
  value there (and the timestamp then comes from the arrival time); the nested form is recognised
  when ``"values"`` holds an object or array and no feature is named ``values``. The nested form
  allows no top-level keys other than ``ts`` and ``values``.

Every failure raises :class:`~edgewatch.errors.PayloadError` with one of :data:`PAYLOAD_REASONS` and,
where one is to blame, ``field`` naming the key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from edgewatch.core.timestamps import TS_KEY, parse_timestamp
from edgewatch.errors import PayloadError

DEFAULT_MAX_BYTES = 16384
VALUES_KEY = "values"

PAYLOAD_REASONS = (
    "oversized",
    "malformed_json",
    "unknown_feature",
    "missing_feature",
    "wrong_type",
    "non_finite",
    "bad_timestamp",
    "wrong_length",
)

_ABSENT: Any = object()  # marks a feature not (yet) seen in an object payload
_NAN = math.nan
_FLOATS_ONLY = {float}
_NO_MISSING: tuple[str, ...] = ()
_decode_json = json.JSONDecoder().decode


@dataclass(frozen=True, slots=True)
class Reading:
    """One accepted reading of one device.

    ``ts`` is epoch seconds (UTC); ``values`` is float64 of shape ``(n_features,)`` in manifest order,
    NaN exactly for the features named in ``missing`` (which is in manifest order).
    """

    ts: float
    values: np.ndarray
    missing: tuple[str, ...] = ()


class PayloadParser:
    """A reusable parser for one feature list. Build it once per manifest, call :meth:`parse` per payload."""

    __slots__ = ("_absent_row", "_index", "_n", "features", "max_bytes")

    def __init__(self, features: Sequence[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.features: tuple[str, ...] = tuple(features)
        if not self.features or len(set(self.features)) != len(self.features):
            raise ValueError("features must be a non-empty sequence of unique names")
        if max_bytes < 2:
            raise ValueError("max_bytes must be at least 2")
        self.max_bytes = int(max_bytes)
        self._index = {name: j for j, name in enumerate(self.features)}
        self._n = len(self.features)
        self._absent_row = [_ABSENT] * self._n

    def parse(self, payload: bytes | bytearray | str, *, arrival_time: float) -> Reading:
        """Parse one payload; raise :class:`PayloadError` if it cannot be scored."""
        ts, values, missing = self.parse_values(payload, arrival_time=arrival_time)
        return Reading(ts=ts, values=np.array(values, dtype=np.float64), missing=missing)

    def parse_values(
        self, payload: bytes | bytearray | str, *, arrival_time: float
    ) -> tuple[float, list[float], tuple[str, ...]]:
        """Like :meth:`parse` but returns ``(ts, values as a list of floats, missing)``.

        The pipeline uses this form to stack a whole batch into one array without a numpy
        allocation per reading.
        """
        # decode_payload, inlined: a call per reading is measurable on the agent's hot path
        if len(payload) > self.max_bytes:
            raise _oversized(payload, self.max_bytes)
        try:
            doc = _decode_json(payload if isinstance(payload, str) else payload.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise _malformed(exc) from None
        kind = type(doc)
        if kind is dict:
            inner = doc.get(VALUES_KEY)
            inner_kind = type(inner)
            if (inner_kind is dict or inner_kind is list) and VALUES_KEY not in self._index:
                for key in doc:
                    if key != TS_KEY and key != VALUES_KEY:
                        raise PayloadError(
                            "unknown_feature",
                            f"unknown top-level field {key!r}: a nested payload holds only "
                            f"{TS_KEY!r} and {VALUES_KEY!r}",
                            field=key,
                        )
                ts = parse_timestamp(doc.get(TS_KEY), arrival_time)
                if inner_kind is dict:
                    values, missing, _ = self._from_object(inner, False)
                else:
                    values, missing = self._from_array(inner)
                return ts, values, missing
            values, missing, raw_ts = self._from_object(doc, True)
            return parse_timestamp(raw_ts, arrival_time), values, missing
        if kind is list:
            values, missing = self._from_array(doc)
            return float(arrival_time), values, missing
        raise PayloadError(
            "malformed_json",
            f"payload must be a JSON object or array, not a JSON {json_kind(doc)}",
        )

    def _from_object(self, obj: dict[str, Any], allow_ts: bool) -> tuple[list[float], tuple[str, ...], Any]:
        if not allow_ts and len(obj) == self._n and tuple(obj) == self.features:
            # the common case, checked in C: every feature, in the model's order, each a finite float (a sum of
            # finite floats is finite but for an overflow, which takes the full path below)
            values = list(obj.values())
            if set(map(type, values)) == _FLOATS_ONLY:
                total = sum(values)
                if total - total == 0.0:
                    return values, _NO_MISSING, None
        index = self._index
        values = self._absent_row.copy()
        seen = 0
        raw_ts = None
        null_at: list[int] | None = None
        for key, v in obj.items():
            j = index.get(key)
            if j is None:
                if allow_ts and key == TS_KEY:
                    raw_ts = v
                    continue
                raise self._unknown(key)
            kind = type(v)
            if kind is float:
                if v - v != 0.0:  # NaN or +-Infinity
                    raise _non_finite(key, v)
            elif kind is int:
                v = _int_to_float(key, v)
            elif v is None:
                if null_at is None:
                    null_at = []
                null_at.append(j)
                v = _NAN
            else:
                raise _wrong_type(key, v)
            values[j] = v
            seen += 1
        if seen != self._n:
            absent = [self.features[j] for j, v in enumerate(values) if v is _ABSENT]
            shown = ", ".join(repr(name) for name in absent[:5])
            more = f" and {len(absent) - 5} more" if len(absent) > 5 else ""
            raise PayloadError(
                "missing_feature",
                f"feature {shown}{more} missing from payload (send null for a value the sensor could not read)",
                field=absent[0],
            )
        return values, self._missing_names(null_at), raw_ts

    def _from_array(self, arr: list[Any]) -> tuple[list[float], tuple[str, ...]]:
        if len(arr) != self._n:
            raise PayloadError(
                "wrong_length",
                f"array payload has {len(arr)} values; this model expects {self._n} "
                f"({_preview(self.features)}) in that order",
            )
        if set(map(type, arr)) == _FLOATS_ONLY:  # the common case, checked in C (see _from_object)
            total = sum(arr)
            if total - total == 0.0:
                return arr, _NO_MISSING
        values: list[float] = arr  # json.loads made a fresh list: convert it in place
        null_at: list[int] | None = None
        for j, v in enumerate(arr):
            kind = type(v)
            if kind is float:
                if v - v != 0.0:
                    raise _non_finite(self.features[j], v)
            elif kind is int:
                values[j] = _int_to_float(self.features[j], v)
            elif v is None:
                if null_at is None:
                    null_at = []
                null_at.append(j)
                values[j] = _NAN
            else:
                raise _wrong_type(self.features[j], v)
        return values, self._missing_names(null_at)

    def _missing_names(self, null_at: list[int] | None) -> tuple[str, ...]:
        if null_at is None:
            return _NO_MISSING
        return tuple(self.features[j] for j in sorted(null_at))

    def _unknown(self, key: str) -> PayloadError:
        import difflib  # here, not at module level: only a rejected reading needs it (memory on the edge)

        close = difflib.get_close_matches(key, self.features, n=1) if self._n <= 200 else []
        hint = f"; did you mean {close[0]!r}?" if close else f" (this model expects: {_preview(self.features)})"
        return PayloadError("unknown_feature", f"unknown feature {key!r}{hint}", field=key)


def decode_payload(payload: bytes | bytearray | str, max_bytes: int) -> Any:
    """The JSON document of one payload of at most ``max_bytes`` bytes, or :class:`PayloadError`
    (``oversized``, ``malformed_json``)."""
    if len(payload) > max_bytes:
        raise _oversized(payload, max_bytes)
    try:
        return _decode_json(payload if isinstance(payload, str) else payload.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise _malformed(exc) from None


def _oversized(payload: bytes | bytearray | str, max_bytes: int) -> PayloadError:
    return PayloadError("oversized", f"payload is {len(payload)} bytes; the limit is {max_bytes} bytes")


def _malformed(exc: Exception) -> PayloadError:
    if isinstance(exc, UnicodeDecodeError):
        return PayloadError("malformed_json", f"payload is not UTF-8 text (bad byte at position {exc.start})")
    if isinstance(exc, RecursionError):
        return PayloadError("malformed_json", "payload JSON is nested too deeply")
    return PayloadError("malformed_json", f"payload is not valid JSON: {exc}")


def number_or_nan(name: str, v: Any) -> float:
    """One JSON value of feature ``name`` as a float: NaN for ``null`` (a missing value); a non-number or a
    non-finite number is a :class:`PayloadError` naming the feature."""
    kind = type(v)
    if kind is float:
        if v - v != 0.0:
            raise _non_finite(name, v)
        return cast(float, v)
    if kind is int:
        return _int_to_float(name, v)
    if v is None:
        return _NAN
    raise _wrong_type(name, v)


def parse_reading(
    payload: bytes | bytearray | str,
    features: Sequence[str],
    *,
    arrival_time: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Reading:
    """Parse one payload against ``features`` (convenience; build a :class:`PayloadParser` on hot paths)."""
    return PayloadParser(features, max_bytes=max_bytes).parse(payload, arrival_time=arrival_time)


def _int_to_float(name: str, v: int) -> float:
    try:
        return float(v)
    except OverflowError:
        raise PayloadError("non_finite", f"feature {name!r}: value is too large for a float", field=name) from None


def _non_finite(name: str, v: float) -> PayloadError:
    return PayloadError("non_finite", f"feature {name!r}: value {v!r} is not a finite number", field=name)


def _wrong_type(name: str, v: Any) -> PayloadError:
    return PayloadError(
        "wrong_type",
        f"feature {name!r}: expected a number or null, got a JSON {json_kind(v)}",
        field=name,
    )


def json_kind(v: Any) -> str:
    """What a decoded JSON value is, for messages: ``boolean``, ``string``, ``object``, ``array``, ``null``, a
    ``number``."""
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    if v is None:
        return "null"
    return "number"


def _preview(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return f"{shown}, … ({len(names)} in all)" if len(names) > limit else shown
