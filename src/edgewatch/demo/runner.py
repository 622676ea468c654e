"""The demo, step by step: broker → simulate → train → agent → stream faults → live alerts → summary.

Everything it starts (the broker, the agent process) is stopped in ``finally`` blocks, so Ctrl-C at
any point leaves nothing running. With ``DemoOptions.broker`` it uses that broker instead of starting one;
there it publishes to ``edgewatch-demo/<pump>/sensors`` (not ``plant/...``, which a real plant may use)
and afterwards clears the retained messages its agent left (alerts, sensor faults, status).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from edgewatch.core.alerts import AlertConfig
from edgewatch.demo.live_view import Observed
from edgewatch.demo.scenario import Scenario
from edgewatch.errors import EdgewatchError

if TYPE_CHECKING:
    from edgewatch.demo.summary import FaultOutcome
    from edgewatch.train.builder import BuildReport


@dataclass(frozen=True)
class DemoOptions:
    workdir: Path
    seed: int = 7
    stream_hours: float = 4.0
    readings_per_second: float = 1500.0  # total publish rate over all pumps (simulated time runs faster)
    runtime: str = "litert"
    broker: str | None = None  # mqtt://[user[:password]@]host[:port]: an existing broker (None: a private one)


READINGS_TOPIC = "edgewatch-demo/{device}/sensors"
AGENT_ID = "demo-agent"


def _say(out: TextIO, text: str) -> None:
    print(text, file=out, flush=True)


def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    from edgewatch.demo.live_view import watch
    from edgewatch.demo.scenario import FAULTS_BY_DEVICE, build_scenario
    from edgewatch.rig.agent import start_agent, stop_agent, write_agent_config
    from edgewatch.rig.broker import MosquittoBroker, find_mosquitto
    from edgewatch.rig.clients import Publisher
    from edgewatch.sim import write_csv
    from edgewatch.sim.live import publish_recordings

    started = time.monotonic()
    workdir = options.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    broker = None
    if options.broker is None:
        if find_mosquitto() is None:
            raise EdgewatchError(
                "the demo needs the mosquitto broker: sudo apt-get install mosquitto (./setup.sh does), "
                "or give --broker URL"
            )
        broker = MosquittoBroker()
    agent: subprocess.Popen[bytes] | None = None
    watcher = publisher = None
    try:
        if broker is not None:
            broker.start()
            url = broker.url
            _say(out, f"[1/6] MQTT broker: mosquitto on {url}")
        else:
            url = options.broker or ""
            _check_broker(url)
            where = READINGS_TOPIC.format(device="<pump>")
            _say(out, f"[1/6] MQTT broker: {_without_password(url)} (readings on {where})")

        scenario = build_scenario(seed=options.seed, stream_seconds=int(options.stream_hours * 3600))
        train_csv = write_csv(scenario.training, workdir / "normal-day.csv")
        for device, recording in scenario.streams.items():
            write_csv(recording, workdir / f"{device}.csv")
        n_faults = sum(len(r.events) for r in scenario.streams.values())
        _say(
            out,
            f"[2/6] simulated a pump: {scenario.training.n_rows / scenario.training.rate_hz / 86_400:g} days of "
            f"normal operation ({scenario.training.n_rows} readings x "
            f"{scenario.training.n_features} sensors) and {len(scenario.streams)} pumps x "
            f"{options.stream_hours:g} h with {n_faults} injected faults",
        )

        bundle_dir = workdir / "bundle"
        report = _train(train_csv, bundle_dir, out)
        manifest = report.bundle.manifest
        lite = manifest.artifact("litert-int8").fidelity
        assert lite is not None  # a dense autoencoder's INT8 model
        _say(
            out,
            f"[3/6] trained {manifest.model_id}: INT8 model {report.sizes['model.int8.tflite'] / 1024:.1f} KB, "
            f"INT8 vs FP32: reconstruction rank correlation "
            f"{lite.held_out.reconstruction_rank_correlation or float('nan'):.4f}, "
            f"alert agreement {lite.held_out.alert_agreement:.2%} ({report.seconds['total']:.0f} s)",
        )
        if manifest.run_indicator is not None:
            feature, below = manifest.run_indicator.feature, manifest.run_indicator.below
            settle_min = AlertConfig().suppress_settle_s / 60  # the demo agent runs the default alert config
            note = f"no new alert while a pump is stopped, nor for {settle_min:.0f} min after it restarts"
            _say(out, f"      run indicator: {feature} < {below:.0f}; {note}")

        mqtt, env = agent_mqtt_section(url)
        # a fresh agent each run: the state of an earlier demo (same model id, later timestamps) would make the
        # agent refuse this run's readings as out of order
        shutil.rmtree(workdir / "agent-state", ignore_errors=True)
        config = write_agent_config(
            workdir / "agent.toml",
            bundle=bundle_dir,
            url=mqtt.pop("url"),
            state_dir=workdir / "agent-state",
            sections={
                "runtime": {"backend": options.runtime},
                "mqtt": {**mqtt, "topic": READINGS_TOPIC.format(device="+")},
                "health": {"agent_id": AGENT_ID, "stats_interval_s": 5.0, "thermal_file": ""},
            },
        )
        observed = Observed()
        watcher = watch(url, observed, out)
        agent = start_agent(config, workdir / "agent.log", env=env)
        _wait_online(observed, agent, workdir / "agent.log")
        _say(out, f"[4/6] agent running (pid {agent.pid}, {options.runtime}); its log: {workdir / 'agent.log'}")

        rate_hz = next(iter(scenario.streams.values())).rate_hz
        speedup = options.readings_per_second / (len(scenario.streams) * rate_hz)
        n_rows = next(iter(scenario.streams.values())).n_rows
        _say(
            out,
            f"[5/6] streaming {n_rows * len(scenario.streams)} readings to {READINGS_TOPIC.format(device='<pump>')} at "
            f"~{options.readings_per_second:.0f}/s ({speedup:.0f}x real time); alerts as they arrive:",
        )
        publisher = Publisher(url, client_id="edgewatch-demo-sensors")
        stats = publish_recordings(scenario.streams, publisher, topic=READINGS_TOPIC, speedup=speedup, qos=0)
        _drain(observed, settle_s=3.0)
        stop_agent(agent)
        agent = None
        if broker is None:  # someone else's broker: leave no retained demo messages behind
            _clear_retained(publisher, list(scenario.streams))

        from edgewatch.demo.summary import outcomes

        results, false_alarms = outcomes(scenario.streams, observed.alerts, observed.sensor_faults)
        _print_summary(out, results, false_alarms, observed.alerts, stats.messages, scenario, FAULTS_BY_DEVICE)
        report_path = _report(workdir, bundle_dir, scenario)
        _say(out, f"[6/6] report: {report_path}")
        _say(out, f"done in {time.monotonic() - started:.0f} s; everything is in {workdir}")
        return 0
    finally:
        stop_agent(agent)
        for client in (publisher, watcher):
            if client is not None:
                client.close()
        if broker is not None:
            broker.close()


def agent_mqtt_section(url: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The agent's ``[mqtt]`` keys for a demo broker URL, and the environment to start it with: the agent's
    configuration takes no credentials in the URL, so a user name moves to ``mqtt.username`` and a password
    to ``EDGEWATCH_MQTT_PASSWORD`` (not into the configuration file)."""
    from edgewatch.agent.config import PASSWORD_ENV
    from edgewatch.rig.clients import parse_mqtt_url

    address = parse_mqtt_url(url)
    scheme = "mqtts" if address.tls else "mqtt"
    host = f"[{address.host}]" if ":" in address.host else address.host
    section: dict[str, Any] = {"url": f"{scheme}://{host}:{address.port}"}
    env = dict(os.environ)
    env.pop(PASSWORD_ENV, None)
    if address.username is not None:
        section["username"] = address.username
    if address.password is not None:
        env[PASSWORD_ENV] = address.password
    return section, env


