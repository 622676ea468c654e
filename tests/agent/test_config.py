"""Agent configuration: strict types, errors naming the dotted field, overrides, redaction."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from edgewatch.agent.config import (
    PASSWORD_ENV,
    AgentConfig,
    config_from_dict,
    load_config,
    merge_overrides,
)
from edgewatch.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    d = tmp_path / "bundle"
    d.mkdir()
    (d / "manifest.json").write_text("{}")
    return d


def _load(raw: dict, **kwargs) -> AgentConfig:  # type: ignore[type-arg, no-untyped-def]
    kwargs.setdefault("check_paths", False)
    kwargs.setdefault("env", {})
    return config_from_dict({"bundle": {"path": "/b"}, **raw}, **kwargs)


def _error(raw: dict, **kwargs) -> ConfigError:  # type: ignore[type-arg, no-untyped-def]
    with pytest.raises(ConfigError) as info:
        _load(raw, **kwargs)
    return info.value


def test_defaults() -> None:
    c = _load({"health": {"agent_id": "pi-7"}})
    assert c.runtime.backend == "litert" and c.runtime.threads == 1
    assert c.mqtt.topic == "plant/+/sensors" and c.device_level == 1
    assert (c.mqtt.host, c.mqtt.port, c.mqtt.use_tls) == ("localhost", 1883, False)
    assert c.mqtt.client_id == "edgewatch-pi-7"
    assert c.outbox.max_messages == 10_000
    assert c.outbox.path == "/var/lib/edgewatch/outbox.sqlite3"
    assert c.homeassistant.enabled is False and c.homeassistant.discovery_prefix == "homeassistant"
    assert c.health.thermal_file == "/sys/class/thermal/thermal_zone0/temp"
    assert c.thresholds.warmup > 0 and c.alerts.k <= c.alerts.n


@pytest.mark.parametrize(
    ("raw", "field", "fragment"),
    [
        ({"mqtt": {"prot": 1}}, "mqtt.prot", "unknown key"),
        ({"mqtt": {"tls": {"cafile": "x"}}}, "mqtt.tls.cafile", "unknown key"),
        ({"nonsense": {}}, "nonsense", "unknown key"),
        ({"alerts": {"kk": 3}}, "alerts.kk", "unknown key"),
        ({"mqtt": {"keepalive": "abc"}}, "mqtt.keepalive", "expected an integer 5-3600, got 'abc'"),
        ({"mqtt": {"keepalive": 1}}, "mqtt.keepalive", "expected an integer 5-3600, got 1"),
        ({"runtime": {"threads": 1.5}}, "runtime.threads", "expected an integer 1-64"),
        ({"runtime": {"backend": "tensorflow"}}, "runtime.backend", "one of 'litert', 'onnx'"),
        ({"homeassistant": {"enabled": "yes"}}, "homeassistant.enabled", "expected true or false"),
        ({"health": {"metrics_port": 0}}, "health.metrics_port", "expected an integer 1-65535, got 0"),
        ({"health": {"metrics_port": "abc"}}, "health.metrics_port", "got 'abc'"),
        ({"alerts": {"k": True}}, "alerts.k", "got True"),
        ({"alerts": {"k": 9, "n": 5}}, "alerts.k", ""),
        ({"thresholds": {"rate": 5}}, "thresholds.rate", ""),
        ({"checks": {"min_stuck_run": "30"}}, "checks.min_stuck_run", "expected an integer"),
        ({"max_rate_hz": -1}, "max_rate_hz", ">= 0"),
        ({"mqtt": "localhost"}, "mqtt", "expected a table"),
        ({"mqtt": {"url": "http://broker:1883"}}, "mqtt.url", "mqtt://host[:port]"),
        ({"mqtt": {"url": "mqtt://broker:abc"}}, "mqtt.url", "expected a port 1-65535, got 'abc'"),
        ({"mqtt": {"url": "mqtt://broker:70000"}}, "mqtt.url", "expected a port 1-65535, got '70000'"),
        ({"mqtt": {"url": "mqtt://:1883"}}, "mqtt.url", "host name"),
        ({"mqtt": {"topic": "plant/+/x/+"}}, "mqtt.device_level", "set mqtt.device_level"),
        ({"mqtt": {"topic": "plant/a+/x"}}, "mqtt.topic", "'+' must fill a whole topic level"),
        ({"mqtt": {"topic": "plant/+/x", "device_level": 0}}, "mqtt.device_level", "wildcard level"),
        ({"mqtt": {"tls": {"ca": "/ca.pem"}}}, "mqtt.tls", "mqtts://"),
        ({"mqtt": {"url": "mqtts://b", "tls": {"cert": "/c.pem"}}}, "mqtt.tls.cert", "both cert and key"),
        ({"mqtt": {"password": "pw"}}, "mqtt.password", "mqtt.username"),
        ({"health": {"agent_id": "a/b"}}, "health.agent_id", "must not contain"),
    ],
)
def test_errors_name_the_dotted_field(raw: dict, field: str, fragment: str) -> None:  # type: ignore[type-arg]
    error = _error(raw)
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    assert fragment in str(error)


def test_missing_bundle_section_and_missing_bundle_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^bundle: is required"):
        config_from_dict({}, check_paths=False, env={})
    with pytest.raises(ConfigError, match=r"^bundle\.path: is required"):
        config_from_dict({"bundle": {}}, check_paths=False, env={})
    with pytest.raises(ConfigError) as info:
        config_from_dict({"bundle": {"path": str(tmp_path / "nope")}}, env={})
    assert info.value.field == "bundle.path" and "nope" in str(info.value)


def test_url_with_credentials_is_refused_without_echoing_them() -> None:
    error = _error({"mqtt": {"url": "mqtt://user:s3cret@broker:1883"}})
    assert error.field == "mqtt.url" and "s3cret" not in str(error)


def test_explicit_device_level_with_multi_level_wildcard() -> None:
    c = _load({"mqtt": {"topic": "site/#", "device_level": 2}})
    assert c.device_level == 2


def test_mqtts_default_port_and_tls_files(tmp_path: Path, bundle_dir: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    c = config_from_dict(
        {
            "bundle": {"path": str(bundle_dir)},
            "mqtt": {"url": "mqtts://broker.local", "tls": {"ca": str(ca)}},
        },
        env={},
    )
    assert (c.mqtt.port, c.mqtt.use_tls, c.mqtt.tls.insecure) == (8883, True, False)
    with pytest.raises(ConfigError) as info:
        config_from_dict(
            {"bundle": {"path": str(bundle_dir)}, "mqtt": {"url": "mqtts://b", "tls": {"ca": "/no/ca.pem"}}},
            env={},
        )
    assert info.value.field == "mqtt.tls.ca"


def test_toml_and_yaml_files_with_relative_paths(tmp_path: Path, bundle_dir: Path) -> None:
    (tmp_path / "agent.toml").write_text('[bundle]\npath = "bundle"\n[mqtt]\nurl = "mqtt://b:1884"\n')
    (tmp_path / "agent.yaml").write_text("bundle:\n  path: bundle\nmqtt:\n  url: mqtt://b:1884\n")
    for name in ("agent.toml", "agent.yaml"):
        c = load_config(tmp_path / name, env={})
        assert c.bundle.path == str(bundle_dir) and c.mqtt.port == 1884


def test_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[mqtt\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text("bundle: {path: /b}\nmqtt: {port: abc}\n")
    with pytest.raises(ConfigError, match=r"^mqtt\.port: unknown key"):
        load_config(typo, check_paths=False)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_overrides_beat_the_file_and_are_revalidated() -> None:
    c = _load({"mqtt": {"url": "mqtt://a:1883"}, "runtime": {"threads": 2}})
    d = merge_overrides(c, {"mqtt.url": "mqtt://b:1884", "runtime.threads": None}, check_paths=False)
    assert (d.mqtt.host, d.mqtt.port, d.runtime.threads) == ("b", 1884, 2)
    with pytest.raises(ConfigError, match=r"^runtime\.threads: expected an integer 1-64, got 0"):
        merge_overrides(c, {"runtime.threads": 0}, check_paths=False)
    with pytest.raises(ConfigError, match=r"^runtime\.nope: unknown key"):
        merge_overrides(c, {"runtime.nope": 1}, check_paths=False)


def test_overrides_rederive_defaults_from_the_new_values() -> None:
    c = _load({"mqtt": {"topic": "plant/+/sensors"}, "health": {"agent_id": "a"}, "state_dir": "/s1"})
    assert (c.device_level, c.mqtt.client_id, c.outbox.path) == (1, "edgewatch-a", "/s1/outbox.sqlite3")
    d = merge_overrides(
        c, {"mqtt.topic": "site/x/+/data", "health.agent_id": "b", "state_dir": "/s2"}, check_paths=False
    )
    assert (d.device_level, d.mqtt.client_id, d.outbox.path) == (2, "edgewatch-b", "/s2/outbox.sqlite3")


def test_password_from_env_is_redacted_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    secret = "hunter2-very-secret"
    c = _load({"mqtt": {"username": "edge", "password": "from-file"}}, env={PASSWORD_ENV: secret})
    assert c.mqtt.password is not None and c.mqtt.password.reveal() == secret  # env wins over the file
    caplog.set_level(logging.DEBUG)
    logging.getLogger("edgewatch.test").info("config %s / %r / %s", c, c, c.redacted())
    assert secret not in caplog.text and secret not in repr(c) and secret not in str(c)
    assert c.redacted()["mqtt"]["password"] == "***"
    assert secret not in json.dumps(c.redacted())
    # a mistyped password is not echoed either
    error = _error({"mqtt": {"username": "u", "password": 123456789}})
    assert error.field == "mqtt.password" and "123456789" not in str(error)


def test_example_config_is_valid(tmp_path: Path, bundle_dir: Path) -> None:
    example = REPO / "deploy" / "edgewatch.example.toml"
    c = load_config(example, env={}, check_paths=False)
    assert c.mqtt.topic == "plant/+/sensors"
    d = merge_overrides(c, {"bundle.path": str(bundle_dir)})  # paths checked once the bundle exists
    assert d.bundle.path == str(bundle_dir)


def test_example_config_documents_every_key() -> None:
    import re

    text = (REPO / "deploy" / "edgewatch.example.toml").read_text()
    config = _load({})

    def leaves(data: dict, prefix: str = "") -> list[str]:  # type: ignore[type-arg]
        out = []
        for key, value in data.items():
            out.extend(leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else [prefix + key])
        return out

    for dotted in leaves(config.to_dict()):
        key = dotted.rsplit(".", 1)[-1]
        assert re.search(rf"^#? ?{key} = ", text, re.MULTILINE), f"{dotted} is not in the example config"


def test_command_line_validate_and_errors(tmp_path: Path, bundle_dir: Path, capsys, monkeypatch) -> None:
    from edgewatch.agent.__main__ import main

    monkeypatch.setenv(PASSWORD_ENV, "do-not-print-me")
    config = tmp_path / "agent.toml"
    config.write_text(f'[bundle]\npath = "{bundle_dir}"\n[mqtt]\nusername = "edge"\n')
    assert main(["--config", str(config), "--validate-config", "--mqtt-url", "mqtts://b:8884"]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out)
    assert shown["mqtt"]["url"] == "mqtts://b:8884" and shown["mqtt"]["password"] == "***"
    assert "do-not-print-me" not in out
    assert main(["--config", str(config), "--validate-config", "--threads", "0"]) == 2
    assert "edgewatch run: error: runtime.threads: expected an integer 1-64, got 0" in capsys.readouterr().err


def test_flags_alone_configure_the_agent(tmp_path: Path, bundle_dir: Path, capsys, monkeypatch) -> None:
    from edgewatch.cli import main

    monkeypatch.chdir(tmp_path)
    args = ["run", "--bundle", str(bundle_dir), "--broker", "mqtt://127.0.0.1:1884", "--topic", "site/+/readings"]
    assert main([*args, "--validate-config"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["mqtt"]["url"] == "mqtt://127.0.0.1:1884" and shown["mqtt"]["topic"] == "site/+/readings"
    assert shown["bundle"]["path"] == str(bundle_dir)
    assert shown["state_dir"] == str(tmp_path / "edgewatch-state")
    assert main(["run", "--broker", "mqtt://127.0.0.1:1884", "--validate-config"]) == 2
    assert "bundle.path: give --bundle" in capsys.readouterr().err
