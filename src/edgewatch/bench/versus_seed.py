"""The agent against the seed's own loop (:mod:`edgewatch.bench.seed_loop`), side by side in one run.

Both processes get the same bundle, the same Mosquitto, the same CPU (pinned) and the very same payload bytes:
``readings`` ``{"ts", "values": {feature: value}}`` messages spread round-robin over ``devices`` devices on
``plant/<device>/sensors``, published at ``rate_hz`` (simulated normal rows; every ``fault_every``-th reading
has one sensor pushed 12 standard deviations off, so both also publish alerts). One runs at a time, alone on
its CPU (run side by side on one CPU, each delays the other's wake-ups, which batches the agent's readings
for free and flattered it), seed loop and agent alternating for ``rounds`` rounds; the ratios are the medians
of the rounds' ratios. Measured per contestant:

* **CPU per reading**: user + system CPU seconds of the process (``/proc/PID/stat``) from just before the first
  reading is published until it has handled the last one (its own counter: the seed loop's ``seed/stats``, the
  agent's ``readings_total`` in ``edgewatch/<agent>/stats``), divided by the readings handled;
* **peak RSS**: ``VmHWM`` of ``/proc/PID/status`` at the end (start-up included, as a device sees it);
* **private memory**: ``RssAnon`` at the end, next to ``RssFile``. Resident file pages (the shared libraries'
  code) depend on what the page cache holds when the process faults them in -- the kernel maps up to 64 KB
  of cached pages around each fault, and a host that reclaims cold pages (DAMON) empties it between runs --
  so the same two processes measured 48 or 56 MB peak an hour apart on one VM; ``RssAnon`` does not move
  with it;
* **nothing lost**: readings handled == readings published.

The agent runs with every feature on: the shipped defaults (range, order, clock, missing and stuck checks, alert
policy with suppression, durable outbox, periodic state save) plus the adaptive threshold and stats every
second; no score stream (the seed loop publishes nothing per reading either). Ratios: agent / seed loop.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.bench import seed_loop
from edgewatch.rig.agent import start_agent, stop_agent, write_agent_config
from edgewatch.rig.broker import MosquittoBroker
from edgewatch.rig.clients import Listener, Publisher, parse_mqtt_url

TARGET_CPU_RATIO = 0.67  # agent CPU per reading <= 0.67 x the seed loop's (>= 1.5x its throughput per core)
TARGET_RSS_RATIO = 1.0
AGENT_ID = "versus-seed"
FAULT_SIGMAS = 12.0


def make_payloads(
    rows: np.ndarray,
    features: Sequence[str],
    spread: np.ndarray,
    *,
    readings: int,
    devices: int,
    fault_every: int,
    t0: float,
) -> list[tuple[str, bytes]]:
    """``readings`` (topic, payload) pairs, round-robin over ``devices``, each device's readings 1 s apart from
    ``t0``; rows are cycled; every ``fault_every``-th reading has one sensor pushed off."""
    out = []
    names = list(features)
    for i in range(readings):
        device, k = i % devices, i // devices
        row = rows[i % len(rows)].copy()
        if fault_every and i % fault_every == fault_every - 1:
            j = i % len(names)
            row[j] += FAULT_SIGMAS * spread[j]
        values = {name: float(f"{v:.6g}") for name, v in zip(names, row, strict=True)}
        payload = json.dumps({"ts": t0 + k, "values": values}, separators=(",", ":")).encode()
        out.append((f"plant/dev{device:05d}/sensors", payload))
    return out


def run_pair(
    *,
    bundle: Path,
    broker: MosquittoBroker,
    tmp: Path,
    payloads: list[tuple[str, bytes]],
    rate_hz: float,
    cpu: int,
    agent_sections: Mapping[str, Mapping[str, Any]] | None = None,
    agent_top_level: Mapping[str, Any] | None = None,
    rounds: int = 3,
    say: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Measure the seed loop, then the agent, ``rounds`` times; every round's figures, the medians and the
    median agent/seed ratios."""
    sections: dict[str, dict[str, Any]] = {
        "mqtt": {"topic": "plant/+/sensors"},
        "runtime": {"backend": "litert", "threads": 1},
        "thresholds": {"mode": "adaptive"},
        "health": {"agent_id": AGENT_ID, "stats_interval_s": 1.0, "thermal_file": "/nonexistent/edgewatch-thermal"},
    }
    for name, keys in (agent_sections or {}).items():
        sections[name] = {**sections.get(name, {}), **keys}
    config = write_agent_config(
        tmp / "versus-seed.toml",
        bundle=bundle,
        url=broker.url,
        state_dir=tmp / "versus-seed-state",
        sections=sections,
        top_level=agent_top_level,
    )
    runs = []
    for _ in range(rounds):  # alternating, so that a change in the machine's load falls on both
        seed = _measure({"seed_loop": _SeedLoop(bundle, broker.url, tmp, cpu)}, broker.url, payloads, rate_hz, say)
        agent = _measure({"agent": _Agent(config, broker.url, tmp, cpu)}, broker.url, payloads, rate_hz, say)
        runs.append({"seed_loop": seed["seed_loop"], "agent": agent["agent"]})
    ratios = {
        "cpu_per_reading": statistics.median(
            r["agent"]["cpu_us_per_reading"] / r["seed_loop"]["cpu_us_per_reading"] for r in runs
        ),
        "peak_rss": statistics.median(r["agent"]["peak_rss_mb"] / r["seed_loop"]["peak_rss_mb"] for r in runs),
        "rss_anon": statistics.median(
            r["agent"]["rss_anon_mb"] / (r["seed_loop"]["rss_anon_mb"] or math.nan) for r in runs
        ),
    }
    median = {
        who: {
            key: statistics.median(r[who][key] for r in runs)
            for key in ("cpu_us_per_reading", "peak_rss_mb", "rss_anon_mb", "rss_file_mb")
        }
        for who in ("seed_loop", "agent")
    }
    say(
        f"agent / seed loop at {rate_hz:.0f}/s (median of {rounds}): CPU per reading {ratios['cpu_per_reading']:.2f}x "
        f"({median['agent']['cpu_us_per_reading']:.1f} vs {median['seed_loop']['cpu_us_per_reading']:.1f} us), "
        f"peak RSS {ratios['peak_rss']:.3f}x ({median['agent']['peak_rss_mb']:.1f} vs "
        f"{median['seed_loop']['peak_rss_mb']:.1f} MB), private (RssAnon) {ratios['rss_anon']:.3f}x "
        f"({median['agent']['rss_anon_mb']:.1f} vs {median['seed_loop']['rss_anon_mb']:.1f} MB)"
    )
    lossless = all(r[who]["complete"] for r in runs for who in ("seed_loop", "agent"))
    return {"rate_hz": rate_hz, "rounds": runs, "median": median, "ratios": ratios, "lossless": lossless}


