"""The agent's watch over silent devices (:mod:`edgewatch.core.silence`): each batch's last admitted message of
every device is noted with its arrival time, and every ``silence.check_interval_s`` the devices are checked
against the wall clock.

``device_silent`` and ``device_recovered`` go through the durable outbox to ``edgewatch/<device>/silence``
(QoS 1, retained, essential: a broker outage or ``kill -9`` loses neither), so a dashboard subscribing later
still sees which devices are silent. Devices restored from the saved state keep their watch: one that fell
silent while the agent was down is found silent at the first check.
"""

from __future__ import annotations

import json
import logging
from typing import Protocol

from edgewatch.agent.controls import Devices, Outgoing
from edgewatch.core.device import DeviceState
from edgewatch.core.silence import DeviceSilence, SilenceConfig
from edgewatch.transports.topics import device_topic

log = logging.getLogger("edgewatch.agent")


class DeviceLookup(Devices, Protocol):
    def device(self, name: str) -> DeviceState: ...


class SilenceMonitor:
    """See the module docstring."""

    def __init__(self, config: SilenceConfig) -> None:
        self.config = config
        self._next_check = 0.0
        self.silent_total = 0

    def seen(self, pipeline: DeviceLookup, batch: list[tuple[str, bytes, float]]) -> list[Outgoing]:
        """Note the batch's messages (device, payload, arrival time); the ``recovered`` messages among them.

        Each device's last message of the batch is what counts: the gap to it from the device's previous
        message spans the batch, a little longer than the pause before the batch's first message, which errs
        towards a longer timeout; and a batch costs one dictionary store per message, not a call."""
        latest = {device: arrival_time for device, _, arrival_time in batch}
        devices = pipeline.devices
        out = []
        for device, arrival_time in latest.items():
            dev = devices.get(device) or pipeline.device(device)
            event = dev.silence.seen(device, arrival_time)
            if event is not None:
                out.append(self._message(event))
        return out

    def check(self, pipeline: Devices, now: float) -> list[Outgoing]:
        """The devices that fell silent by wall-clock ``now`` (at most every ``check_interval_s``)."""
        if now < self._next_check:
            return []
        self._next_check = now + self.config.check_interval_s
        out = []
        for name, dev in pipeline.devices.items():
            event = dev.silence.check(name, now, self.config)
            if event is not None:
                self.silent_total += 1
                out.append(self._message(event))
        return out

    def silent_devices(self, pipeline: Devices) -> int:
        return sum(dev.silence.silent for dev in pipeline.devices.values())

    @staticmethod
    def _message(event: DeviceSilence) -> Outgoing:
        if event.state == "silent":
            log.warning(
                "device %s silent: nothing for %.0f s (timeout %.0f s)",
                event.device,
                event.ts - event.last_seen,
                event.timeout_s or 0,
            )
        else:
            log.warning("device %s sends again after %.0f s", event.device, event.ts - event.last_seen)
        payload = json.dumps(event.to_json(), allow_nan=False).encode("utf-8")
        return Outgoing(device_topic(event.device, "silence"), payload)
