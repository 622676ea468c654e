"""The agent's side of one topic per sensor: messages of ``<...>/<device>/<sensor>/...`` topics through the
sample-and-hold assembler (:mod:`edgewatch.core.assembly`) into the pipeline as readings.

A message that cannot be read (not a number, unknown sensor, older than the device's latest value) becomes an
:class:`~edgewatch.core.events.InputRejected` naming the sensor, published on the error topic like any other
rejected input; the assembled readings go through ``pipeline.process_readings`` (checks, missing and stuck
sensors, scoring, alerts), exactly as whole-reading payloads do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from edgewatch.core.assembly import SensorAssembler
from edgewatch.core.events import Event, InputRejected
from edgewatch.core.payload import Reading
from edgewatch.errors import PayloadError
from edgewatch.transports.topics import device_from_topic

if TYPE_CHECKING:
    from edgewatch.agent.config import AgentConfig


class ReadingProcessor(Protocol):
    def process_readings(self, readings: Sequence[tuple[str, Reading]]) -> list[Event]: ...


class SensorFeed:
    """Single-value messages -> assembled readings -> events (see the module docstring)."""

    def __init__(self, assembler: SensorAssembler, sensor_level: int) -> None:
        self.assembler = assembler
        self.sensor_level = sensor_level
        self.rejected_total = 0

    def process(
        self, pipeline: ReadingProcessor, batch: Sequence[tuple[str, bytes, float]], topics: Sequence[str]
    ) -> list[Event]:
        """``batch`` as the loop admits it (device, payload, arrival time) with each message's topic."""
        events: list[Event] = []
        readings: list[tuple[str, Reading]] = []
        assembler = self.assembler
        for (device, payload, arrival_time), topic in zip(batch, topics, strict=True):
            sensor = device_from_topic(topic, self.sensor_level) or ""
            try:
                read = assembler.sensor_value(sensor, payload, arrival_time)
                if read is None:
                    continue
                j, ts, value = read
                readings.extend((device, reading) for reading in assembler.update(device, j, ts, value))
            except PayloadError as exc:
                self.rejected_total += 1
                events.append(InputRejected(device, exc.reason, str(exc), exc.field, float(arrival_time)))
        if readings:
            events.extend(pipeline.process_readings(readings))
        return events


def sensor_feed(config: AgentConfig, features: tuple[str, ...]) -> SensorFeed | None:
    """The feed of ``config.mqtt.per_sensor`` for a bundle with ``features`` (None: one payload per reading);
    :class:`~edgewatch.errors.ConfigError` naming the ``mqtt.per_sensor`` field when it does not fit the bundle."""
    sensors = config.mqtt.per_sensor
    if sensors is None:
        return None
    assembler = SensorAssembler(features, sensors, max_bytes=config.mqtt.max_payload_bytes)
    return SensorFeed(assembler, sensors.sensor_level)
