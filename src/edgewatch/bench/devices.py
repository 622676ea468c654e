"""Benchmark ``devices``: how many devices one agent holds -- 1,000 and 10,000 at 2 Hz, 50,000 at 0.2 Hz.

Per scale, a fresh private Mosquitto and a fresh agent (``edgewatch run``, pinned to one CPU; the shipped
defaults plus ``max_devices`` above the scale, stats every second and the alert policy k=1 of n=1 so that
every injected fault raises one alert). A load generator on the other CPU writes MQTT 3.1.1 QoS 0 PUBLISH
packets straight to a socket in 10 ms slots (:mod:`edgewatch.bench.wire`; paho's own publish path cannot keep
20,000 messages/s here), every device once per period, spread evenly, for ``seconds``; ten more "probe"
devices publish at 2 Hz, every ``fault_every``-th of their readings with one sensor 12 standard deviations
off. Measured:

* **CPU per reading**: the agent's user + system CPU (``/proc/PID/stat``) over the run / readings scored;
* **memory per device**: ``VmRSS`` after the run minus ``VmRSS`` of the same agent before any reading,
  divided by the devices; the peak (``VmHWM``) is reported too;
* **publish -> alert**: from writing a faulty reading to receiving its ``raised`` alert (matched by the
  reading's ``ts``), p50 / p99 / max;
* **nothing lost**: the agent's ``readings_total`` and ``scored_total`` against readings written, and its
  ``inbox_dropped_total``;
* **state save / restore** (in this process, the agent's own code): ``Pipeline.state_snapshot`` +
  ``StateStore.save`` (JSON, fsync, atomic rename) of every device, then ``StateStore.load`` +
  ``Pipeline.restore`` into a fresh pipeline, after one reading per device plus a few for the probe devices;
  and the agent's periodic save of the same devices (``sliced``): how many slices of the loop's budget it
  takes, the longest, their sum, and the background write;
* **the periodic state save under load** (``state_save_interval_s``, e.g. 10 s; by default the agent's
  interval is an hour, so a run never saves): the agent saves every device's state every that many seconds
  while the load runs, as it does every 5 minutes in the field. How long the loop stops meanwhile shows as
  the longest gap between two of its stats messages (published every second from the loop thread, so a gap
  of 1.4 s is a 0.4 s stall), the deepest inbox its stats reported (``queue_depth``, sampled once a second),
  the readings its full inbox dropped (``inbox_dropped_total``) and the alert latency.

Baseline in the same run: the agent's figures at 1,000 devices; ratios of the larger scales to it.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.agent.state import STATE_FILE
from edgewatch.bench import machine_info, percentile, target
from edgewatch.bench.wire import Written, connect, disconnect, publish_packet, write_paced

SCALES = ((1_000, 2.0), (10_000, 2.0), (50_000, 0.2))  # (devices, readings per device per second)
TARGET_P99_MS = 50.0
TARGET_KB_PER_DEVICE = 10.0
TARGET_STATE_S = 1.0
TARGET_CPU_FRACTION = 1.0  # one core holds 10,000 devices at 2 Hz: agent CPU seconds per second <= 1
PROBES = 10
NO_SAVE_INTERVAL_S = 3600.0  # the agent's state_save_interval_s unless asked: no periodic save during a run
PROBE_PERIOD_S = 0.5  # the probe devices publish at 2 Hz at every scale
FAULT_SIGMAS = 12.0


def run(
    *,
    bundle: str | None = None,
    features: int = 16,
    train_rows: int = 20_000,
    seed: int = 0,
    seconds: float = 20.0,
    fault_every: int = 4,
    scales: tuple[tuple[int, float], ...] = SCALES,
    agent_cpu: int | None = None,
    state_save_interval_s: float | None = None,
    state_timing: bool = True,
    say: Any = lambda _msg: None,
) -> dict[str, Any]:
    from edgewatch.bench.runtime import bundle_or_default
    from edgewatch.bundle import load_bundle
    from edgewatch.sim import simulate_normal

    with tempfile.TemporaryDirectory(prefix="edgewatch-bench-devices-") as tmp_name:
        tmp = Path(tmp_name)
        path = bundle_or_default(bundle, tmp / "bundle", rows=train_rows, features=features, seed=seed, say=say)
        manifest = load_bundle(path).manifest
        spread = np.array([s.std for s in manifest.feature_stats])
        rows = simulate_normal(n_rows=2000, n_features=manifest.n_features, seed=seed + 7).values
        cpus = sorted(os.sched_getaffinity(0))
        pin = agent_cpu if agent_cpu is not None else cpus[-1]
        result: dict[str, Any] = {
            "benchmark": "devices",
            "machine": machine_info(),
            "parameters": {
                "bundle": str(bundle) if bundle else f"default dense-ae trained on {train_rows} simulated rows",
                "features": manifest.n_features,
                "scales": [{"devices": d, "rate_hz_per_device": r} for d, r in scales],
                "seconds": seconds,
                "fault_every": fault_every,
                "probe_devices": PROBES,
                "agent": "shipped defaults; max_devices above the scale, stats every 1 s, alerts k=1 of n=1",
                "state_save_interval_s": state_save_interval_s or NO_SAVE_INTERVAL_S,
            },
            "scales": [],
        }
        os.sched_setaffinity(0, [c for c in cpus if c != pin] or cpus)
        try:
            for devices, rate in scales:
                say(f"{devices} devices at {rate:g} Hz ({devices * rate:.0f} readings/s) for {seconds:g} s ...")
                scale = _scale(
                    *(path, manifest, rows, spread, tmp, devices, rate, seconds, fault_every, pin, say),
                    save_interval_s=state_save_interval_s,
                )
                result["scales"].append(scale)
                if not state_timing:
                    continue
                scale["state"] = _state_timing(path, manifest, rows, devices, tmp / f"state-{devices}")
                say(
                    f"  state of {devices} devices: save {scale['state']['save_seconds']:.3f} s "
                    f"({scale['state']['bytes'] / 1e6:.1f} MB), restore {scale['state']['restore_seconds']:.3f} s"
                )
                sliced = scale["state"]["sliced"]
                say(
                    f"  sliced: {sliced['slices']} slices, longest {sliced['longest_slice_ms']:.1f} ms, "
                    f"{sliced['loop_seconds']:.3f} s of loop time, write {sliced['write_seconds']:.3f} s in the "
                    f"background, same bytes: {sliced['same_bytes_as_at_once']}"
                )
        finally:
            os.sched_setaffinity(0, cpus)
    _targets(result)
    return result


def _scale(
    bundle: Path,
    manifest: Any,
    rows: np.ndarray,
    spread: np.ndarray,
    tmp: Path,
    devices: int,
    rate: float,
    seconds: float,
    fault_every: int,
    cpu: int,
    say: Any,
    *,
    save_interval_s: float | None = None,
) -> dict[str, Any]:
    from edgewatch.bench.agent import _cpu_seconds, _proc_status
    from edgewatch.rig.agent import start_agent, stop_agent, write_agent_config
    from edgewatch.rig.broker import MosquittoBroker
    from edgewatch.rig.clients import Listener, parse_mqtt_url

    broker = MosquittoBroker(log=False, extra_conf="max_queued_messages 1000000\n")
    broker.start()
    agent = None
    raised: dict[tuple[str, float], float] = {}
    stats: list[dict[str, Any]] = []
    stats_times: list[float] = []  # when each stats message arrived (the loop thread publishes them, every 1 s)

    def on_message(topic: str, payload: bytes, received: float) -> None:
        if topic.endswith("/stats"):
            stats.append(json.loads(payload))
            stats_times.append(received)
        elif payload:
            alert = json.loads(payload)
            if alert.get("state") == "raised":
                raised.setdefault((alert["device"], round(float(alert["ts"]), 3)), received)

    try:
        state_dir = tmp / f"devices-{devices}-state"
        config = write_agent_config(
            tmp / f"devices-{devices}.toml",
            bundle=bundle,
            url=broker.url,
            state_dir=state_dir,
            sections={
                "mqtt": {"topic": "plant/+/sensors"},
                "alerts": {"k": 1, "n": 1, "clear_after": 1, "cooldown_s": 0.0, "min_active_s": 0.0},
                "health": {"agent_id": "bench-devices", "stats_interval_s": 1.0, "thermal_file": "/nonexistent"},
            },
            top_level={
                "max_devices": devices + PROBES + 10,
                "state_save_interval_s": save_interval_s or NO_SAVE_INTERVAL_S,
            },
        )
        listener = Listener(
            broker.url, ["edgewatch/+/alert", "edgewatch/bench-devices/stats"], on_message=on_message, keep=False
        )
        agent = start_agent(config, tmp / f"devices-{devices}.log", cpu=cpu)
        deadline = time.monotonic() + 60
        while not stats and time.monotonic() < deadline and agent.poll() is None:
            time.sleep(0.05)
        if not stats:
            raise RuntimeError(f"the agent at {devices} devices never reported stats")
        time.sleep(1.0)
        rss_before = _proc_status(agent.pid).get("VmRSS", 0)
        before = dict(stats[-1])
        cpu0 = _cpu_seconds(agent.pid)
        first_stats = len(stats)
        load_started = time.time()  # the listener's clock (stats arrival times)
        address = parse_mqtt_url(broker.url)
        sent_faults, wire = _generate(
            address.host, address.port, manifest, rows, spread, devices, rate, seconds, fault_every
        )
        written, write_s = wire.messages, wire.seconds
        load_ended = time.time()
        # wait until the agent has scored everything written (or stopped moving)
        # (three checks in a row without progress: a state save may hold the loop, and its stats, for seconds)
        last, still, after = -1, 0, before
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(1.5)
            after = dict(stats[-1])
            if after["scored_total"] - before["scored_total"] >= written:
                break
            still = still + 1 if after["readings_total"] == last else 0
            if still >= 3:
                break
            last = after["readings_total"]
        cpu_s = _cpu_seconds(agent.pid) - cpu0
        status = _proc_status(agent.pid)
        listener.close()  # stats and their times are complete now
        loaded = stats[first_stats:]
        times = stats_times[first_stats - 1 :]
        # gaps that ended while the load ran, its last 2 s left out (the stats came 1.3-1.45 s apart once around
        # the load's end at every scale, the periodic save taken at once or in slices, at no save time) ...
        gaps = [b - a for a, b in itertools.pairwise(times) if b < load_ended - 2.0]
        # ... and every long one (more than 1.2 s; ending when, in seconds since the load started), and when the
        # inbox dropped readings (its running total at each stats message where it grew)
        long_gaps = [[round(b - load_started, 1), round(b - a, 2)] for a, b in itertools.pairwise(times) if b - a > 1.2]
        dropped = [
            [round(t - load_started, 1), now["inbox_dropped_total"]]
            for t, now, prev in zip(stats_times[first_stats:], loaded, stats[first_stats - 1 :], strict=False)
            if (now.get("inbox_dropped_total") or 0) > (prev.get("inbox_dropped_total") or 0)
        ]
        saved = (state_dir / STATE_FILE).exists()
    finally:
        if agent is not None:
            stop_agent(agent)
        broker.close()
    scored = after["scored_total"] - before["scored_total"]
    received = after["readings_total"] - before["readings_total"]
    latency = [(raised[key] - sent) * 1000 for key, sent in sent_faults.items() if key in raised]
    entry = {
        "devices": devices,
        "rate_hz_per_device": rate,
        "readings_written": written,
        "write_seconds": write_s,
        "achieved_rate": written / write_s,
        "writer_kept_rate": wire.kept(),
        "writer_max_late_s": wire.max_late_s,
        "agent_readings_received": received,
        "agent_scored": scored,
        "lost": written - scored,
        "inbox_dropped_total": after.get("inbox_dropped_total"),
        "agent_cpu_seconds": cpu_s,
        "agent_cpu_us_per_reading": cpu_s / max(scored, 1) * 1e6,
        "agent_cpu_fraction_of_a_core": cpu_s / write_s,
        "rss_before_mb": rss_before / 1024,
        "rss_after_mb": status.get("VmRSS", 0) / 1024,
        "peak_rss_mb": status.get("VmHWM", 0) / 1024,
        "kb_per_device": (status.get("VmRSS", 0) - rss_before) / devices,
        "faults_written": len(sent_faults),
        "alerts_matched": len(latency),
        "alert_ms_p50": percentile(latency, 50) if latency else None,
        "alert_ms_p99": percentile(latency, 99) if latency else None,
        "alert_ms_max": max(latency) if latency else None,
        "state_save_interval_s": save_interval_s or NO_SAVE_INTERVAL_S,
        # the loop's longest stop while the load ran (but its last 2 s): the longest gap between two stats
        # messages (1 s apart when it never stops)
        "stats_gap_max_s": max(gaps) if gaps else None,
        "queue_depth_max": max((int(s.get("queue_depth") or 0) for s in loaded), default=None),
        "state_file_written": saved if save_interval_s else None,
        "stats_gaps_over_1_2_s": long_gaps,
        "inbox_dropped_timeline": dropped,
    }
    if not wire.kept():
        say(f"  the load generator could not keep {devices * rate:.0f}/s: {wire.rate:.0f}/s written")
    say(
        f"  scored {scored} of {written} ({entry['achieved_rate']:.0f}/s written), agent CPU "
        f"{entry['agent_cpu_us_per_reading']:.1f} us/reading ({entry['agent_cpu_fraction_of_a_core']:.2f} of a core), "
        f"{entry['kb_per_device']:.2f} KB/device, alert p99 {entry['alert_ms_p99']} ms, inbox dropped "
        f"{entry['inbox_dropped_total']}, deepest inbox {entry['queue_depth_max']}, longest stats gap "
        f"{entry['stats_gap_max_s'] or 0:.2f} s"
    )
    return entry


def _generate(
    host: str,
    port: int,
    manifest: Any,
    rows: np.ndarray,
    spread: np.ndarray,
    devices: int,
    rate: float,
    seconds: float,
    fault_every: int,
    slot_s: float = 0.01,
) -> tuple[dict[tuple[str, float], float], Written]:
    """Write every device's readings, spread evenly over each period, in 10 ms slots, and the probe devices'
    readings at 2 Hz (every ``fault_every``-th faulty); returns the faulty readings ((device, ts) -> time
    written) and what was written (:class:`~edgewatch.bench.wire.Written`, the probes as extras)."""
    names = list(manifest.features)

    def encode(row: np.ndarray) -> str:
        return json.dumps(dict(zip(names, (float(f"{v:.5g}") for v in row), strict=True)), separators=(",", ":"))

    # device d's r-th reading is row (d + r) % 500: each device walks through the rows (the same row every time
    # would be a stuck sensor after min_stuck_run readings, which the agent rightly does not score)
    values = [encode(row) for row in rows[:500]]
    faulty = []
    for k, row in enumerate(rows[:50]):
        bad = row.copy()
        bad[k % len(names)] += FAULT_SIGMAS * spread[k % len(names)]
        faulty.append(encode(bad))
    topics = [f"plant/d{d:05d}/sensors".encode() for d in range(devices)]
    probe_topics = [f"plant/probe{p}/sensors".encode() for p in range(PROBES)]
    probe_every = max(1, round(PROBE_PERIOD_S / slot_s))
    sent_faults: dict[tuple[str, float], float] = {}

    def reading(i: int, now: float) -> bytes:
        return publish_packet(
            topics[i % devices], f'{{"ts":{round(now, 3)},"values":{values[(i + i // devices) % 500]}}}'.encode()
        )

    def probes(slot: int, now: float) -> list[bytes]:
        if slot % probe_every:
            return []
        k = slot // probe_every
        fault = k % fault_every == fault_every - 1
        ts = round(now, 3)
        out = []
        for p in range(PROBES):
            body = faulty[(k + p) % len(faulty)] if fault else values[(k + p) % 500]
            out.append(publish_packet(probe_topics[p], f'{{"ts":{ts},"values":{body}}}'.encode()))
            if fault:
                sent_faults[(f"probe{p}", ts)] = now
        return out

    sock = connect(host, port, client_id=f"bench-devices-{os.getpid()}")
    try:
        written = write_paced(
            sock, devices * rate, int(devices * rate * seconds), reading, slot_s=slot_s, extra=probes
        )
    finally:
        disconnect(sock)
    return sent_faults, written


def _state_timing(bundle: Path, manifest: Any, rows: np.ndarray, devices: int, state_dir: Path) -> dict[str, Any]:
    """Save and restore the state of ``devices`` devices with the agent's own code, timed."""
    from edgewatch.agent.state import StateStore
    from edgewatch.bundle import load_bundle
    from edgewatch.core.config import PipelineConfig
    from edgewatch.core.pipeline import Pipeline
    from edgewatch.core.thresholds import ThresholdConfig
    from edgewatch.runtime import open_backend

    loaded = load_bundle(bundle)
    backend = open_backend(loaded, "litert")
    config = PipelineConfig(thresholds=ThresholdConfig(mode="adaptive"))
    pipeline = Pipeline(manifest, backend, config)
    names = list(manifest.features)
    now = time.time()
    batch = []
    for d in range(devices):
        values = dict(zip(names, map(float, rows[d % len(rows)]), strict=True))
        batch.append((f"d{d:05d}", json.dumps({"ts": now - 10.0, "values": values}).encode(), now))
        if len(batch) == 1000:
            pipeline.process(batch)
            batch = []
    if batch:
        pipeline.process(batch)
    store = StateStore(state_dir)
    started = time.perf_counter()
    store.save(pipeline.state_snapshot())
    save_s = time.perf_counter() - started
    size = store.path.stat().st_size
    sliced = _sliced_timing(pipeline, StateStore(state_dir, "sliced.json"), store.path.read_bytes())
    fresh = Pipeline(manifest, backend, config)
    started = time.perf_counter()
    saved = store.load()
    fresh.restore(saved, now=time.time())
    restore_s = time.perf_counter() - started
    if len(fresh.devices) != devices:
        raise RuntimeError(f"restored {len(fresh.devices)} of {devices} devices")
    return {"devices": devices, "save_seconds": save_s, "restore_seconds": restore_s, "bytes": size, "sliced": sliced}


