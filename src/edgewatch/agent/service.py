"""Assemble and run the device agent: bundle -> backend (loaded once) -> pipeline -> loop, with MQTT.

:func:`run_agent` is what ``edgewatch run`` calls. Start-up, in order: choose the bundle and check it
(``agent/bundles.py``: the bundle slots, signature, sha256, probe; an active bundle that fails is rolled back
to the previous one), open the backend (the only model load until an update), build the pipeline and restore
its saved state, open the outbox (messages left by a previous run are re-sent first), start the transport
(``online`` birth, ``offline`` will), then loop until SIGTERM/SIGINT or ``stop``; SIGHUP and the update
topics feed model updates (``agent/update.py``).

Shutdown, in reverse: save the pipeline state, flush the outbox for up to ``flush_timeout_s``, publish
``stopped`` (retained) and wait briefly for its PUBACK, disconnect cleanly (no will), close the outbox.
Whatever the flush could not deliver stays in the outbox for the next start.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

from edgewatch.agent.bundles import Checked, Startup, open_active, trusted_keys
from edgewatch.agent.config import AgentConfig
from edgewatch.agent.controls import Controls, command_topics
from edgewatch.agent.exposition import agent_samples
from edgewatch.agent.health import ThermalGuard, birth_message, event_topic, stopped_message, will_message
from edgewatch.agent.homeassistant import status_topic as ha_status_topic
from edgewatch.agent.loop import AgentLoop, LoopSettings
from edgewatch.agent.metrics import MetricsServer, Sample
from edgewatch.agent.outbox import Outbox
from edgewatch.agent.recovery import Recovery, open_outbox
from edgewatch.agent.sensors import sensor_feed
from edgewatch.agent.state import StateStore
from edgewatch.agent.update import UpdateManager
from edgewatch.agent.watch import SilenceMonitor
from edgewatch.bundle import Artifact, Manifest
from edgewatch.core.pipeline import Pipeline, Scorer
from edgewatch.errors import ConfigError
from edgewatch.transports.base import Transport
from edgewatch.transports.mqtt import MqttTransport, SessionSettings, TlsSettings

log = logging.getLogger("edgewatch.agent")


def build_transport(config: AgentConfig) -> MqttTransport:
    """The MQTT transport described by ``config.mqtt`` with the agent's birth and will messages."""
    mqtt = config.mqtt
    tls = None
    if mqtt.use_tls:
        tls = TlsSettings(ca=mqtt.tls.ca, cert=mqtt.tls.cert, key=mqtt.tls.key, insecure=mqtt.tls.insecure)
    return MqttTransport(
        mqtt.host,
        mqtt.port,
        client_id=mqtt.client_id,
        protocol=mqtt.protocol,
        keepalive=mqtt.keepalive,
        username=mqtt.username,
        password=mqtt.password.reveal() if mqtt.password is not None else None,
        tls=tls,
        will=will_message(config.health.agent_id),
        birth=birth_message(config.health.agent_id),
        reconnect_min_s=mqtt.reconnect_min_s,
        reconnect_max_s=mqtt.reconnect_max_s,
        session=SessionSettings(expiry_s=mqtt.session_expiry_s) if mqtt.persistent_session else None,
        broker_stats=mqtt.broker_stats,
        read_pause_s=config.batch_wait_ms / 1000.0,
    )


