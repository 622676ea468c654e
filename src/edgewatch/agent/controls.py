"""Operator controls over MQTT, the Frigate way: ``edgewatch/<device>/<control>/set`` in,
``edgewatch/<device>/<control>/state`` out (retained).

Controls (:mod:`edgewatch.core.operator` says what each does): ``maintenance`` (``ON``/``OFF``, or
``{"state": "ON", "duration_s": N}``), ``acknowledge`` (``PRESS``, the alert id, or ``{"alert_id", "by"}``) and
``sensitivity`` (a number within ``[controls]`` bounds). A command for a device this agent has never seen is
ignored (several agents may share a broker: the device is another's). An accepted command changes the device's
state (saved with the rest of it, so it survives a restart) and publishes the control's new state, retained,
through the durable outbox; a refused one publishes a ``command_rejected`` message on
``edgewatch/<device>/error`` saying why. A maintenance period with an end is ended by the agent's clock
(:meth:`Controls.expire`), which publishes ``OFF``. Publish commands without the retain flag: a retained
command would be applied again at every reconnect.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import NamedTuple, Protocol

from edgewatch.core.device import DeviceState
from edgewatch.core.operator import CONTROLS, CommandError, CommandRejected, ControlsConfig
from edgewatch.transports.base import InboundMessage
from edgewatch.transports.topics import ROOT, device_topic

log = logging.getLogger("edgewatch.agent")


class Outgoing(NamedTuple):
    """A message the loop publishes: through the durable outbox (``durable``), or directly at QoS 0."""

    topic: str
    payload: bytes
    retain: bool = True
    durable: bool = True


class Devices(Protocol):
    """What the controls need of the pipeline: its devices' states."""

    @property
    def devices(self) -> dict[str, DeviceState]: ...


def command_topics() -> list[str]:
    """The subscriptions: ``edgewatch/+/<control>/set`` for each control."""
    return [f"{ROOT}/+/{control}/set" for control in CONTROLS]


def state_topic(device: str, control: str) -> str:
    return device_topic(device, f"{control}/state")


def command_topic(device: str, control: str) -> str:
    return device_topic(device, f"{control}/set")


class Controls:
    """Commands in, states out (see the module docstring)."""

    def __init__(self, config: ControlsConfig) -> None:
        self.config = config
        self.accepted_total = 0
        self.rejected_total = 0
        self._next_expire = 0.0

    @staticmethod
    def owns(topic: str) -> bool:
        parts = topic.split("/")
        return len(parts) == 4 and parts[0] == ROOT and parts[3] == "set" and parts[2] in CONTROLS

    def handle(self, pipeline: Devices, message: InboundMessage, now: float) -> list[Outgoing]:
        """Apply one command message at wall-clock ``now``."""
        _, device, control, _ = message.topic.split("/")
        dev = pipeline.devices.get(device)
        if dev is None:
            log.debug("command for unknown device %r ignored (another agent's?)", device)
            return []
        try:
            dev.operator.apply(control, message.payload, now, dev.alert.alert_id, self.config)
        except CommandError as exc:
            self.rejected_total += 1
            log.warning("refused %s command for %s: %s", control, device, exc)
            rejected = CommandRejected(device, control, exc.reason, str(exc), now)
            payload = json.dumps(rejected.to_json()).encode("utf-8")
            return [Outgoing(device_topic(device, "error"), payload, retain=False, durable=False)]
        self.accepted_total += 1
        log.info("%s command for %s: %s", control, device, message.payload[:200].decode("utf-8", "replace"))
        return [Outgoing(state_topic(device, control), dev.operator.state_payloads()[control])]

    def expire(self, pipeline: Devices, now: float) -> list[Outgoing]:
        """End maintenance periods whose end has passed (looked at once a second); their ``OFF`` states."""
        if now < self._next_expire:
            return []
        self._next_expire = now + 1.0
        out = []
        for name, dev in pipeline.devices.items():
            if dev.operator.maintenance_until is not None and dev.operator.expire(now):
                log.info("maintenance of %s ended", name)
                out.append(Outgoing(state_topic(name, "maintenance"), b"OFF"))
        return out

    @staticmethod
    def states(pipeline: Devices, names: Iterable[str]) -> list[Outgoing]:
        """Every control's state of the named devices (after a reconnect: a broker may have lost them)."""
        out = []
        for name in names:
            dev = pipeline.devices.get(name)
            if dev is not None:
                out += [Outgoing(state_topic(name, c), p) for c, p in dev.operator.state_payloads().items()]
        return out

    def acknowledged_alert_closed(self, pipeline: Devices, device: str) -> list[Outgoing]:
        """The acknowledge state after the device's alert cleared (empty: nothing acknowledged)."""
        dev = pipeline.devices.get(device)
        if dev is None:
            return []
        return [Outgoing(state_topic(device, "acknowledge"), dev.operator.state_payloads()["acknowledge"])]
