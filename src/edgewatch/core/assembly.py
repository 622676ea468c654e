"""One topic per sensor (ESPHome, Node-RED, Home Assistant statestream): single values assembled into readings.

With ``[mqtt.per_sensor]`` the topic filter has two wildcard levels, the device's and the sensor's
(``plant/+/+/state``), and each message carries one value. :class:`SensorAssembler` holds each sensor's
latest value (sample-and-hold) and turns the stream of single values into readings of all features.

**When a reading is made: at a fixed rate in reading time.** Readings are made at the grid times
``k * interval_s`` (epoch-aligned), each from the values held at that time; a grid time is made when the first
value timed after it arrives. Why a fixed rate and not one reading per update: a model was trained on rows
sampled at one rate (a historian's export, or ``edgewatch simulate``), usually by holding each sensor's last
value too, so scoring at that rate shows the model rows built as its training rows were; alert windows
(``k`` of ``n``), sustained averages and window models keep their time scale whatever the sensors' own
rates; and a reading per update would repeat every held value once per update of another sensor, which the
stuck-sensor check would take for a frozen sensor. Grid times come from the values' own timestamps, never
the clock, so a replay reproduces a live run.

**Fresh and stale.** A held value is fresh at grid time ``g`` while ``g - its time <= max_age_s`` (per sensor:
``max_age``; default ``max_age_s``, itself by default three intervals). A stale sensor is a missing value in
the reading (NaN): the pipeline reports a ``sensor_fault`` ``missing`` and does not score it, as for a
``null`` in a whole-reading payload. A device's first readings wait until every sensor has sent a value, or
for ``max_age_s`` at most (after that the silent ones are missing); grid times at which every held value is
stale are not made (nothing to say; a silent device is :mod:`edgewatch.core.silence`'s business).

A sensor's value is a number written as text (``21.5``, as ESPHome publishes), a JSON number, ``nan`` /
``null`` / ``unavailable`` / ``unknown`` / an empty payload (the sensor could not read: a missing value), or a
JSON object with the value and optionally the time at the configured key paths (``value``, ``ts``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgewatch.core.payload import DEFAULT_MAX_BYTES, Reading, decode_payload, json_kind
from edgewatch.core.timestamps import parse_timestamp
from edgewatch.errors import ConfigError, PayloadError
from edgewatch.records import check

MISSING_TEXTS = frozenset({"", "nan", "NaN", "null", "None", "none", "unavailable", "unknown"})
_NAN = math.nan
_positive = check(lambda v: math.isfinite(v) and v > 0, "a positive number of seconds")


@dataclass(frozen=True)
class PerSensorConfig:
    """The ``[mqtt.per_sensor]`` section: which topic level names the sensor, the reading rate, how long a
    held value stays fresh, topic names of the bundle's features, and where a JSON object payload keeps its
    value and time."""

    sensor_level: int = field(metadata=check(lambda v: v >= 0, "a topic level index >= 0"))
    interval_s: float = field(metadata=_positive)
    max_age_s: float | None = field(default=None, metadata=_positive)  # None: 3 x interval_s
    max_age: dict[str, float] = field(default_factory=dict)  # per sensor (its topic name)
    rename: dict[str, str] = field(default_factory=dict)  # topic name -> the bundle's feature name
    ignore_unknown: bool = False  # a sensor topic naming no feature: counted, not an error
    value: str = "value"  # key of the value in a JSON object payload
    timestamp: str = "ts"  # key of the time in a JSON object payload (absent: the arrival time)

    def __post_init__(self) -> None:
        for name, seconds in self.max_age.items():
            if not (math.isfinite(seconds) and seconds > 0):
                raise ConfigError("must be a positive number of seconds", field=f"max_age.{name}")

    @property
    def default_max_age_s(self) -> float:
        return self.max_age_s if self.max_age_s is not None else 3.0 * self.interval_s


class _Device:
    __slots__ = ("first", "last_k", "last_ts", "times", "values")

    def __init__(self, n: int) -> None:
        self.values = [_NAN] * n
        self.times = [-math.inf] * n
        self.first: float | None = None  # time of the device's first value
        self.last_k: int | None = None  # the last grid index made (or passed)
        self.last_ts = -math.inf  # the latest value's time


class SensorAssembler:
    """Sample-and-hold assembly of single sensor values into readings (see the module docstring). Pure: no
    I/O, no clock; not thread-safe."""

    def __init__(self, features: tuple[str, ...], config: PerSensorConfig, *, max_bytes: int = DEFAULT_MAX_BYTES):
        self.features = features
        self.config = config
        self.max_bytes = max_bytes
        self.interval = config.interval_s
        unknown = [name for name, feature in config.rename.items() if feature not in features]
        if unknown:
            raise ConfigError(
                f"{config.rename[unknown[0]]!r} is not a feature of the bundle (features: {', '.join(features)})",
                field=f"mqtt.per_sensor.rename.{unknown[0]}",
            )
        renamed = {feature: name for name, feature in config.rename.items()}
        self._index = {renamed.get(f, f): j for j, f in enumerate(features)}
        if len(renamed) != len(config.rename) or len(self._index) != len(features):
            raise ConfigError("give each feature one topic name", field="mqtt.per_sensor.rename")
        stray = [name for name in config.max_age if name not in self._index]
        if stray:
            raise ConfigError(
                f"{stray[0]!r} names no sensor of the bundle (topic names: {', '.join(self._index)})",
                field=f"mqtt.per_sensor.max_age.{stray[0]}",
            )
        default = config.default_max_age_s
        self._max_age = [default] * len(features)
        for name, seconds in config.max_age.items():
            self._max_age[self._index[name]] = seconds
        self._longest = max(self._max_age)
        self.devices: dict[str, _Device] = {}
        #: values of sensor topics that name no feature, skipped under ``ignore_unknown``
        self.ignored = 0

    def sensor_value(self, sensor: str, payload: bytes, arrival_time: float) -> tuple[int, float, float] | None:
        """``(feature index, ts, value)`` of one sensor message (value NaN: the sensor could not read); None
        for an unknown sensor under ``ignore_unknown``; :class:`PayloadError` otherwise."""
        j = self._index.get(sensor)
        if j is None:
            if self.config.ignore_unknown:
                self.ignored += 1
                return None
            raise PayloadError(
                "unknown_feature",
                f"sensor topic {sensor!r} names no feature of this model (expected: {', '.join(self._index)})",
                field=sensor,
            )
        ts, value = self._parse(sensor, payload, arrival_time)
        return j, ts, value

    def _parse(self, sensor: str, payload: bytes, arrival_time: float) -> tuple[float, float]:
        if len(payload) > self.max_bytes:
            raise PayloadError("oversized", f"payload is {len(payload)} bytes; the limit is {self.max_bytes} bytes")
        text = payload.decode("utf-8", "replace").strip()
        if text in MISSING_TEXTS:
            return float(arrival_time), _NAN
        try:
            value = float(text)
        except ValueError:
            return self._parse_json(sensor, payload, arrival_time)
        if not math.isfinite(value):
            raise PayloadError("non_finite", f"sensor {sensor!r}: value {text!r} is not a finite number", field=sensor)
        return float(arrival_time), value

    def _parse_json(self, sensor: str, payload: bytes, arrival_time: float) -> tuple[float, float]:
        try:
            doc = decode_payload(payload, self.max_bytes)
        except PayloadError as exc:
            raise PayloadError(exc.reason, f"sensor {sensor!r}: expected a number: {exc}", field=sensor) from None
        if type(doc) is not dict:
            raise PayloadError(
                "wrong_type", f"sensor {sensor!r}: expected a number, got a JSON {json_kind(doc)}", field=sensor
            )
        raw: Any = doc.get(self.config.value)
        if raw is None:
            if self.config.value not in doc:
                raise PayloadError(
                    "missing_feature", f"sensor {sensor!r}: no {self.config.value!r} in the payload", field=sensor
                )
            value = _NAN
        elif type(raw) in (int, float):
            value = float(raw)
            if not math.isfinite(value):
                raise PayloadError("non_finite", f"sensor {sensor!r}: value is not a finite number", field=sensor)
        elif type(raw) is str and raw.strip() in MISSING_TEXTS:
            value = _NAN
        else:
            raise PayloadError(
                "wrong_type", f"sensor {sensor!r}: expected a number or null, got a JSON {json_kind(raw)}", field=sensor
            )
        try:
            ts = parse_timestamp(doc.get(self.config.timestamp), arrival_time)
        except PayloadError as exc:
            raise PayloadError(exc.reason, str(exc), field=self.config.timestamp) from None
        return ts, value

    def update(self, device: str, j: int, ts: float, value: float) -> list[Reading]:
        """Hold ``value`` (at time ``ts``) as sensor ``j`` of ``device``; return the readings of the grid times
        it passed, oldest first. A value timed before the device's latest is :class:`PayloadError`
        ``out_of_order`` (held values only move forward)."""
        dev = self.devices.get(device)
        if dev is None:
            dev = self.devices[device] = _Device(len(self.features))
            dev.first = ts
            dev.last_k = math.floor(ts / self.interval)
        if ts < dev.last_ts:
            raise PayloadError(
                "out_of_order",
                f"value of {self.features[j]!r} timed {dev.last_ts - ts:.3f} s before the device's latest",
                field="ts",
            )
        readings: list[Reading] = []
        k_now = math.floor(ts / self.interval)
        if dev.last_ts == -math.inf:  # the device's first value: nothing held before it
            dev.last_ts = ts
            dev.values[j], dev.times[j] = value, ts
            return readings
        last_k = dev.last_k if dev.last_k is not None else k_now
        # grid times after the latest value + the longest max age find every held value stale: skip them
        k_limit = min(k_now, math.floor((dev.last_ts + self._longest) / self.interval))
        for k in range(last_k + 1, k_limit + 1):
            reading = self._reading(dev, k * self.interval)
            if reading is not None:
                readings.append(reading)
        dev.last_k = max(last_k, k_now)
        dev.values[j] = value
        dev.times[j] = ts
        dev.last_ts = ts
        return readings

    def _reading(self, dev: _Device, g: float) -> Reading | None:
        values = dev.values.copy()
        fresh = 0
        waiting = False
        for j, t in enumerate(dev.times):
            if t == -math.inf:
                waiting = True
                values[j] = _NAN
            elif g - t <= self._max_age[j]:
                fresh += 1
            else:
                values[j] = _NAN
        if not fresh:
            return None
        if waiting and dev.first is not None and g - dev.first <= self._longest:
            return None  # the device's first values are still coming in
        missing = tuple(self.features[j] for j, v in enumerate(values) if v != v)
        return Reading(ts=g, values=np.array(values, dtype=np.float64), missing=missing)
