"""Home Assistant discovery payloads: shape, ids, availability, retired keys absent."""

from __future__ import annotations

import json

from edgewatch.agent.homeassistant import discovery_messages, slug, status_topic


def _configs(device: str = "pump-1", **kwargs) -> dict[str, dict]:  # type: ignore[type-arg, no-untyped-def]
    messages = discovery_messages(device, agent_status_topic="edgewatch/pi-7/status", **kwargs)
    return {topic: json.loads(payload) for topic, payload in messages}


def test_one_device_with_problem_binary_sensor_score_and_diagnostics() -> None:
    configs = _configs("pump1", model_id="dense-ae-12345678")
    assert set(configs) == {
        "homeassistant/binary_sensor/edgewatch_pump1/anomaly/config",
        "homeassistant/sensor/edgewatch_pump1/anomaly_score/config",
        "homeassistant/sensor/edgewatch_pump1/threshold/config",
        "homeassistant/sensor/edgewatch_pump1/last_error/config",
        "homeassistant/binary_sensor/edgewatch_pump1/sensor_fault/config",
    }
    anomaly = configs["homeassistant/binary_sensor/edgewatch_pump1/anomaly/config"]
    assert anomaly["device_class"] == "problem"
    assert anomaly["state_topic"] == "edgewatch/pump1/alert"
    assert "value_json.state" in anomaly["value_template"]
    assert anomaly["json_attributes_topic"] == "edgewatch/pump1/alert"
    for key in ("score", "threshold", "severity", "top_features"):
        assert key in anomaly["json_attributes_template"]
    assert anomaly["unique_id"] == "edgewatch_pump1_anomaly"
    assert anomaly["default_entity_id"] == "binary_sensor.edgewatch_pump1_anomaly"
    score = configs["homeassistant/sensor/edgewatch_pump1/anomaly_score/config"]
    assert score["state_class"] == "measurement" and "entity_category" not in score
    for key in ("threshold", "last_error", "sensor_fault"):
        entity = next(c for t, c in configs.items() if f"/{key}/" in t)
        assert entity["entity_category"] == "diagnostic"
    devices = {json.dumps(c["device"], sort_keys=True) for c in configs.values()}
    assert len(devices) == 1  # one HA device per machine
    device = configs["homeassistant/sensor/edgewatch_pump1/threshold/config"]["device"]
    assert device["identifiers"] == ["edgewatch_pump1"] and device["name"] == "pump1"
    assert "dense-ae-12345678" in device["model"]


def test_every_entity_uses_default_entity_id_never_object_id_and_agent_availability() -> None:
    configs = _configs()
    unique_ids = [c["unique_id"] for c in configs.values()]
    assert len(set(unique_ids)) == len(unique_ids)
    for topic, config in configs.items():
        component = topic.split("/")[1]
        assert "object_id" not in config
        assert config["default_entity_id"] == f"{component}.{config['unique_id']}"
        assert config["availability_topic"] == "edgewatch/pi-7/status"
        assert "online" in config["availability_template"]
        assert config["origin"]["name"] == "edgewatch"
        assert topic.endswith("/config")


def test_score_sensor_follows_the_score_stream_when_enabled() -> None:
    off = _configs("m")["homeassistant/sensor/edgewatch_m/anomaly_score/config"]
    on = _configs("m", score_stream=True)["homeassistant/sensor/edgewatch_m/anomaly_score/config"]
    assert off["state_topic"] == "edgewatch/m/alert"
    assert on["state_topic"] == "edgewatch/m/score"


def test_custom_prefix_and_slugs() -> None:
    configs = _configs("Pump 1", discovery_prefix="ha")
    assert all(t.startswith("ha/") for t in configs)
    assert status_topic("ha") == "ha/status"
    assert slug("pump_1") == "pump_1"
    assert slug("Pump-1") != slug("pump_1") and slug("Pump-1").startswith("pump_1_")
    assert slug("???").startswith("device")