class _Contestant:
    """A process under test: started pinned to ``cpu``, ready once it reports, its handled-readings count."""

    proc: subprocess.Popen[bytes] | None = None
    stats_topic = ""

    def __init__(self) -> None:
        self.count = -1
        self.cond = threading.Condition()

    def on_stats(self, payload: bytes) -> None:
        with self.cond:
            self.count = self.handled(json.loads(payload))
            self.cond.notify_all()

    def handled(self, stats: dict[str, Any]) -> int:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def wait_count(self, predicate: Callable[[int], bool], timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self.count), timeout)


class _SeedLoop(_Contestant):
    stats_topic = seed_loop.STATS_TOPIC

    def __init__(self, bundle: Path, url: str, tmp: Path, cpu: int) -> None:
        super().__init__()
        self.bundle, self.url, self.log, self.cpu = bundle, url, tmp / "seed-loop.log", cpu

    def handled(self, stats: dict[str, Any]) -> int:
        return int(stats["received"])

    def start(self) -> None:
        address = parse_mqtt_url(self.url)
        script = Path(seed_loop.__file__)
        argv = [sys.executable, str(script), str(self.bundle), address.host, str(address.port), "plant/+/sensors"]
        with open(self.log, "wb") as handle:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )
        os.sched_setaffinity(self.proc.pid, [self.cpu])


