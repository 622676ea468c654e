"""The agent's configuration: strict, typed, from TOML or YAML, with errors that name the dotted field.

``load_config(path)`` reads ``*.toml`` (``tomllib``) or ``*.yaml``/``*.yml`` (``yaml.safe_load``); an
unknown key, a wrong type, a bad URL or port, or a missing bundle raises :class:`ConfigError` naming the
field, e.g. ``mqtt.port: expected an integer 1-65535, got 'abc'``. Command-line flags override the file
through :func:`merge_overrides` (dotted keys, ``None`` values ignored). Relative paths in a file are
relative to the file's directory. See ``deploy/edgewatch.example.toml`` for every key with its default.

Secrets: ``mqtt.password`` (or the environment variable ``EDGEWATCH_MQTT_PASSWORD``, which wins when set)
is held as a :class:`Secret` whose ``repr`` is ``***``; :meth:`AgentConfig.redacted` is the view to log.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from edgewatch.core.alerts import AlertConfig
from edgewatch.core.assembly import PerSensorConfig
from edgewatch.core.checks import CheckConfig
from edgewatch.core.config import PipelineConfig
from edgewatch.core.mapping import PayloadMapping
from edgewatch.core.operator import ControlsConfig
from edgewatch.core.silence import SilenceConfig
from edgewatch.core.thresholds import ThresholdConfig
from edgewatch.errors import ConfigError
from edgewatch.records import Secret, check, dump, load
from edgewatch.transports.topics import validate_filter, validate_topic

PASSWORD_ENV = "EDGEWATCH_MQTT_PASSWORD"
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


def _positive(v: float) -> bool:
    return v > 0


@dataclass(frozen=True)
class BundleSection:
    path: str


@dataclass(frozen=True)
class RuntimeSection:
    backend: Literal["litert", "onnx"] = "litert"
    threads: int = field(default=1, metadata=check(lambda v: 1 <= v <= 64, "an integer 1-64"))
    artifact: str | None = None  # None: the manifest's default artifact for the backend


@dataclass(frozen=True)
class TlsSection:
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False  # True skips the hostname check (not the chain); never the default


@dataclass(frozen=True)
class MqttSection:
    url: str = "mqtt://localhost:1883"
    topic: str = "plant/+/sensors"
    device_level: int | None = None  # None: the level of the single '+' in topic
    client_id: str = ""  # "": edgewatch-<agent_id>
    # a dead link (e.g. a network black hole) is noticed within 2 x keepalive
    keepalive: int = field(default=15, metadata=check(lambda v: 5 <= v <= 3600, "an integer 5-3600"))
    # MQTT 5 carries a broker's refusal (e.g. an ACL denial) in the PUBACK; 3.1.1 acknowledges it as delivered
    protocol: Literal["3.1.1", "5"] = "5"
    reconnect_min_s: int = field(default=1, metadata=check(lambda v: 1 <= v <= 3600, "an integer 1-3600"))
    reconnect_max_s: int = field(default=5, metadata=check(lambda v: 1 <= v <= 3600, "an integer 1-3600"))
    # keep the session (subscription and queued QoS 1 readings) across disconnects and restarts
    persistent_session: bool = False
    session_expiry_s: int = field(default=86400, metadata=check(lambda v: 60 <= v <= 4294967295, "an integer >= 60"))
    broker_stats: bool = True  # read the broker's dropped-message counter ($SYS) into the stats
    username: str | None = None
    password: Secret | None = None
    tls: TlsSection = field(default_factory=TlsSection)
    qos: int = field(default=0, metadata=check(lambda v: v in (0, 1), "0 or 1"))  # for the readings
    max_payload_bytes: int = field(default=16384, metadata=check(lambda v: 64 <= v <= 1 << 20, "an integer 64-1048576"))
    payload: PayloadMapping | None = None  # None: the standard shapes (core/payload.py); see core/mapping.py
    per_sensor: PerSensorConfig | None = None  # one topic per sensor (core/assembly.py); None: one per reading

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or DEFAULT_PORTS[self.scheme]

    @property
    def use_tls(self) -> bool:
        return self.scheme == "mqtts"


@dataclass(frozen=True)
class OutboxSection:
    path: str = ""  # "": <state_dir>/outbox.sqlite3
    max_messages: int = field(default=10_000, metadata=check(lambda v: v >= 10, "an integer >= 10"))
    synchronous: Literal["normal", "full"] = "normal"


@dataclass(frozen=True)
class HealthSection:
    agent_id: str = ""  # "": the host name
    stats_interval_s: float = field(default=60.0, metadata=check(lambda v: v >= 1, "a number >= 1"))
    thermal_file: str = "/sys/class/thermal/thermal_zone0/temp"
    thermal_limit_c: float = 75.0
    thermal_hysteresis_c: float = field(default=5.0, metadata=check(lambda v: v >= 0, "a number >= 0"))
    thermal_rate_hz: float = field(default=1.0, metadata=check(_positive, "a number > 0"))
    metrics_port: int | None = field(default=None, metadata=check(lambda v: 1 <= v <= 65535, "an integer 1-65535"))
    metrics_host: str = "127.0.0.1"
    score_stream: bool = False
    score_every_n: int = field(default=10, metadata=check(lambda v: v >= 1, "an integer >= 1"))


@dataclass(frozen=True)
class HomeAssistantSection:
    enabled: bool = False
    discovery_prefix: str = "homeassistant"


@dataclass(frozen=True)
class UpdateSection:
    """Model updates (:mod:`edgewatch.agent.update`): who may sign bundles, how a new one is tried."""

    trusted_keys: tuple[str, ...] = ()  # PEM public keys; with any, every bundle must be signed by one of them
    store_dir: str = ""  # "": <state_dir>/bundles (the active and previous bundles)
    listen: bool = True  # accept bundles and commands on edgewatch/<agent-id>/update/{bundle,command}
    shadow_readings: int = field(default=1000, metadata=check(lambda v: v >= 1, "an integer >= 1"))
    shadow_timeout_s: float = field(default=3600.0, metadata=check(_positive, "a number > 0"))
    # swap only if the new model's share of anomalous readings in shadow is at most the live one's plus this
    max_rate_increase: float = field(default=0.01, metadata=check(lambda v: 0 <= v <= 1, "a number 0-1"))
    max_bundle_bytes: int = field(default=4 << 20, metadata=check(lambda v: v >= 1024, "an integer >= 1024"))
    transfer_timeout_s: float = field(default=60.0, metadata=check(_positive, "a number > 0"))


@dataclass(frozen=True)
class AgentConfig:
    """Everything ``edgewatch run`` needs. Construct with :func:`load_config` / :func:`config_from_dict`."""

    bundle: BundleSection
    runtime: RuntimeSection = field(default_factory=RuntimeSection)
    mqtt: MqttSection = field(default_factory=MqttSection)
    thresholds: ThresholdConfig = field(default_factory=ThresholdConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    checks: CheckConfig = field(default_factory=CheckConfig)
    outbox: OutboxSection = field(default_factory=OutboxSection)
    health: HealthSection = field(default_factory=HealthSection)
    homeassistant: HomeAssistantSection = field(default_factory=HomeAssistantSection)
    silence: SilenceConfig = field(default_factory=SilenceConfig)
    controls: ControlsConfig = field(default_factory=ControlsConfig)
    update: UpdateSection = field(default_factory=UpdateSection)
    max_rate_hz: float = field(default=0.0, metadata=check(lambda v: v >= 0, "a number >= 0 (0: no limit)"))
    # readings of devices beyond the first max_devices are ignored (a topic-spraying client must not exhaust memory)
    max_devices: int = field(default=1000, metadata=check(lambda v: v >= 1, "an integer >= 1"))
    # the MQTT network thread pauses this long after each read, so that readings are scored in larger batches:
    # much less CPU per reading, up to this much more latency (docs/benchmarks.md)
    batch_wait_ms: float = field(default=2.0, metadata=check(lambda v: 0 <= v <= 100, "a number 0-100"))
    state_dir: str = "/var/lib/edgewatch"
    state_save_interval_s: float = field(default=300.0, metadata=check(lambda v: v >= 1, "a number >= 1"))
    # What this config was built from (before derived defaults), so overrides re-derive them.
    _source: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _base_dir: Path | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def pipeline(self) -> PipelineConfig:
        """The ``[thresholds]``, ``[alerts]`` and ``[checks]`` sections: how readings are judged."""
        return PipelineConfig(self.thresholds, self.alerts, self.checks)

    @property
    def device_level(self) -> int:
        """Index of the topic level that names the device (resolved; never None after validation)."""
        assert self.mqtt.device_level is not None
        return self.mqtt.device_level

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain data (the password still a :class:`Secret`)."""
        data: dict[str, Any] = dump(self)
        return data

    def redacted(self) -> dict[str, Any]:
        """The configuration as plain data with the password replaced by ``"***"``: safe to log."""
        data = self.to_dict()
        if data["mqtt"].get("password") is not None:
            data["mqtt"]["password"] = "***"
        return data