def _without_password(url: str) -> str:
    from edgewatch.rig.clients import parse_mqtt_url

    address = parse_mqtt_url(url)
    user = f"{address.username}@" if address.username else ""
    return f"{'mqtts' if address.tls else 'mqtt'}://{user}{address.host}:{address.port}"


def _check_broker(url: str) -> None:
    """Fail early, naming the broker, when it cannot be reached (before minutes of training)."""
    from edgewatch.rig.clients import connect

    client = connect(url, client_id="edgewatch-demo-check")
    client.disconnect()
    client.loop_stop()


def _clear_retained(publisher: Any, devices: list[str]) -> None:
    from edgewatch.core.operator import CONTROLS
    from edgewatch.transports.topics import agent_topic, device_topic

    kinds = ("alert", "sensor_fault", "silence", *(f"{control}/state" for control in CONTROLS))
    topics = [device_topic(d, kind) for d in devices for kind in kinds]
    for topic in [*topics, agent_topic(AGENT_ID, "status"), agent_topic(AGENT_ID, "update/status")]:
        publisher.client.publish(topic, b"", qos=1, retain=True)


def _train(train_csv: Path, bundle_dir: Path, out: TextIO) -> BuildReport:
    import shutil

    from edgewatch.data.read import read_recordings
    from edgewatch.train.builder import TrainOptions, build_bundle
    from edgewatch.train.fit import FitSettings

    shutil.rmtree(bundle_dir, ignore_errors=True)
    recording = read_recordings([train_csv])
    return build_bundle(recording, TrainOptions(fit=FitSettings(progress=out.isatty())), bundle_dir)


