"""Home Assistant MQTT discovery (opt-in): one HA device per monitored machine.

:func:`discovery_messages` returns ``(topic, payload)`` pairs, to publish **retained** (QoS 1) on
``<discovery_prefix>/<component>/edgewatch_<device>/<key>/config``:

* ``binary_sensor`` *Anomaly* -- ``device_class: problem``; ON while an alert is raised (state from
  ``edgewatch/<device>/alert`` through a ``value_template``), attributes: score, threshold, severity,
  top features, alert id;
* ``sensor`` *Anomaly score* -- from ``edgewatch/<device>/score`` when the score stream is on, else the
  score carried by the latest alert message;
* diagnostic entities (``entity_category: diagnostic``): *Threshold*, *Last input error* (reason, with
  message and field as attributes) and *Sensor fault* (a ``problem`` binary sensor).
* ``binary_sensor`` *Silent* (``problem``) from ``edgewatch/<device>/silence``, when silence is watched;
* with operator controls: ``switch`` *Maintenance*, ``button`` *Acknowledge alert* and ``number``
  *Sensitivity* (``entity_category: config``) on ``edgewatch/<device>/<control>/set`` and ``.../state``.

The agent is a device of its own (:func:`agent_discovery_messages`): *Status* (connectivity), *Outbox
depth*, *Latency p99* and *Model* from its stats; each machine names it in ``via_device``.

**Single-component discovery** (one config topic per entity), not the device-based form of Home Assistant
2024.12: machines appear one at a time as their first readings arrive, and the controls and the silence
sensor come and go with the agent's configuration; one topic per entity adds or removes one entity without
re-sending a device's whole component list, and it works on Home Assistant versions older than 2024.12 too.
The payloads are checked against the documented
options of each platform (``tests/agent/test_homeassistant.py``).

Every entity has a stable ``unique_id`` (``edgewatch_<device>_<key>``) and a ``default_entity_id``
(``<component>.edgewatch_<device>_<key>``; Home Assistant 2025.10 retired ``object_id`` for it). Its
availability follows the agent's status topic; ``stopped`` and ``offline`` both mean unavailable.
Device ids are unique per broker (they name the ``edgewatch/<device>/...`` topics), so ids do not
include the agent id and survive moving a machine to another agent.

The agent publishes these when it first sees a device, after every reconnect, and again whenever Home
Assistant announces ``online`` on ``<discovery_prefix>/status`` (its birth message).
"""

from __future__ import annotations

import json
import re
from typing import Any

from edgewatch import __version__
from edgewatch.agent.controls import command_topic, state_topic
from edgewatch.bundle import digests  # not hashlib: no OpenSSL libcrypto on the edge (digests.py)
from edgewatch.core.operator import ControlsConfig
from edgewatch.transports.topics import agent_topic, device_topic

ORIGIN = {"name": "edgewatch", "sw_version": __version__}
_ACTIVE = "{{ 'ON' if value_json.state in ('raised', 'update') else 'OFF' }}"
_FAULT = "{{ 'ON' if value_json.state == 'active' else 'OFF' }}"
_ERROR_ATTRIBUTES = "{{ {'message': value_json.message, 'field': value_json.field} | tojson }}"
_FAULT_ATTRIBUTES = "{{ {'kind': value_json.kind, 'sensors': value_json.sensors} | tojson }}"
_AVAILABLE = "{{ 'online' if value == 'online' else 'offline' }}"
_CONNECTED = "{{ 'ON' if value == 'online' else 'OFF' }}"
_SILENT = "{{ 'ON' if value_json.state == 'silent' else 'OFF' }}"
_SILENT_ATTRIBUTES = "{{ {'last_seen': value_json.last_seen, 'timeout_s': value_json.timeout_s} | tojson }}"
_ALERT_ATTRIBUTES = (
    "{{ {'score': value_json.score, 'threshold': value_json.threshold, 'severity': value_json.severity, "
    "'top_features': value_json.top_features, 'alert_id': value_json.alert_id} | tojson }}"
)


