"""Benchmark ``faults``: the reliability suite -- the real agent under the faults of issue 13, counted.

A private Mosquitto (persistence on, as in ``deploy/mosquitto.example.conf``: sessions and queued QoS 1
messages survive a broker restart; ``max_queued_messages 100000``) and, per scenario, a fresh agent
(``edgewatch run``) with a persistent session and QoS 1 readings, alert policy k=1 of n=1 with no cool-down
(each fault reading raises one alert, the next normal one clears it). Readings are simulated normal rows; a
fault pushes one sensor 12 sd off. Scenarios (each counted by :func:`edgewatch.bench.fault_rig.account`):

* ``sigkill`` -- ``kills`` SIGKILLs of the agent, every ``kill_interval_s``, while 10 devices publish;
* ``broker_outage`` -- the broker stopped for ``outage_s`` and started again while devices publish;
* ``black_hole`` -- the agent reaches the broker through a proxy that swallows everything for
  ``blackhole_s`` (no FIN, no RST: only the keepalive notices);
* ``disk_full`` -- the agent's state directory on a small real tmpfs filled to the last byte for
  ``disk_full_s``, then freed (root only; recorded as skipped otherwise);
* ``fuzz`` -- ``fuzz`` hostile payloads (:mod:`edgewatch.bench.fuzz`) on one device while others publish;
* ``flood`` -- one device publishing as fast as it can (QoS 0) for ``flood_s`` while a victim device has
  faults: the victim's publish -> ``raised`` delay, and the broker's and the agent's drop counters;
* ``soak`` -- ``soak_s`` of steady traffic (100 devices): the agent's RSS sampled, its growth over the
  second half.

Targets: 0 alerts lost, 0 left open, 0 crashes (every agent exit was asked for, the last one exits 0), RSS
growth over the soak's second half at most ``TARGET_RSS_GROWTH_MB``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.bench import machine_info, percentile, target
from edgewatch.bench.fault_rig import AgentRun, Readings, Traffic, Watch, account, alert_id, forget_session
from edgewatch.rig.agent import write_agent_config
from edgewatch.rig.broker import MosquittoBroker, find_mosquitto

SCENARIOS = ("sigkill", "broker_outage", "black_hole", "disk_full", "fuzz", "flood", "soak")
TARGET_RSS_GROWTH_MB = 3.0
SHORT: dict[str, Any] = {
    "kills": 3,
    "kill_interval_s": 1.5,
    "outage_s": 3.0,
    "blackhole_s": 12.0,
    "keepalive": 5,
    "disk_full_s": 3.0,
    "fuzz": 3000,
    "flood_s": 3.0,
    "soak_s": 6.0,
}


def run(
    *,
    bundle: str | None = None,
    features: int = 16,
    train_rows: int = 20_000,
    seed: int = 0,
    scenarios: tuple[str, ...] | list[str] = SCENARIOS,
    short: bool = False,
    kills: int = 30,
    kill_interval_s: float = 2.0,
    outage_s: float = 60.0,
    blackhole_s: float = 90.0,
    keepalive: int = 15,
    disk_full_s: float = 20.0,
    fuzz: int = 120_000,
    flood_s: float = 20.0,
    soak_s: float = 600.0,
    traffic_hz: float = 100.0,
    say: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    from edgewatch.bench.runtime import bundle_or_default
    from edgewatch.bundle import load_bundle
    from edgewatch.sim import simulate_normal

    options = {
        "kills": kills,
        "kill_interval_s": kill_interval_s,
        "outage_s": outage_s,
        "blackhole_s": blackhole_s,
        "keepalive": keepalive,
        "disk_full_s": disk_full_s,
        "fuzz": fuzz,
        "flood_s": flood_s,
        "soak_s": soak_s,
    }
    if short:
        options.update(SHORT)
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    if find_mosquitto() is None:
        raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
    with tempfile.TemporaryDirectory(prefix="edgewatch-bench-faults-") as tmp_name:
        tmp = Path(tmp_name)
        path = bundle_or_default(bundle, tmp / "bundle", rows=train_rows, features=features, seed=seed, say=say)
        manifest = load_bundle(path).manifest
        sim = simulate_normal(n_rows=3000, n_features=manifest.n_features, seed=seed + 7)
        if sim.features != tuple(manifest.features):
            raise RuntimeError("the faults benchmark needs a bundle trained on simulated pump features")
        spread = np.array([s.std for s in manifest.feature_stats])
        readings = Readings(np.asarray(sim.values), spread, seed)
        rig = _Rig(tmp, path, readings, traffic_hz, int(options["keepalive"]), say)
        result: dict[str, Any] = {
            "benchmark": "faults",
            "machine": machine_info(),
            "parameters": {
                "bundle": str(bundle) if bundle else f"default dense-ae trained on {train_rows} simulated rows",
                "short": short,
                **options,
                "traffic_hz": traffic_hz,
                "agent": "persistent session, QoS 1 readings, k=1 of n=1, clear_after 1, hysteresis 1, cooldown 0, "
                "fixed threshold",
                "broker": "mosquitto, persistence true, max_queued_messages 100000, sys_interval 1",
            },
            "scenarios": {},
        }
        try:
            for name in scenarios:
                say(f"scenario {name} ...")
                started = time.monotonic()
                outcome = getattr(rig, name)(options)
                outcome["wall_seconds"] = round(time.monotonic() - started, 1)
                result["scenarios"][name] = outcome
                say(f"scenario {name}: {_summary(outcome)}")
        finally:
            rig.close()
    result["totals"] = _totals(result["scenarios"])
    result["targets"] = _targets(result)
    return result


class _Rig:
    """One broker for the whole run; one agent, devices and agent id per scenario."""

    def __init__(
        self, tmp: Path, bundle: Path, readings: Readings, rate_hz: float, keepalive: int, say: Callable[[str], None]
    ) -> None:
        from edgewatch.rig.clients import Publisher

        self.tmp = tmp
        self.bundle = bundle
        self.readings = readings
        self.rate_hz = rate_hz
        self.keepalive = keepalive
        self.say = say
        store = tmp / "mosquitto-db"
        store.mkdir()
        conf = f"persistence true\npersistence_location {store}/\nmax_queued_messages 100000\nsys_interval 1\n"
        self.broker = MosquittoBroker(log=False, extra_conf=conf)
        self.broker.start()
        self.watch = Watch(self.broker.url)
        self.publisher = Publisher(self.broker.url, client_id="faults-publisher", max_queued=0)

    def close(self) -> None:
        for part in (self.publisher, self.watch):
            try:
                part.close()
            except Exception:  # best effort at teardown
                pass
        self.broker.close()

    # -- helpers -----------------------------------------------------------------------------------

    def _agent(self, name: str, *, url: str | None = None, state_dir: Path | None = None, **mqtt: Any) -> AgentRun:
        logs = self.tmp / f"{name}-logs"
        logs.mkdir()
        config = write_agent_config(
            self.tmp / f"{name}.toml",
            bundle=self.bundle,
            url=url or self.broker.url,
            state_dir=state_dir or self.tmp / f"{name}-state",
            sections={
                "mqtt": {
                    "topic": "plant/+/sensors",
                    "client_id": f"faults-{name}",
                    "qos": 1,
                    "persistent_session": True,
                    "reconnect_max_s": 2,
                    **mqtt,
                },
                "thresholds": {"mode": "fixed", "sustained": False},
                "alerts": {
                    "k": 1,
                    "n": 1,
                    "clear_after": 1,
                    "hysteresis": 1.0,
                    "cooldown_s": 0.0,
                    "update_interval_s": 3600.0,
                    "suppress_from_bundle": False,
                    "min_active_s": 0.0,  # one alert per faulty reading: every raise and clear is a message
                },
                "health": {"agent_id": f"faults-{name}", "stats_interval_s": 1.0, "thermal_file": "/nonexistent"},
            },
        )
        agent = AgentRun(config, logs)
        agent.start()
        self._wait_stats(f"faults-{name}", 30)
        return agent

    def _wait_stats(self, agent_id: str, timeout: float, newer_than: float = 0.0) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.watch.lock:
                stats = self.watch.stats.get(agent_id)
            if stats is not None and stats.get("ts", 0) > newer_than:
                return stats
            time.sleep(0.1)
        return None

    def _traffic(self, name: str, devices: int = 10, rate_hz: float | None = None) -> Traffic:
        names = [f"{name}{i}" for i in range(devices)]
        return Traffic(self.publisher, self.readings, names, rate_hz or self.rate_hz).start()

    def _settle(self, agent_id: str, timeout: float = 180.0) -> dict[str, Any] | None:
        """Wait until the agent has worked off its backlog: two stats in a row with the same readings_total
        and an empty queue. Its last stats."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            stats = self._wait_stats(agent_id, 5, newer_than=0.0 if last is None else last["ts"])
            if stats is None:
                return last
            if last is not None and stats["readings_total"] == last["readings_total"] and not stats["queue_depth"]:
                return stats
            last = stats
        return last

    def _finish(self, agent: AgentRun, traffic: Traffic, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Stop the traffic, let the agent work off its backlog, send normal readings so every alert clears,
        wait, stop the agent, count."""
        traffic.stop()
        agent.check()
        agent_id = f"faults-{agent.config.stem}"
        self._settle(agent_id)
        for _ in range(10):  # normal readings until every raised alert is cleared (a normal row may score high,
            traffic.close_episodes()  # and raise an alert of its own: counted, and cleared by the next round)
            self._settle(agent_id, 10)
            ids = set(traffic.injected) | agent.raised_logged()
            if self.watch.wait_cleared(ids, 5) and agent.raised_logged() <= ids:
                break
        stats = self._settle(agent_id, 30) or {}
        agent.stop()
        forget_session(self.broker.url, agent_id)
        outcome = account(agent, traffic, self.watch, traffic.devices)
        outcome["agent_stats"] = {
            key: stats.get(key)
            for key in (
                "readings_total",
                "rejected_total",
                "inbox_dropped_total",
                "outbox_dropped_total",
                "outbox_unpersisted_total",
                "outbox_refused_total",
                "broker_dropped_total",
            )
        }
        outcome.update(extra or {})
        return outcome

    # -- scenarios ---------------------------------------------------------------------------------

    def sigkill(self, o: dict[str, Any]) -> dict[str, Any]:
        agent = self._agent("sigkill")
        traffic = self._traffic("k")
        for _ in range(o["kills"]):
            time.sleep(o["kill_interval_s"])
            agent.kill()
            agent.start()
        time.sleep(o["kill_interval_s"])
        return self._finish(agent, traffic)

    def broker_outage(self, o: dict[str, Any]) -> dict[str, Any]:
        agent = self._agent("outage")
        traffic = self._traffic("o")
        time.sleep(2.0)
        self.broker.stop()
        time.sleep(o["outage_s"])
        self.broker.start()
        back = time.time()
        online = self._wait_stats("faults-outage", 60, newer_than=back)
        time.sleep(2.0)
        extra = {"agent_stats_again_after_s": None if online is None else round(online["ts"] - back, 2)}
        return self._finish(agent, traffic, extra)

    def black_hole(self, o: dict[str, Any]) -> dict[str, Any]:
        from edgewatch.rig.proxy import BlackHoleProxy

        with BlackHoleProxy(self.broker.host, self.broker.port) as proxy:
            agent = self._agent("blackhole", url=proxy.url, keepalive=o["keepalive"])
            traffic = self._traffic("b")
            time.sleep(2.0)
            proxy.blackhole()
            holed = time.monotonic()
            time.sleep(o["blackhole_s"])
            proxy.heal()
            healed = time.time()
            again = self._wait_stats("faults-blackhole", 60, newer_than=healed)
            time.sleep(2.0)
            noticed = _noticed_after(agent.log_text(), holed)
            extra = {
                "keepalive_s": o["keepalive"],
                "agent_stats_again_after_heal_s": None if again is None else round(again["ts"] - healed, 2),
                "lost_connection_logged": noticed,
            }
            return self._finish(agent, traffic, extra)

    def disk_full(self, o: dict[str, Any]) -> dict[str, Any]:
        from edgewatch.rig.tinyfs import TinyFilesystem, unavailable

        reason = unavailable()
        if reason is not None:
            return {"skipped": reason}
        with TinyFilesystem(1024) as fs:
            agent = self._agent("diskfull", state_dir=fs.path)
            traffic = self._traffic("d")
            time.sleep(1.0)
            fs.fill()
            time.sleep(o["disk_full_s"])
            stats = self._wait_stats("faults-diskfull", 10, newer_than=time.time())
            fs.free()
            time.sleep(max(6.0, o["disk_full_s"]))  # the outbox retries the database every 5 s
            full_log = "disk is full" in agent.log_text()
            extra = {
                "outbox_unpersisted_total": None if stats is None else stats.get("outbox_unpersisted_total"),
                "disk_full_logged": full_log,
            }
            return self._finish(agent, traffic, extra)

    def fuzz(self, o: dict[str, Any]) -> dict[str, Any]:
        from edgewatch.bench.fuzz import fuzz_payloads

        agent = self._agent("fuzz")
        traffic = self._traffic("f", devices=5, rate_hz=50.0)
        started = time.time()
        sent = 0
        for payload in fuzz_payloads(self.bundle_features(), o["fuzz"], seed=7, now=started):
            self.publisher.publish("plant/fuzz/sensors", payload, 0)
            sent += 1
            if sent % 2000 == 0:
                time.sleep(0.05)  # let the broker and the agent breathe
                agent.check()
        time.sleep(3.0)
        stats = self._wait_stats("faults-fuzz", 10, newer_than=time.time())
        extra = {
            "fuzz_payloads": sent,
            "fuzz_seconds": round(time.time() - started, 1),
            "agent_readings_total": None if stats is None else stats.get("readings_total"),
            "agent_rejected_total": None if stats is None else stats.get("rejected_total"),
        }
        return self._finish(agent, traffic, extra)

    def flood(self, o: dict[str, Any]) -> dict[str, Any]:
        agent = self._agent("flood")
        victim = Traffic(self.publisher, self.readings, ["victim"], 10.0, episode=10).start()
        before = self._wait_stats("faults-flood", 10) or {}
        stop = time.monotonic() + o["flood_s"]
        flooded = 0
        while time.monotonic() < stop:
            for _ in range(200):
                _, payload = self.readings.next("flooder")
                self.publisher.publish("plant/flooder/sensors", payload, 0)
            flooded += 200
        outcome = self._finish(agent, victim)
        after = outcome["agent_stats"]
        with self.watch.lock:
            delays = [self.watch.raised[i] - t for i, t in victim.injected.items() if i in self.watch.raised]
        outcome.update(
            {
                "flood_readings": flooded,
                "flood_rate_per_s": round(flooded / o["flood_s"], 1),
                "victim_alert_delay_s_p50": round(percentile(delays, 50), 3) if delays else None,
                "victim_alert_delay_s_max": round(max(delays), 3) if delays else None,
                "broker_dropped_during_flood": _delta(before, after, "broker_dropped_total"),
                "agent_inbox_dropped_during_flood": _delta(before, after, "inbox_dropped_total"),
                "victim_faults_lost_at_the_broker": outcome["unanswered"],
            }
        )
        return outcome

    def soak(self, o: dict[str, Any]) -> dict[str, Any]:
        agent = self._agent("soak")
        traffic = self._traffic("s", devices=100, rate_hz=self.rate_hz * 2)
        end = time.monotonic() + o["soak_s"]
        while time.monotonic() < end:
            agent.sample_rss()
            agent.check()
            time.sleep(min(2.0, max(0.1, o["soak_s"] / 20)))
        samples = agent.rss_samples
        half = samples[len(samples) // 2 :]
        growth = round(half[-1][1] - half[0][1], 2) if len(half) >= 2 else None
        extra = {
            "rss_mb_first": round(samples[0][1], 1) if samples else None,
            "rss_mb_last": round(samples[-1][1], 1) if samples else None,
            "rss_growth_second_half_mb": growth,
            "rss_samples": len(samples),
        }
        return self._finish(agent, traffic, extra)

    def bundle_features(self) -> list[str]:
        from edgewatch.bundle import load_bundle

        return list(load_bundle(self.bundle).manifest.features)


def _noticed_after(log: str, holed: float) -> bool:
    return "lost the connection" in log


def _delta(before: dict[str, Any], after: dict[str, Any], key: str) -> int | None:
    a, b = after.get(key), before.get(key)
    if a is None:
        return None
    return int(a) - int(b or 0)


def _summary(outcome: dict[str, Any]) -> str:
    if "skipped" in outcome:
        return f"skipped ({outcome['skipped']})"
    return (
        f"{outcome['injected']} faults, {outcome['raised_delivered']} alerts delivered, lost {len(outcome['lost'])}, "
        f"left open {len(outcome['left_open'])}, crashes {len(outcome['crashes'])}, unanswered {outcome['unanswered']}"
    )


def _totals(scenarios: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ran = [s for s in scenarios.values() if "skipped" not in s]
    return {
        "scenarios_run": len(ran),
        "scenarios_skipped": sorted(n for n, s in scenarios.items() if "skipped" in s),
        "faults_injected": sum(s["injected"] for s in ran),
        "alerts_raised_logged": sum(s["raised_logged"] for s in ran),
        "alerts_delivered": sum(s["raised_delivered"] for s in ran),
        "alerts_lost": sum(len(s["lost"]) for s in ran),
        "alerts_left_open": sum(len(s["left_open"]) for s in ran),
        "faults_unanswered": sum(s["unanswered"] for s in ran),
        "crashes": sum(len(s["crashes"]) for s in ran),
        "unclean_exits": sum(1 for s in ran if s["exit_codes"] and s["exit_codes"][-1] != 0),
        "sigkills": sum(s["kills"] for s in ran),
        "peak_rss_mb": max((s["peak_rss_mb"] for s in ran), default=None),
    }


def _targets(result: dict[str, Any]) -> dict[str, Any]:
    totals = result["totals"]
    soak = result["scenarios"].get("soak", {})
    return {
        "alerts_lost": target(totals["alerts_lost"], 0, unit="alerts"),
        "alerts_left_open": target(totals["alerts_left_open"], 0, unit="alerts"),
        "crashes": target(totals["crashes"] + totals["unclean_exits"], 0, unit="agent exits not asked for"),
        "soak_rss_growth_second_half_mb": target(
            soak.get("rss_growth_second_half_mb"), TARGET_RSS_GROWTH_MB, unit="MB"
        ),
    }


__all__ = ["SCENARIOS", "SHORT", "alert_id", "run"]