# The options Home Assistant documents for MQTT discovery (home-assistant.io/integrations/<platform>.mqtt/):
# every key a payload holds must be one of its platform's, and the required ones must be there.
COMMON = {
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "default_entity_id",
    "device",
    "enabled_by_default",
    "encoding",
    "entity_category",
    "entity_picture",
    "icon",
    "json_attributes_template",
    "json_attributes_topic",
    "name",
    "origin",
    "payload_available",
    "payload_not_available",
    "platform",
    "qos",
    "unique_id",
}
PLATFORMS = {
    "binary_sensor": (
        {"state_topic"},
        {
            "device_class",
            "expire_after",
            "force_update",
            "off_delay",
            "payload_off",
            "payload_on",
            "state_topic",
            "value_template",
        },
    ),
    "sensor": (
        {"state_topic"},
        {
            "device_class",
            "expire_after",
            "force_update",
            "last_reset_value_template",
            "options",
            "state_class",
            "state_topic",
            "suggested_display_precision",
            "unit_of_measurement",
            "value_template",
        },
    ),
    "switch": (
        {"command_topic"},
        {
            "command_template",
            "command_topic",
            "device_class",
            "optimistic",
            "payload_off",
            "payload_on",
            "retain",
            "state_off",
            "state_on",
            "state_topic",
            "value_template",
        },
    ),
    "button": ({"command_topic"}, {"command_template", "command_topic", "device_class", "payload_press", "retain"}),
    "number": (
        {"command_topic"},
        {
            "command_template",
            "command_topic",
            "device_class",
            "max",
            "min",
            "mode",
            "optimistic",
            "payload_reset",
            "retain",
            "state_topic",
            "step",
            "unit_of_measurement",
            "value_template",
        },
    ),
}
DEVICE = {
    "configuration_url",
    "connections",
    "hw_version",
    "identifiers",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "serial_number",
    "suggested_area",
    "sw_version",
    "via_device",
}
ENTITY_CATEGORIES = {"config", "diagnostic"}
DEVICE_CLASSES = {"binary_sensor": {"problem", "connectivity"}, "sensor": {"duration"}}


def _check_schema(topic: str, config: dict) -> None:  # type: ignore[type-arg]
    import re

    _prefix, component, node, key, tail = topic.split("/")
    assert tail == "config" and re.fullmatch(r"[a-zA-Z0-9_-]+", node) and re.fullmatch(r"[a-zA-Z0-9_-]+", key)
    required, options = PLATFORMS[component]
    assert required <= set(config), (topic, required - set(config))
    assert set(config) <= COMMON | options, (topic, set(config) - COMMON - options)
    assert set(config["device"]) <= DEVICE and config["device"]["identifiers"]
    assert config.get("entity_category", "config") in ENTITY_CATEGORIES
    if "device_class" in config:
        assert config["device_class"] in DEVICE_CLASSES[component], topic
    for name in ("state_topic", "command_topic", "json_attributes_topic", "availability_topic"):
        if name in config:
            assert "+" not in config[name] and "#" not in config[name]


def test_every_payload_holds_only_documented_options_of_its_platform() -> None:
    from edgewatch.agent.homeassistant import agent_discovery_messages
    from edgewatch.core.operator import ControlsConfig

    machine = discovery_messages(
        "pump-1", agent_status_topic="edgewatch/pi-7/status", agent_id="pi-7", silence=True, controls=ControlsConfig()
    )
    agent = agent_discovery_messages("pi-7", model_id="dense-ae-1")
    components = set()
    for topic, payload in machine + agent:
        config = json.loads(payload)
        _check_schema(topic, config)
        components.add(topic.split("/")[1])
    assert components == set(PLATFORMS)


def test_machines_link_to_the_agent_device_and_controls_use_the_agents_topics() -> None:
    from edgewatch.agent.controls import command_topics
    from edgewatch.agent.homeassistant import agent_discovery_messages
    from edgewatch.core.operator import ControlsConfig
    from edgewatch.transports.topics import topic_matches

    agent = {t: json.loads(p) for t, p in agent_discovery_messages("pi-7")}
    agent_ids = {tuple(c["device"]["identifiers"]) for c in agent.values()}
    assert len(agent_ids) == 1
    status = next(c for t, c in agent.items() if t.endswith("/status/config"))
    assert status["state_topic"] == "edgewatch/pi-7/status" and status["device_class"] == "connectivity"
    assert {t.split("/")[3] for t in agent} == {"status", "outbox_depth", "latency_p99", "model"}
    controls = ControlsConfig(sensitivity_min=0.8, sensitivity_max=1.5)
    configs = _configs("pump-1", agent_id="pi-7", silence=True, controls=controls)
    for config in configs.values():
        assert config["device"]["via_device"] == next(iter(agent_ids))[0]
    switch = next(c for t, c in configs.items() if "/switch/" in t)
    number = next(c for t, c in configs.items() if "/number/" in t)
    button = next(c for t, c in configs.items() if "/button/" in t)
    for entity in (switch, number, button):
        assert any(topic_matches(f, entity["command_topic"]) for f in command_topics())
    assert switch["state_topic"] == "edgewatch/pump-1/maintenance/state"
    assert (number["min"], number["max"]) == (0.8, 1.5)
    silent = next(c for t, c in configs.items() if t.endswith("/silent/config"))
    assert silent["state_topic"] == "edgewatch/pump-1/silence"