class _Agent(_Contestant):
    stats_topic = f"edgewatch/{AGENT_ID}/stats"

    def __init__(self, config: Path, url: str, tmp: Path, cpu: int) -> None:
        super().__init__()
        self.config, self.log, self.cpu = config, tmp / "versus-seed-agent.log", cpu

    def handled(self, stats: dict[str, Any]) -> int:
        return int(stats["readings_total"])

    def start(self) -> None:
        self.proc = start_agent(self.config, self.log, cpu=self.cpu)


def _measure(
    contestants: dict[str, _Contestant], url: str, payloads: list[tuple[str, bytes]], rate_hz: float, say: Any
) -> dict[str, dict[str, Any]]:
    topics = [who.stats_topic for who in contestants.values()]
    by_topic = {who.stats_topic: who for who in contestants.values()}
    listener = Listener(url, topics, on_message=lambda t, p, _r: by_topic[t].on_stats(p), keep=False, qos=0)
    publisher = Publisher(url, client_id=f"versus-seed-publisher-{os.getpid()}", max_queued=0)
    n = len(payloads)
    figures: dict[str, dict[str, Any]] = {}
    try:
        for who in contestants.values():
            who.start()
        for name, who in contestants.items():
            if not who.wait_count(lambda c: c >= 0, timeout=60):
                raise RuntimeError(f"{name} never reported: {_tail(who)}")
        time.sleep(1.5)  # subscribed and settled (stats come once a second)
        start = {name: (who.count, _cpu_seconds(_pid(who))) for name, who in contestants.items()}
        t0 = time.perf_counter()
        _paced(rate_hz, payloads, publisher)
        publish_s = time.perf_counter() - t0
        for name, who in contestants.items():
            count0, cpu0 = start[name]
            done = who.wait_count(lambda c, c0=count0: c - c0 >= n, timeout=120)
            handled = who.count - count0
            cpu = _cpu_seconds(_pid(who)) - cpu0
            figures[name] = {
                "published": n,
                "handled": handled,
                "lost": n - handled,
                "complete": done and handled == n,
                "achieved_publish_rate": n / publish_s,
                "cpu_seconds": cpu,
                "cpu_us_per_reading": cpu / max(handled, 1) * 1e6,
                **_memory_mb(_pid(who)),
            }
    finally:
        for name, who in contestants.items():
            code = stop_agent(who.proc) if who.proc is not None else None
            figures.setdefault(name, {})["exit_code"] = code
        publisher.close()
        listener.close()
    for name, result in figures.items():
        say(
            f"{name}: {result['handled']} of {n} readings handled, {result['cpu_us_per_reading']:.1f} us CPU per "
            f"reading, peak RSS {result['peak_rss_mb']:.1f} MB (RssAnon {result['rss_anon_mb']:.1f}, RssFile "
            f"{result['rss_file_mb']:.1f} MB at the end)"
        )
    return figures


def _pid(who: _Contestant) -> int:
    assert who.proc is not None
    return who.proc.pid


def _paced(rate_hz: float, payloads: list[tuple[str, bytes]], publisher: Publisher) -> None:
    publish = publisher.client.publish
    start = time.perf_counter()
    for i, (topic, payload) in enumerate(payloads):
        due = start + i / rate_hz
        delay = due - time.perf_counter()
        if delay > 0.0005:
            time.sleep(delay - 0.0003)
        publish(topic, payload, 0)


def _tail(who: _Contestant) -> str:
    log = getattr(who, "log", None)
    return log.read_bytes()[-2000:].decode(errors="replace") if log is not None and log.exists() else ""


def _memory_mb(pid: int) -> dict[str, float]:
    status = _proc_status(pid)
    return {
        "peak_rss_mb": status.get("VmHWM", 0) / 1024,
        "rss_anon_mb": status.get("RssAnon", 0) / 1024,
        "rss_file_mb": status.get("RssFile", 0) / 1024,
    }


def _proc_status(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(("VmHWM:", "VmRSS:", "RssAnon:", "RssFile:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
