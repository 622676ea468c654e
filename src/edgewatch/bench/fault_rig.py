"""The moving parts of the reliability suite (:mod:`edgewatch.bench.faults`): readings with injected faults,
the agent's alerts as an outside observer counts them, and the agent process with its kills and crashes.

Accounting (per scenario):

* ``injected`` -- fault readings published; each should raise the alert ``<device>-<ts in ms>``;
* ``raised_logged`` -- alerts the agent says it raised (its log line ``alert <id> raised``, written just before
  the alert enters the outbox), across every agent process of the scenario;
* ``lost`` -- logged alerts whose ``raised`` message never reached the broker's subscribers;
* ``left_open`` -- delivered ``raised`` alerts without a delivered ``cleared`` at the end (after every device
  sent normal readings again);
* ``unanswered`` -- injected faults without any delivered alert (the reading itself was lost, e.g. in the
  agent's memory when it was killed, or the model did not flag it);
* ``crashes`` -- agent exits the scenario did not cause.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.rig.agent import start_agent, stop_agent

FAULT_SIGMAS = 12.0
_RAISED = re.compile(r"alert (\S+) raised")


class Readings:
    """Payloads of simulated normal rows (cycled), or one with a sensor pushed ``FAULT_SIGMAS`` sd off; each
    device's timestamps strictly increase from the wall clock."""

    def __init__(self, rows: np.ndarray, spread: np.ndarray, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.rows = [",".join(f"{v:.6g}" for v in row) for row in rows]
        self.faults = []
        for row in rows[:500]:
            j = int(rng.integers(len(row)))
            bad = row.copy()
            bad[j] += FAULT_SIGMAS * spread[j]
            self.faults.append(",".join(f"{v:.6g}" for v in bad))
        self._last: dict[str, float] = {}
        self._n = 0

    def next(self, device: str, fault: bool = False) -> tuple[float, bytes]:
        """``(ts, payload)`` of the device's next reading."""
        ts = max(time.time(), self._last.get(device, 0.0) + 1e-6)  # a flooding device stays on the clock
        self._last[device] = ts
        pool = self.faults if fault else self.rows
        self._n += 1
        return ts, f'{{"ts":{ts!r},"values":[{pool[self._n % len(pool)]}]}}'.encode()


def alert_id(device: str, ts: float) -> str:
    return f"{device}-{round(ts * 1000)}"


class Traffic:
    """A thread publishing readings of ``devices`` round-robin at ``rate_hz`` (QoS ``qos``): per device, a fault
    every ``episode`` readings, normal ones otherwise. ``injected`` holds the alert ids the faults should raise;
    ``published`` counts every reading."""

    def __init__(
        self, publisher: Any, readings: Readings, devices: list[str], rate_hz: float, *, episode: int = 10, qos: int = 1
    ) -> None:
        self.publisher = publisher
        self.readings = readings
        self.devices = devices
        self.rate_hz = rate_hz
        self.episode = episode
        self.qos = qos
        self.injected: dict[str, float] = {}  # alert id -> publish time
        self.published = 0
        self._count: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Traffic:
        self._thread.start()
        return self

    def send(self, device: str, fault: bool = False) -> None:
        ts, payload = self.readings.next(device, fault)
        if fault:
            self.injected[alert_id(device, ts)] = time.time()
        self.publisher.publish(f"plant/{device}/sensors", payload, self.qos)
        self.published += 1

    def _run(self) -> None:
        start = time.perf_counter()
        i = 0
        while not self._stop.is_set():
            device = self.devices[i % len(self.devices)]
            n = self._count.get(device, 0)
            self._count[device] = n + 1
            self.send(device, fault=n % self.episode == self.episode // 2)
            i += 1
            delay = start + i / self.rate_hz - time.perf_counter()
            if delay > 0:
                time.sleep(delay)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def close_episodes(self, readings: int = 3) -> None:
        """Normal readings for every device, so that every open alert clears."""
        for _ in range(readings):
            for device in self.devices:
                self.send(device)


class Watch:
    """Every alert and stats message of the run, as a subscriber sees them. Its session is persistent (QoS 1,
    fixed client id), so a broker restart loses none of the messages published while it reconnects."""

    def __init__(self, url: str, client_id: str = "faults-watch") -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        from edgewatch.rig.clients import parse_mqtt_url

        self.lock = threading.Lock()
        self.raised: dict[str, float] = {}  # alert id -> first receive time
        self.cleared: set[str] = set()
        self.stats: dict[str, dict[str, Any]] = {}  # agent id -> last stats
        self._subscribed = threading.Event()
        address = parse_mqtt_url(url)
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.on_message = lambda _c, _u, m: self._on(m.topic, bytes(m.payload), time.time())
        self.client.connect(address.host, address.port, keepalive=15)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("the watch could not subscribe to the broker")

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if not reason.is_failure:
            client.subscribe([("edgewatch/+/alert", 1), ("edgewatch/+/stats", 0)])

    def _on(self, topic: str, payload: bytes, now: float) -> None:
        if not payload:
            return
        data = json.loads(payload)
        with self.lock:
            if topic.endswith("/stats"):
                self.stats[topic.split("/")[1]] = data
            elif data.get("state") == "raised":
                self.raised.setdefault(data["alert_id"], now)
            elif data.get("state") == "cleared":
                self.cleared.add(data["alert_id"])

    def wait_cleared(self, ids: set[str], timeout: float) -> bool:
        """Wait until every alert of ``ids`` that was raised is cleared too."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(i in self.cleared for i in ids if i in self.raised):
                    return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class AgentRun:
    """The agent of one scenario: started, killed, restarted, stopped; every process's log kept."""

    def __init__(self, config: Path, logs: Path) -> None:
        self.config = config
        self.logs = logs
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.crashes: list[dict[str, Any]] = []
        self.exit_codes: list[int | None] = []
        self.rss_samples: list[tuple[float, float]] = []  # (time, VmRSS MB)
        self.peak_rss_mb = 0.0

    def start(self) -> None:
        self.starts += 1
        self.proc = start_agent(self.config, self.logs / f"agent-{self.starts}.log")

    def check(self) -> None:
        """Record a crash (an exit nobody asked for) and restart the agent."""
        if self.proc is not None and self.proc.poll() is not None:
            self.crashes.append({"exit_code": self.proc.returncode, "log_tail": self._tail(self.starts)})
            self.start()

    def kill(self) -> None:
        self.check()
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.kills += 1

    def sample_rss(self) -> float | None:
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        fields = {line.split(":")[0]: line.split()[1] for line in status.splitlines() if line.startswith("Vm")}
        rss = int(fields.get("VmRSS", 0)) / 1024
        self.peak_rss_mb = max(self.peak_rss_mb, int(fields.get("VmHWM", 0)) / 1024)
        self.rss_samples.append((time.time(), rss))
        return rss

    def stop(self) -> None:
        self.check()
        self.sample_rss()
        self.exit_codes.append(stop_agent(self.proc))

    def raised_logged(self) -> set[str]:
        ids: set[str] = set()
        for log in self.logs.glob("agent-*.log"):
            ids.update(_RAISED.findall(log.read_text(errors="replace")))
        return ids

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("agent-*.log")))

    def _tail(self, n: int) -> str:
        path = self.logs / f"agent-{n}.log"
        return path.read_text(errors="replace")[-1500:] if path.exists() else ""