def _wait_online(observed: Observed, agent: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "online" in observed.status:
            return
        if agent.poll() is not None:
            raise EdgewatchError(f"the agent exited with status {agent.returncode}:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    raise EdgewatchError(f"the agent did not come online within {timeout:.0f} s; see {log}")


def _drain(observed: Observed, settle_s: float) -> None:
    """Wait until no new alert has arrived for ``settle_s`` seconds."""
    last = (-1, -1)
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < settle_s:
        now = (len(observed.alerts), len(observed.sensor_faults))
        if now != last:
            last, quiet_since = now, time.monotonic()
        time.sleep(0.1)


def _print_summary(
    out: TextIO,
    results: list[FaultOutcome],
    false_alarms: list[dict[str, Any]],
    alerts: list[dict[str, Any]],
    messages: int,
    scenario: Scenario,
    faults_by_device: Mapping[str, tuple[str, ...]],
) -> None:
    from edgewatch.demo.summary import raises_line

    caught = [r for r in results if r.caught_by]
    _say(out, "")
    _say(
        out,
        f"summary: {len(caught)} of {len(results)} faults caught, {len(false_alarms)} false alarms, "
        f"{messages} readings published",
    )
    _say(out, f"  {raises_line(results, alerts)}")
    _say(out, f"  {'pump':8s} {'fault':18s} {'caught by':13s} {'delay':>8s} {'raises':>6s}  named sensor / injected on")
    for r in results:
        delay = f"{r.delay_s:.0f} s" if r.delay_s is not None else "-"
        _say(
            out,
            f"  {r.device:8s} {r.fault_type:18s} {r.caught_by or 'MISSED':13s} {delay:>8s} {r.raises:6d}  "
            f"{r.top_feature or '-'} / {', '.join(r.sensors)}",
        )
    hours = sum(rec.n_rows / rec.rate_hz for rec in scenario.streams.values()) / 3600
    _say(out, f"  false alarms: {len(false_alarms)} in {hours:.0f} simulated pump-hours")


def _report(workdir: Path, bundle_dir: Path, scenario: Scenario) -> Path:
    """The HTML report of ``edgewatch evaluate``: each pump's stream replayed through the agent's own
    pipeline (scores over time, heat map, metrics, model card)."""
    from edgewatch.evaluate.output import render_run_report
    from edgewatch.evaluate.report import write_report
    from edgewatch.evaluate.run import evaluate_bundle

    run = evaluate_bundle(bundle_dir, [workdir / f"{device}.csv" for device in scenario.streams])
    return write_report(workdir / "report.html", render_run_report(run, title="edgewatch demo"))
