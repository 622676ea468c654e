"""Watching the agent's output topics and printing alerts as they arrive."""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from typing import Any, TextIO

from edgewatch.rig.clients import Listener

SEVERITY_MARK = {"minor": "!", "major": "!!", "critical": "!!!"}


@dataclass
class Observed:
    """Everything the agent published that the demo saw, in arrival order."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    sensor_faults: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _clock(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%H:%M:%S")


def describe(topic: str, message: dict[str, Any]) -> str | None:
    """One terminal line for an agent message, or None for messages not worth a line."""
    device = topic.split("/")[1] if topic.count("/") >= 2 else "?"
    if topic.endswith("/alert"):
        state = message.get("state", "?")
        if state == "update":
            return None
        top = ", ".join(f"{f['feature']} {f['share']:.0%}" for f in message.get("top_features", [])[:3])
        mark = SEVERITY_MARK.get(message.get("severity", ""), "")
        ratio = message.get("score", 0) / message.get("threshold", 1) if message.get("threshold") else 0
        sustained = message.get("sustained")
        level = sustained / message["sustained_threshold"] if sustained and message.get("sustained_threshold") else 0
        what = f"score {ratio:5.1f}x threshold" if ratio >= level else f"sustained {level:5.1f}x threshold"
        return (
            f"  {_clock(message.get('ts', 0))}  {device:8s} ALERT {state.upper():8s} {message.get('severity', ''):8s}"
            f"{mark:3s} {what}  top: {top}"
        )
    if topic.endswith("/sensor_fault"):
        sensors = ", ".join(message.get("sensors", []))
        return (
            f"  {_clock(message.get('ts', 0))}  {device:8s} SENSOR FAULT {message.get('kind', '?')} "
            f"{message.get('state', '?')}: {sensors}"
        )
    return None


def watch(url: str, observed: Observed, out: TextIO) -> Listener:
    """A listener on the agent's topics that records every message in ``observed`` and prints a line for
    alerts and sensor faults as they arrive."""

    def on_message(topic: str, raw: bytes, _received: float) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            message = {"raw": raw.decode("utf-8", "replace")}
        with observed.lock:
            if topic.endswith("/alert"):
                observed.alerts.append({"device": topic.split("/")[1], **message})
            elif topic.endswith("/sensor_fault"):
                observed.sensor_faults.append({"device": topic.split("/")[1], **message})
            elif topic.endswith("/error"):
                observed.errors.append(message)
            elif topic.endswith("/status"):
                observed.status.append(raw.decode("utf-8", "replace"))
        line = describe(topic, message) if isinstance(message, dict) else None
        if line:
            print(line, file=out, flush=True)

    topics = ("edgewatch/+/alert", "edgewatch/+/sensor_fault", "edgewatch/+/error", "edgewatch/+/status")
    return Listener(url, topics, on_message=on_message, keep=False, client_id="edgewatch-demo-watcher")
