"""The agent as its own process: a configuration file written for it, started, stopped.

``write_agent_config`` writes the TOML that ``edgewatch run --config`` reads: the bundle, the broker, the
state directory and any further sections (``{"alerts": {"k": 1}}``; a nested mapping is a nested table, as
``{"mqtt": {"payload": {...}}}``), everything else the shipped default.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def write_agent_config(
    path: Path,
    *,
    bundle: Path,
    url: str,
    state_dir: Path,
    sections: Mapping[str, Mapping[str, Any]] | None = None,
    top_level: Mapping[str, Any] | None = None,
) -> Path:
    """Write an agent configuration to ``path``; ``sections`` adds or overrides keys per section, ``top_level``
    sets keys outside any section (``{"max_devices": 20000}``)."""
    merged: dict[str, dict[str, Any]] = {"bundle": {"path": str(bundle)}, "mqtt": {"url": url}}
    for name, keys in (sections or {}).items():
        merged[name] = {**merged.get(name, {}), **keys}
    lines = [f"state_dir = {_toml(str(state_dir))}"]
    lines += [f"{_key(key)} = {_toml(value)}" for key, value in (top_level or {}).items()]
    for name, keys in merged.items():
        lines += _table(_key(name), keys)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _table(name: str, keys: Mapping[str, Any]) -> list[str]:
    """One TOML table, its nested tables (``[mqtt.payload]``, ``[mqtt.payload.rename]``) after its own keys."""
    lines = [f"[{name}]"]
    lines += [f"{_key(key)} = {_toml(value)}" for key, value in keys.items() if not isinstance(value, Mapping)]
    for key, value in keys.items():
        if isinstance(value, Mapping):
            lines += _table(f"{name}.{_key(key)}", value)
    return lines


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else _toml(key)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def agent_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "edgewatch.cli", "run", "--config", str(config)]


def start_agent(
    config: Path, log: Path, *, cpu: int | None = None, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``edgewatch run --config CONFIG`` in its own process group, its output in ``log``; pinned to ``cpu``
    (right after it started, before it has imported anything) when given; ``env``: its environment (default:
    this process's)."""
    with open(log, "wb") as handle:
        agent = subprocess.Popen(
            agent_command(config),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=None if env is None else dict(env),
        )
    if cpu is not None:
        os.sched_setaffinity(agent.pid, [cpu])
    return agent


def stop_agent(agent: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> int | None:
    """SIGTERM the agent's process group (SIGKILL if it does not exit within ``timeout``); its exit status."""
    if agent is None:
        return None
    if agent.poll() is None:
        try:
            os.killpg(agent.pid, signal.SIGTERM)
            agent.wait(timeout=timeout)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(agent.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            agent.wait(timeout=timeout)
    return agent.returncode