def load_config(
    path: str | os.PathLike[str],
    *,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    check_paths: bool = True,
) -> AgentConfig:
    """Read, merge ``overrides`` into, and validate a TOML or YAML configuration file."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {source}: {exc.strerror}") from None
    raw: Any
    if source.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    else:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a table of sections")
    return config_from_dict(
        raw, overrides=overrides, env=env, base_dir=source.resolve().parent, check_paths=check_paths
    )


def load_pipeline_config(path: str | os.PathLike[str] | None) -> PipelineConfig:
    """The pipeline config of an agent configuration file (the shipped defaults without one), for
    ``edgewatch replay`` and ``evaluate``: the file may leave out ``[bundle]`` (the bundle comes from the
    command line), and every section is still validated."""
    if not path:
        return PipelineConfig()
    return load_config(path, overrides={"bundle.path": "(from the command line)"}, check_paths=False).pipeline


def config_from_dict(
    raw: Mapping[str, Any],
    *,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    check_paths: bool = True,
) -> AgentConfig:
    """Validate parsed configuration data (``overrides`` applied first; see :func:`merge_overrides`)."""
    data = _apply_overrides(dict(raw), overrides or {})
    env = os.environ if env is None else env
    if env.get(PASSWORD_ENV):
        mqtt = data.get("mqtt") or {}
        if isinstance(mqtt, Mapping):  # anything else fails validation below, naming "mqtt"
            data["mqtt"] = {**mqtt, "password": Secret(env[PASSWORD_ENV])}
    config = load(AgentConfig, data)
    config = _resolve(config, base_dir)
    _validate(config, check_paths)
    object.__setattr__(config, "_source", data)
    object.__setattr__(config, "_base_dir", base_dir)
    return config


def merge_overrides(config: AgentConfig, overrides: Mapping[str, Any], *, check_paths: bool = True) -> AgentConfig:
    """A new, re-validated config with ``overrides`` (``{"mqtt.url": ..., "runtime.threads": 2}``) applied.

    Keys are dotted paths; ``None`` values are skipped, so unset command-line flags can be passed as-is.
    Derived defaults (device level, client id, outbox path) follow the overridden values.
    """
    source = config._source or config.to_dict()
    return config_from_dict(source, overrides=overrides, env={}, base_dir=config._base_dir, check_paths=check_paths)


def _apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    for dotted, value in overrides.items():
        if value is None:
            continue
        parts = dotted.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = {}
            elif not isinstance(child, Mapping):
                raise ConfigError("is not a table", field=".".join(parts[: i + 1]))
            node[part] = child = dict(child)
            node = child
        node[parts[-1]] = value
    return data


def _resolve(config: AgentConfig, base_dir: Path | None) -> AgentConfig:
    """Fill derived defaults and make relative paths relative to the configuration file's directory."""

    def at(p: str | None) -> str | None:
        if not p or base_dir is None or os.path.isabs(p):
            return p
        return str(base_dir / p)

    health = config.health
    if not health.agent_id:
        health = dataclasses.replace(health, agent_id=_host_id())
    state_dir = at(config.state_dir) or config.state_dir
    mqtt = config.mqtt
    tls = dataclasses.replace(mqtt.tls, ca=at(mqtt.tls.ca), cert=at(mqtt.tls.cert), key=at(mqtt.tls.key))
    mqtt = dataclasses.replace(mqtt, tls=tls, client_id=mqtt.client_id or f"edgewatch-{health.agent_id}")
    if mqtt.device_level is None:
        try:
            levels = validate_filter(mqtt.topic)
        except ValueError:
            levels = []
        wild = [i for i, level in enumerate(levels) if level == "+"]
        if mqtt.per_sensor is not None:  # one '+' is the sensor's: the device's is the other
            wild = [i for i in wild if i != mqtt.per_sensor.sensor_level]
        if len(wild) == 1:
            mqtt = dataclasses.replace(mqtt, device_level=wild[0])
    outbox = config.outbox
    outbox = dataclasses.replace(outbox, path=at(outbox.path) or os.path.join(state_dir, "outbox.sqlite3"))
    update = config.update
    update = dataclasses.replace(
        update,
        trusted_keys=tuple(at(k) or k for k in update.trusted_keys),
        store_dir=at(update.store_dir) or os.path.join(state_dir, "bundles"),
    )
    return dataclasses.replace(
        config,
        bundle=BundleSection(path=at(config.bundle.path) or config.bundle.path),
        update=update,
        mqtt=mqtt,
        outbox=outbox,
        health=health,
        state_dir=state_dir,
    )