def run_agent(
    config: AgentConfig,
    *,
    backend: Scorer | None = None,
    transport: Transport | None = None,
    stop: threading.Event | None = None,
    handle_signals: bool = True,
    flush_timeout_s: float = 2.0,
) -> int:
    """Run the agent until stopped; return the exit status (0 after a clean shutdown).

    ``backend`` and ``transport`` default to the configured ones (tests inject their own). Signal
    handlers are installed only when called from the main thread.
    """
    stop = stop or threading.Event()
    log.info("configuration: %s", config.redacted())
    startup = None
    if backend is None:  # the configured bundle, through the bundle slots and every check (agent/bundles.py)
        startup = open_active(config)
        bundle, backend = startup.checked.bundle, startup.checked.backend
    else:
        from edgewatch.bundle import load_bundle

        bundle = load_bundle(config.bundle.path)
    outbox, recovery = _outbox(config)
    pipeline, store = _pipeline(config, bundle.manifest, backend, outbox)
    transport = transport or build_transport(config)
    updates = None if startup is None else _updates(config, startup, pipeline, transport)
    health = config.health
    thermal = ThermalGuard(
        health.thermal_file,
        limit_c=health.thermal_limit_c,
        hysteresis_c=health.thermal_hysteresis_c,
        throttled_rate_hz=health.thermal_rate_hz,
    )
    settings = LoopSettings.from_config(config, pipeline.model_id)
    loop = AgentLoop(
        settings,
        pipeline=pipeline,
        transport=transport,
        outbox=outbox,
        thermal=thermal,
        state=store,
        updates=updates,
        sensors=sensor_feed(config, pipeline.features),
        controls=Controls(config.controls) if config.controls.enabled else None,
        silence=SilenceMonitor(config.silence) if config.silence.enabled else None,
    )
    if recovery is not None:  # published once connected, through the fresh outbox
        outbox.put(event_topic(health.agent_id), recovery.payload(), 1, False, essential=True)
    metrics = None
    if health.metrics_port is not None:
        metrics = MetricsServer(health.metrics_host, health.metrics_port, lambda: metric_samples(loop)).start()
    reload = None if updates is None else updates.request_reload
    restore_signals = _install_signal_handlers(stop, reload) if handle_signals else None
    transport.subscribe(config.mqtt.topic, config.mqtt.qos)
    for topic in command_topics() if config.controls.enabled else []:
        transport.subscribe(topic, 1)
    for topic, qos in [] if updates is None else updates.subscriptions():
        transport.subscribe(topic, qos)
    if config.homeassistant.enabled:
        transport.subscribe(ha_status_topic(config.homeassistant.discovery_prefix), 1)
    transport.start()
    try:
        loop.run(stop)
    finally:
        log.info("shutting down")
        loop.save_state()
        if not outbox.flush(transport, flush_timeout_s if transport.connected else 0):
            log.warning("%d message(s) left in the outbox for the next start", outbox.depth)
        if transport.connected:
            handle = transport.publish(*stopped_message(health.agent_id))
            handle.wait(1.0)
        transport.stop()
        outbox.close()
        if metrics is not None:
            metrics.stop()
        if restore_signals is not None:
            restore_signals()
    return 0


def _updates(config: AgentConfig, startup: Startup, pipeline: Pipeline, transport: Transport) -> UpdateManager:
    """The model-update manager (agent/update.py), its first status ready to publish: ``started``, or
    ``rolled_back`` when the active bundle failed its checks."""

    def make_pipeline(checked: Checked) -> Pipeline:
        manifest = checked.bundle.manifest
        return Pipeline(
            manifest,
            checked.backend,
            config.pipeline,
            max_payload_bytes=config.mqtt.max_payload_bytes,
            payload=config.mqtt.payload,
        )

    updates = UpdateManager(
        config,
        live=pipeline,
        signer=startup.checked.signer,
        slots=startup.slots,
        keys=trusted_keys(config),
        transport=transport,
        make_pipeline=make_pipeline,
    )
    failure = startup.rolled_back
    if failure is None:
        updates.announce("started", bundle=startup.checked.bundle.path.name)
    else:
        updates.announce("rolled_back", reason=failure.reason, message=failure.detail, automatic=True)
    return updates


def _pipeline(
    config: AgentConfig, manifest: Manifest, backend: Scorer, outbox: Outbox
) -> tuple[Pipeline, StateStore]:
    """The pipeline around the opened model (the only model load of the process) with the saved device
    state restored (an unusable saved state is logged and ignored) and the open alerts as the outbox last
    published them."""
    log.info(
        "model %s loaded (%s, %d feature(s), window %d)",
        manifest.model_id,
        backend.artifact.name,
        manifest.n_features,
        manifest.window,
    )
    _log_artifact_choice(manifest, backend.artifact, requested=config.runtime.artifact is not None)
    pipeline = Pipeline(
        manifest, backend, config.pipeline, max_payload_bytes=config.mqtt.max_payload_bytes, payload=config.mqtt.payload
    )
    store = StateStore(config.state_dir)
    saved = store.load()
    if saved is not None:
        try:
            report = pipeline.restore(saved, now=time.time())
            log.info("restored the state of %d device(s) from %s", len(pipeline.devices), store.path)
            log.info("restored %s", report.describe())
        except ConfigError as exc:
            log.warning("ignoring saved state %s: %s", store.path, exc)
    marks = {m.device: (m.alert_id, m.severity) for m in outbox.alert_marks().values()}
    opened, closed = pipeline.reopen_alerts(marks)
    if opened or closed:
        log.info(
            "the outbox says these alerts are open: re-opened %s; closed %s (their messages were sent after the "
            "state was saved)",
            ", ".join(opened) or "none",
            ", ".join(closed) or "none",
        )
    return pipeline, store


