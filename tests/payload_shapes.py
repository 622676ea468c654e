"""The payload shapes plants already publish, as fixtures: for each, a message as its documentation shows it,
the topic filter and ``[mqtt.payload]`` mapping that read it, and a builder of such messages for any readings
(the end-to-end tests publish them through Mosquitto to a real agent).

Sources: Telegraf's JSON output serializer (``outputs.mqtt`` with ``data_format = "json"``,
``json_timestamp_units = "1s"``; topic ``telegraf/<host>/<plugin>``), EMQX Neuron's MQTT app in values-format
(topic ``/neuron/<app>/<driver>/<group>``; ``timestamp`` in ms, tags that failed to read in ``errors``),
Zigbee2MQTT device state (``zigbee2mqtt/<friendly name>``, sensor values next to ``linkquality``, ``battery``,
``voltage``, ``last_seen``) and Tasmota telemetry (``tele/<device>/SENSOR``, one nested object per attached
sensor, ``Time`` local ISO without offset, ``TempUnit``).

The tests' model has features ``s0`` … ``s5``; each shape names them as such a source would and renames them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FEATURES = tuple(f"s{j}" for j in range(6))


@dataclass(frozen=True)
class Shape:
    name: str
    topic_filter: str  # what the agent subscribes to
    device_level: int | None  # None: the single '+'
    topic: str  # where a device publishes; {device} is the device id
    mapping: dict[str, Any]  # the [mqtt.payload] section
    documented: dict[str, Any]  # a message as the source's documentation shows it
    build: Callable[[float, Mapping[str, float | None]], dict[str, Any]]  # (ts, values by feature) -> message

    def payload(self, ts: float, values: Mapping[str, float | None]) -> bytes:
        return json.dumps(self.build(ts, values)).encode()


def _iso_local(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S")


TELEGRAF = Shape(
    name="telegraf",
    topic_filter="telegraf/+/pump",
    device_level=None,
    topic="telegraf/{device}/pump",
    mapping={"values": "fields", "timestamp": "timestamp", "timestamp_unit": "s"},
    documented={
        "fields": {"field_1": 30, "field_2": 4, "field_N": 59, "n_images": 660},
        "name": "docker",
        "tags": {"host": "raynor"},
        "timestamp": 1458229140,
    },
    build=lambda ts, v: {"fields": dict(v), "name": "pump", "tags": {"host": "gw-3"}, "timestamp": int(ts)},
)

NEURON_TAGS = {f"s{j}": f"PT-10{j}" for j in range(6)}  # PLC tag names
NEURON = Shape(
    name="neuron",
    topic_filter="/neuron/ew-north/+/pump-group",
    device_level=3,
    topic="/neuron/ew-north/{device}/pump-group",
    mapping={
        "values": "values",
        "timestamp": "timestamp",
        "timestamp_unit": "ms",
        "missing": "errors",
        "rename": {tag: feature for feature, tag in NEURON_TAGS.items()},
    },
    documented={
        "timestamp": 1650006388943,
        "node": "modbus",
        "group": "grp",
        "values": {"tag0": 123},
        "errors": {"tag1": 2014},
        "metas": {},
    },
    build=lambda ts, v: {
        "timestamp": round(ts * 1000),
        "node": "modbus-tcp-1",
        "group": "pump-group",
        "values": {NEURON_TAGS[f]: x for f, x in v.items() if x is not None},
        "errors": {NEURON_TAGS[f]: 2014 for f, x in v.items() if x is None},
        "metas": {},
    },
)

ZIGBEE_NAMES = {"s0": "temperature", "s1": "humidity", "s2": "pressure", "s3": "soil_moisture", "s4": "illuminance",
                "s5": "co2"}
ZIGBEE2MQTT = Shape(
    name="zigbee2mqtt",
    topic_filter="zigbee2mqtt/+",
    device_level=None,
    topic="zigbee2mqtt/{device}",
    mapping={
        "values": "",
        "timestamp": "last_seen",
        "timestamp_unit": "iso",
        "ignore_unknown": True,
        "rename": {name: feature for feature, name in ZIGBEE_NAMES.items()},
    },
    documented={
        "temperature": 21.5,
        "humidity": 45.2,
        "pressure": 1012,
        "battery": 97,
        "voltage": 2995,
        "linkquality": 120,
        "last_seen": "2024-05-01T10:15:00+02:00",
    },
    build=lambda ts, v: {
        **{ZIGBEE_NAMES[f]: x for f, x in v.items()},
        "battery": 97,
        "voltage": 2995,
        "linkquality": 120,
        "last_seen": datetime.fromtimestamp(ts, UTC).isoformat(),
    },
)

TASMOTA_PLACES = {"s0": ("BME280", "Temperature"), "s1": ("BME280", "Humidity"), "s2": ("BME280", "Pressure"),
                  "s3": ("DS18B20", "Temperature"), "s4": ("ANALOG", "A0"), "s5": ("ANALOG", "A1")}
TASMOTA = Shape(
    name="tasmota",
    topic_filter="tele/+/SENSOR",
    device_level=None,
    topic="tele/{device}/SENSOR",
    mapping={
        "values": "",
        "timestamp": "Time",
        "timestamp_unit": "iso",
        "ignore_unknown": True,
        "rename": {f"{sensor}.{key}": feature for feature, (sensor, key) in TASMOTA_PLACES.items()},
    },
    documented={
        "Time": "2021-01-01T12:00:00",
        "BME280": {"Temperature": 21.3, "Humidity": 40.1, "DewPoint": 7.2, "Pressure": 1013.2},
        "DS18B20": {"Id": "01131B", "Temperature": 21.6},
        "ANALOG": {"A0": 512, "A1": 498},
        "PressureUnit": "hPa",
        "TempUnit": "C",
    },
    build=lambda ts, v: {
        "Time": _iso_local(ts),
        "BME280": {"Temperature": v["s0"], "Humidity": v["s1"], "DewPoint": 7.2, "Pressure": v["s2"]},
        "DS18B20": {"Id": "01131B", "Temperature": v["s3"]},
        "ANALOG": {"A0": v["s4"], "A1": v["s5"]},
        "PressureUnit": "hPa",
        "TempUnit": "C",
    },
)

SHAPES = {shape.name: shape for shape in (TELEGRAF, NEURON, ZIGBEE2MQTT, TASMOTA)}