def _host_id() -> str:
    name = socket.gethostname().split(".")[0] or "edgewatch"
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if "@" in parts.netloc:  # never echo: the url may hold a password
        raise ConfigError(
            f"credentials do not belong in the url; use mqtt.username and mqtt.password (or {PASSWORD_ENV})",
            field="mqtt.url",
        )
    if parts.scheme not in DEFAULT_PORTS:
        raise ConfigError(f"expected mqtt://host[:port] or mqtts://host[:port], got {url!r}", field="mqtt.url")
    if not parts.hostname:
        raise ConfigError(f"expected a host name after {parts.scheme}://, got {url!r}", field="mqtt.url")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"expected no path or query after the port, got {url!r}", field="mqtt.url")
    port_text = parts.netloc.rpartition("]")[2].partition(":")[2]
    if ":" in parts.netloc.rpartition("]")[2] and not (port_text.isdigit() and 1 <= int(port_text) <= 65535):
        raise ConfigError(f"expected a port 1-65535, got {port_text!r} in {url!r}", field="mqtt.url")


def _validate(config: AgentConfig, check_paths: bool) -> None:
    mqtt = config.mqtt
    _check_url(mqtt.url)
    try:
        levels = validate_filter(mqtt.topic)
    except ValueError as exc:
        raise ConfigError(f"{exc}, got {mqtt.topic!r}", field="mqtt.topic") from None
    level = mqtt.device_level
    sensors = mqtt.per_sensor
    if sensors is not None:
        sensor_level = sensors.sensor_level
        if sensor_level >= len(levels) or levels[sensor_level] != "+" or sensor_level == level:
            raise ConfigError(
                f"expected the index of a '+' level of {mqtt.topic!r} other than the device's, got {sensor_level}",
                field="mqtt.per_sensor.sensor_level",
            )
        if mqtt.payload is not None:
            raise ConfigError("one topic per sensor takes no [mqtt.payload] mapping", field="mqtt.per_sensor")
    if level is None:
        raise ConfigError(
            f"cannot tell which level of {mqtt.topic!r} names the device (it needs exactly one '+'); "
            "set mqtt.device_level",
            field="mqtt.device_level",
        )
    wildcard = (level < len(levels) and levels[level] == "+") or ("#" in levels and level >= levels.index("#"))
    if level < 0 or not wildcard:
        raise ConfigError(
            f"expected the index of a wildcard level of {mqtt.topic!r}, got {level}",
            field="mqtt.device_level",
        )
    if mqtt.reconnect_min_s > mqtt.reconnect_max_s:
        raise ConfigError(
            f"must be at least reconnect_min_s ({mqtt.reconnect_min_s}), got {mqtt.reconnect_max_s}",
            field="mqtt.reconnect_max_s",
        )
    if mqtt.persistent_session and mqtt.qos != 1:
        raise ConfigError(
            "a persistent session needs qos = 1 (the broker queues only QoS 1 readings for a disconnected agent)",
            field="mqtt.qos",
        )
    if mqtt.password is not None and mqtt.username is None:
        raise ConfigError("a password needs mqtt.username", field="mqtt.password")
    tls = mqtt.tls
    if not mqtt.use_tls and (tls.ca or tls.cert or tls.key or tls.insecure):
        raise ConfigError("TLS options need an mqtts:// url", field="mqtt.tls")
    if bool(tls.cert) != bool(tls.key):
        raise ConfigError("a client certificate needs both cert and key", field="mqtt.tls.cert")
    for name, value in (("health.agent_id", config.health.agent_id), ("mqtt.client_id", mqtt.client_id)):
        if any(c in value for c in "/+#\x00"):
            raise ConfigError(f"must not contain '/', '+', '#', got {value!r}", field=name)
    try:
        validate_topic(config.homeassistant.discovery_prefix)
    except ValueError as exc:
        raise ConfigError(str(exc), field="homeassistant.discovery_prefix") from None
    if check_paths:
        bundle = Path(config.bundle.path)
        if not (bundle / "manifest.json").is_file():
            raise ConfigError(f"no bundle (directory with manifest.json) at {str(bundle)!r}", field="bundle.path")
        for name in ("ca", "cert", "key"):
            value = getattr(tls, name)
            if value is not None and not Path(value).is_file():
                raise ConfigError(f"file not found: {value!r}", field=f"mqtt.tls.{name}")
        from edgewatch.bundle.signing import load_public_keys

        load_public_keys(config.update.trusted_keys)