def _log_artifact_choice(manifest: Manifest, artifact: Artifact, *, requested: bool) -> None:
    """Which model scores and why; a warning when it is an INT8 model that failed the fidelity gate."""
    from edgewatch.bundle.describe import choice_line

    unfaithful = artifact.fidelity is not None and not artifact.fidelity.faithful
    (log.warning if unfaithful else log.info)("%s", choice_line(manifest, artifact, requested=requested))


def _outbox(config: AgentConfig) -> tuple[Outbox, Recovery | None]:
    try:
        outbox = config.outbox
        return open_outbox(outbox.path, max_messages=outbox.max_messages, synchronous=outbox.synchronous)
    except (OSError, sqlite3.Error) as exc:
        message = f"cannot open the outbox database {config.outbox.path!r}: {exc}"
        raise ConfigError(message, field="outbox.path") from None


def _install_signal_handlers(
    stop: threading.Event, reload: Callable[[], None] | None = None
) -> Callable[[], None] | None:
    """SIGTERM and SIGINT stop the agent; SIGHUP calls ``reload`` (try ``bundle.path`` again)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        stop.set()

    def hangup(signum: int, frame: FrameType | None) -> None:
        log.info("received SIGHUP")
        if reload is not None:
            reload()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    if reload is not None:
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, hangup)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def metric_samples(loop: AgentLoop) -> Iterator[Sample]:
    """The agent's Prometheus samples (names ``edgewatch_*``), read from its live counters."""
    stats = loop.stats
    thermal = loop.thermal
    yield Sample("edgewatch_readings_total", "counter", "Readings handed to the pipeline.", stats.readings_total)
    yield Sample("edgewatch_scored_total", "counter", "Readings scored.", stats.scored_total)
    yield Sample(
        "edgewatch_rate_limited_total",
        "counter",
        "Readings dropped by the rate limit.",
        stats.rate_limited_total,
    )
    for reason, count in sorted(dict(stats.rejected_total).items()):
        yield Sample("edgewatch_rejected_total", "counter", "Inputs rejected, by reason.", count, (("reason", reason),))
    for state, count in sorted(dict(stats.alerts_total).items()):
        yield Sample("edgewatch_alerts_total", "counter", "Alert messages, by state.", count, (("state", state),))
    yield Sample("edgewatch_sensor_faults_total", "counter", "Sensor fault events.", stats.sensor_faults_total)
    yield Sample("edgewatch_queue_depth", "gauge", "Readings waiting to be scored.", loop.transport.inbox.qsize())
    yield Sample(
        "edgewatch_inbox_dropped_total",
        "counter",
        "Readings dropped because the queue was full.",
        loop.transport.inbox_dropped,
    )
    yield Sample("edgewatch_outbox_depth", "gauge", "Messages waiting for a broker acknowledgement.", loop.outbox.depth)
    yield Sample(
        "edgewatch_outbox_dropped_total",
        "counter",
        "Outbox messages dropped on overflow.",
        loop.outbox.dropped_droppable + loop.outbox.dropped_essential,
    )
    yield Sample(
        "edgewatch_outbox_unpersisted_total",
        "counter",
        "Messages the outbox database refused (disk full), held in memory and published directly.",
        loop.outbox.unpersisted,
    )
    yield Sample(
        "edgewatch_outbox_refused_total",
        "counter",
        "Messages the broker refused (failure reason code), moved to the dead_letter table.",
        loop.outbox.rejected,
    )
    yield Sample(
        "edgewatch_broker_dropped_total",
        "counter",
        "Messages the broker dropped because a client's queue was full (its $SYS counter, all clients).",
        getattr(loop.transport, "broker_dropped", None),
    )
    yield Sample("edgewatch_mqtt_connected", "gauge", "1 when connected to the broker.", int(loop.transport.connected))
    yield Sample("edgewatch_devices", "gauge", "Devices seen since start.", len(loop.devices))
    if thermal is not None:
        yield Sample("edgewatch_cpu_temperature_celsius", "gauge", "CPU temperature.", thermal.temperature_c)
        yield Sample(
            "edgewatch_thermal_throttled",
            "gauge",
            "1 while the thermal guard throttles scoring.",
            int(thermal.throttled),
        )
    yield from agent_samples(loop)  # latency histogram, build info, per device, process (agent/exposition.py)