def forget_session(url: str, client_id: str) -> None:
    """End the broker's persistent session of ``client_id`` (a clean connect under that id), so that a
    finished scenario's agent does not go on queueing -- and dropping -- the later scenarios' messages."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from edgewatch.rig.clients import parse_mqtt_url

    address = parse_mqtt_url(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect(address.host, address.port, keepalive=15)
    client.loop_start()
    time.sleep(0.3)
    client.disconnect()
    client.loop_stop()


def account(agent: AgentRun, traffic: Traffic, watch: Watch, devices: list[str]) -> dict[str, Any]:
    """The scenario's alert accounting (see the module docstring)."""
    logged = {i for i in agent.raised_logged() if any(i.startswith(d + "-") for d in devices)}
    with watch.lock:
        raised = {i for i in watch.raised if any(i.startswith(d + "-") for d in devices)}
        cleared = set(watch.cleared)
    injected = set(traffic.injected)
    return {
        "readings_published": traffic.published,
        "injected": len(injected),
        "raised_logged": len(logged),
        "raised_delivered": len(raised),
        "lost": sorted(logged - raised),
        "left_open": sorted(raised - cleared),
        "unanswered": len(injected - raised),
        "agent_starts": agent.starts,
        "kills": agent.kills,
        "crashes": agent.crashes,
        "exit_codes": agent.exit_codes,
        "peak_rss_mb": round(agent.peak_rss_mb, 1),
    }
