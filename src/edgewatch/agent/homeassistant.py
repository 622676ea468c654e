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

Every entity has a stable ``unique_id`` (``edgewatch_<device>_<key>``) and a ``default_entity_id``
(``<component>.edgewatch_<device>_<key>``; Home Assistant 2025.10 retired ``object_id`` for it). Its
availability follows the agent's status topic; ``stopped`` and ``offline`` both mean unavailable.
Device ids are unique per broker (they name the ``edgewatch/<device>/...`` topics), so ids do not
include the agent id and survive moving a machine to another agent.

The agent publishes these when it first sees a device, after every reconnect, and again whenever Home
Assistant announces ``online`` on ``<discovery_prefix>/status`` (its birth message).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from edgewatch import __version__
from edgewatch.transports.topics import device_topic

ORIGIN = {"name": "edgewatch", "sw_version": __version__}
_ACTIVE = "{{ 'ON' if value_json.state in ('raised', 'update') else 'OFF' }}"
_FAULT = "{{ 'ON' if value_json.state == 'active' else 'OFF' }}"
_ERROR_ATTRIBUTES = "{{ {'message': value_json.message, 'field': value_json.field} | tojson }}"
_FAULT_ATTRIBUTES = "{{ {'kind': value_json.kind, 'sensors': value_json.sensors} | tojson }}"
_AVAILABLE = "{{ 'online' if value == 'online' else 'offline' }}"
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
    return f"{cleaned}_{hashlib.sha1(device.encode('utf-8')).hexdigest()[:6]}"


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
) -> list[tuple[str, bytes]]:
    """The retained discovery configs for one machine, as ``(topic, JSON payload)`` pairs."""
    node = f"edgewatch_{slug(device)}"
    device_info: dict[str, Any] = {
        "identifiers": [node],
        "name": device,
        "manufacturer": "edgewatch",
        "model": f"anomaly detector {model_id}".strip(),
        "sw_version": __version__,
    }
    common = {
        "availability_topic": agent_status_topic,
        "availability_template": _AVAILABLE,
        "device": device_info,
        "origin": ORIGIN,
        "qos": 1,
    }
    messages = []
    for component, key, specific in _entities(device, score_stream):
        object_id = f"{node}_{key}"
        payload = {**specific, "unique_id": object_id, "default_entity_id": f"{component}.{object_id}", **common}
        topic = f"{discovery_prefix}/{component}/{node}/{key}/config"
        messages.append((topic, json.dumps(payload, sort_keys=True).encode("utf-8")))
    return messages


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