def slug(device: str) -> str:
    """A ``[a-z0-9_]`` form of a device id for entity ids; distinct device ids give distinct slugs.

    An id that is already a clean slug is kept; any other gets 6 hex digits of its sha1 appended
    (``Pump-1`` -> ``pump_1_8b1c2e``) so that ``Pump-1`` and ``pump_1`` do not collide.
    """
    cleaned = re.sub(r"[^a-z0-9]+", "_", device.lower()).strip("_") or "device"
    if cleaned == device:
        return cleaned
    return f"{cleaned}_{digests.sha1(device.encode('utf-8')).hexdigest()[:6]}"


def status_topic(discovery_prefix: str) -> str:
    """Where Home Assistant publishes ``online`` when it (re)starts."""
    return f"{discovery_prefix}/status"


def discovery_messages(
    device: str,
    *,
    agent_status_topic: str,
    discovery_prefix: str = "homeassistant",
    score_stream: bool = False,
    model_id: str = "",
    agent_id: str = "",
    silence: bool = False,
    controls: ControlsConfig | None = None,
) -> list[tuple[str, bytes]]:
    """The retained discovery configs for one machine, as ``(topic, JSON payload)`` pairs. With ``agent_id``
    the machine links to the agent's own device (``via_device``); ``silence`` adds the *Silent* sensor,
    ``controls`` the *Maintenance* switch, *Acknowledge alert* button and *Sensitivity* number."""
    node = f"edgewatch_{slug(device)}"
    device_info: dict[str, Any] = {
        "identifiers": [node],
        "name": device,
        "manufacturer": "edgewatch",
        "model": f"anomaly detector {model_id}".strip(),
        "sw_version": __version__,
    }
    if agent_id:
        device_info["via_device"] = agent_node(agent_id)
    common = {
        "availability_topic": agent_status_topic,
        "availability_template": _AVAILABLE,
        "device": device_info,
        "origin": ORIGIN,
        "qos": 1,
    }
    entities = _entities(device, score_stream)
    if silence:
        entities.append(("binary_sensor", "silent", _silent(device)))
    if controls is not None:
        entities += _controls(device, controls)
    return _configs(discovery_prefix, node, entities, common)


def _configs(
    prefix: str, node: str, entities: list[tuple[str, str, dict[str, Any]]], common: dict[str, Any]
) -> list[tuple[str, bytes]]:
    messages = []
    for component, key, specific in entities:
        object_id = f"{node}_{key}"
        payload = {**specific, "unique_id": object_id, "default_entity_id": f"{component}.{object_id}", **common}
        topic = f"{prefix}/{component}/{node}/{key}/config"
        messages.append((topic, json.dumps(payload, sort_keys=True).encode("utf-8")))
    return messages


def agent_node(agent_id: str) -> str:
    """The Home Assistant device identifier of the agent itself (machines name it in ``via_device``)."""
    return f"edgewatch_agent_{slug(agent_id)}"


def agent_discovery_messages(
    agent_id: str, *, discovery_prefix: str = "homeassistant", model_id: str = ""
) -> list[tuple[str, bytes]]:
    """The agent as its own Home Assistant device: *Status* (connectivity: ``online`` on its status topic),
    and from its stats JSON *Outbox depth*, *Latency p99* and *Model*."""
    node = agent_node(agent_id)
    status, stats = agent_topic(agent_id, "status"), agent_topic(agent_id, "stats")
    device = {
        "identifiers": [node],
        "name": f"edgewatch agent {agent_id}",
        "manufacturer": "edgewatch",
        "model": "edge agent",
        "sw_version": __version__,
    }
    connectivity = {"name": "Status", "device_class": "connectivity", "state_topic": status}
    connectivity |= {"value_template": _CONNECTED, "entity_category": "diagnostic"}
    outbox = {"name": "Outbox depth", "state_topic": stats, "value_template": "{{ value_json.outbox_depth }}"}
    outbox |= {"state_class": "measurement", "icon": "mdi:tray-full", "entity_category": "diagnostic"}
    latency: dict[str, Any] = {"name": "Latency p99", "state_topic": stats}
    latency |= {"value_template": "{{ value_json.latency_ms_p99 }}"}
    latency |= {"state_class": "measurement", "device_class": "duration", "unit_of_measurement": "ms"}
    latency |= {"entity_category": "diagnostic"}
    model = {"name": "Model", "state_topic": stats, "value_template": "{{ value_json.model_id }}", "icon": "mdi:brain"}
    model |= {"entity_category": "diagnostic"}
    entities = [
        ("binary_sensor", "status", connectivity),
        ("sensor", "outbox_depth", outbox),
        ("sensor", "latency_p99", latency),
        ("sensor", "model", model),
    ]
    return _configs(discovery_prefix, node, entities, {"device": device, "origin": ORIGIN, "qos": 1})