def _sliced_timing(pipeline: Any, store: Any, at_once: bytes) -> dict[str, Any]:
    """The agent's periodic save of ``pipeline`` as its loop takes it: slices of ``LoopSettings``'s budget
    (timed one by one: the loop's longest stop) and the background write (timed whole)."""
    from edgewatch.agent.loop import LoopSettings
    from edgewatch.agent.state import SlicedSave, StateWriter

    budget = LoopSettings(agent_id="bench").state_save_slice_s
    save = SlicedSave(pipeline)
    durations = []
    done = False
    while not done:
        started = time.perf_counter()
        done = save.advance(budget)
        durations.append(time.perf_counter() - started)
    writer = StateWriter(store)
    started = time.perf_counter()
    writer.submit(save.parts)
    writer.wait()
    write_s = time.perf_counter() - started
    return {
        "slice_budget_s": budget,
        "slices": len(durations),
        "loop_seconds": sum(durations),
        "longest_slice_ms": max(durations) * 1000,
        "write_seconds": write_s,
        "same_bytes_as_at_once": store.path.read_bytes() == at_once,
    }


def _targets(result: dict[str, Any]) -> None:
    by = {s["devices"]: s for s in result["scales"]}
    ten = by.get(10_000)
    base = by.get(1_000)
    timed = [s["state"] for s in result["scales"] if "state" in s]
    worst_state = max((max(s["save_seconds"], s["restore_seconds"]) for s in timed), default=None)
    targets = {
        "agent_cpu_fraction_of_a_core_at_10000_devices_2hz": target(
            None if ten is None else round(ten["agent_cpu_fraction_of_a_core"], 2), TARGET_CPU_FRACTION
        ),
        "lossless_at_10000_devices_2hz": target(None if ten is None else ten["lost"], 0, unit="readings"),
        "publish_to_alert_p99_ms_at_10000_devices": target(
            None if ten is None or ten["alert_ms_p99"] is None else round(ten["alert_ms_p99"], 1),
            TARGET_P99_MS,
            unit="ms",
        ),
        "kb_per_device_max": target(
            round(max(s["kb_per_device"] for s in result["scales"]), 2), TARGET_KB_PER_DEVICE, unit="KB"
        ),
        "state_save_or_restore_seconds_at_10000_devices": target(
            None
            if ten is None or "state" not in ten
            else round(max(ten["state"]["save_seconds"], ten["state"]["restore_seconds"]), 3),
            TARGET_STATE_S,
            unit="s",
        ),
        # stricter than the target (stated for 10,000 devices): every scale, 50,000 included
        "state_save_or_restore_seconds_max": target(
            None if worst_state is None else round(worst_state, 3), TARGET_STATE_S, unit="s"
        ),
    }
    if ten is not None and ten["lost"]:  # a core "holds" the load only if nothing was lost
        targets["agent_cpu_fraction_of_a_core_at_10000_devices_2hz"]["met"] = False
        targets["agent_cpu_fraction_of_a_core_at_10000_devices_2hz"]["note"] = (
            "readings were lost: the agent did not keep up"
        )
    result["targets"] = targets
    if base is not None:  # flat: the bench command prints each ratio as a number
        result["ratios"] = {
            f"cpu_per_reading_{s['devices']}_over_1000_devices": s["agent_cpu_us_per_reading"]
            / base["agent_cpu_us_per_reading"]
            for s in result["scales"]
        }
