"""``edgewatch run``: the device agent's command line (``add_arguments``, ``run``).

``edgewatch.commands.run`` re-exports these; ``python -m edgewatch.agent`` runs them directly.
Flags override the configuration file; ``--validate-config`` prints the effective configuration
(password redacted) and exits.
"""

from __future__ import annotations

import argparse
import json
import os

from edgewatch.agent.config import config_from_dict, load_config
from edgewatch.errors import ConfigError

#: flag dest -> dotted configuration key
FLAG_KEYS = {
    "bundle": "bundle.path",
    "runtime": "runtime.backend",
    "threads": "runtime.threads",
    "mqtt_url": "mqtt.url",
    "topic": "mqtt.topic",
    "agent_id": "health.agent_id",
    "state_dir": "state_dir",
    "metrics_port": "health.metrics_port",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", "-c", help="agent configuration file (.toml or .yaml); without it, flags alone configure the agent"
    )
    parser.add_argument("--bundle", help="model bundle directory (bundle.path)")
    parser.add_argument("--runtime", choices=("litert", "onnx"), help="inference runtime (runtime.backend)")
    parser.add_argument("--threads", type=int, help="runtime threads (runtime.threads)")
    parser.add_argument(
        "--broker", "--mqtt-url", dest="mqtt_url", help="mqtt://host:port or mqtts://host:port (mqtt.url)"
    )
    parser.add_argument("--topic", help="readings topic filter, e.g. plant/+/sensors (mqtt.topic)")
    parser.add_argument("--agent-id", help="this agent's id in edgewatch/<id>/status (health.agent_id)")
    parser.add_argument("--state-dir", help="directory for the outbox and saved state (state_dir)")
    parser.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    parser.add_argument(
        "--validate-config", action="store_true", help="check the configuration, print it redacted, and exit"
    )


PATH_FLAGS = ("bundle", "state_dir")


def overrides_from_args(args: argparse.Namespace) -> dict[str, object]:
    """Dotted-key overrides for the flags that were given (paths made absolute: relative to the cwd)."""
    overrides: dict[str, object] = {}
    for dest, key in FLAG_KEYS.items():
        value = getattr(args, dest, None)
        if value is not None and dest in PATH_FLAGS:
            value = os.path.abspath(value)
        overrides[key] = value
    return overrides


FLAGS_ONLY_STATE_DIR = "edgewatch-state"  # without a config file: state next to where the agent was started


def run(args: argparse.Namespace) -> int:
    overrides = overrides_from_args(args)
    if args.config:
        config = load_config(args.config, overrides=overrides)
    else:
        if args.bundle is None:
            raise ConfigError("give --bundle (or a --config file with [bundle] path)", field="bundle.path")
        if overrides.get("state_dir") is None:
            overrides["state_dir"] = os.path.abspath(FLAGS_ONLY_STATE_DIR)
        config = config_from_dict({}, overrides=overrides)
    if args.validate_config:
        if config.mqtt.payload is not None:  # the mapping against the bundle's features, as the agent's start does
            from edgewatch.bundle import load_bundle
            from edgewatch.core.mapping import compile_mapping

            compile_mapping(config.mqtt.payload, load_bundle(config.bundle.path).manifest.features)
        print(json.dumps(config.redacted(), indent=2))
        return 0
    from edgewatch.agent.memory import limit_malloc_arenas
    from edgewatch.agent.service import run_agent

    limit_malloc_arenas()  # before any thread starts (agent/memory.py)
    return run_agent(config)