def _silent(device: str) -> dict[str, Any]:
    topic = device_topic(device, "silence")
    silent = {"name": "Silent", "device_class": "problem", "state_topic": topic, "value_template": _SILENT}
    return silent | {"json_attributes_topic": topic, "json_attributes_template": _SILENT_ATTRIBUTES}


def _controls(device: str, config: ControlsConfig) -> list[tuple[str, str, dict[str, Any]]]:
    """The operator controls (agent/controls.py) as a switch, a button and a number."""
    setting = {"entity_category": "config"}
    maintenance = {"name": "Maintenance", "command_topic": command_topic(device, "maintenance")}
    maintenance |= {"state_topic": state_topic(device, "maintenance"), "payload_on": "ON", "payload_off": "OFF"}
    maintenance |= {"icon": "mdi:wrench", **setting}
    acknowledge = {"name": "Acknowledge alert", "command_topic": command_topic(device, "acknowledge")}
    acknowledge |= {"payload_press": "PRESS", "icon": "mdi:check-circle-outline"}
    sensitivity: dict[str, Any] = {"name": "Sensitivity", "command_topic": command_topic(device, "sensitivity")}
    sensitivity |= {"state_topic": state_topic(device, "sensitivity"), "min": config.sensitivity_min}
    sensitivity |= {"max": config.sensitivity_max, "step": 0.05, "mode": "slider", "icon": "mdi:tune", **setting}
    return [
        ("switch", "maintenance", maintenance),
        ("button", "acknowledge", acknowledge),
        ("number", "sensitivity", sensitivity),
    ]


def _entities(device: str, score_stream: bool) -> list[tuple[str, str, dict[str, Any]]]:
    """``(component, key, config)`` of each entity of one machine (see the module docstring)."""
    alert, error, fault = (device_topic(device, kind) for kind in ("alert", "error", "sensor_fault"))
    scores = device_topic(device, "score") if score_stream else alert
    diagnostic = {"entity_category": "diagnostic"}
    anomaly = {"name": "Anomaly", "device_class": "problem", "state_topic": alert, "value_template": _ACTIVE}
    anomaly |= {"json_attributes_topic": alert, "json_attributes_template": _ALERT_ATTRIBUTES}
    score = {"name": "Anomaly score", "state_topic": scores, "value_template": "{{ value_json.score }}"}
    score |= {"state_class": "measurement", "icon": "mdi:chart-bell-curve"}
    threshold = {"name": "Threshold", "state_topic": scores, "value_template": "{{ value_json.threshold }}"}
    threshold |= {"icon": "mdi:gauge", **diagnostic}
    last_error = {"name": "Last input error", "state_topic": error, "value_template": "{{ value_json.reason }}"}
    last_error |= {"json_attributes_topic": error, "json_attributes_template": _ERROR_ATTRIBUTES}
    last_error |= {"icon": "mdi:alert-circle-outline", **diagnostic}
    sensor_fault = {"name": "Sensor fault", "device_class": "problem", "state_topic": fault, "value_template": _FAULT}
    sensor_fault |= {"json_attributes_topic": fault, "json_attributes_template": _FAULT_ATTRIBUTES, **diagnostic}
    return [
        ("binary_sensor", "anomaly", anomaly),
        ("sensor", "anomaly_score", score),
        ("sensor", "threshold", threshold),
        ("sensor", "last_error", last_error),
        ("binary_sensor", "sensor_fault", sensor_fault),
    ]
