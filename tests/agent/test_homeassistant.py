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
