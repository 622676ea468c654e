"""The agent's one scoring loop: inbound queue -> pipeline -> events -> outbox / MQTT.

``AgentLoop.run(stop)`` repeats :meth:`AgentLoop.step` until ``stop`` is set. One step:

1. drain the transport's inbox: block up to ``timeout`` for the first message, then take whatever
   else is queued, up to ``batch_max`` messages (the MQTT transport's ``batch_wait_ms`` pause makes
   batches larger: fewer, larger batches cost less CPU per reading);
2. route each message: Home Assistant's ``online`` re-publishes discovery; a reading topic gives the
   device id (topic level ``device_level``); the per-device rate limit may drop it (counted), and so
   may the cap of ``max_devices`` distinct devices (counted as ignored);
3. ``pipeline.process(batch)`` -- one numpy/scorer pass for the whole batch;
4. route the events:

   ======================  ==========================================  =====================================
   event                   topic                                       how
   ======================  ==========================================  =====================================
   ``AlertEvent``          ``edgewatch/<device>/alert``                outbox, QoS 1, retained; ``raised``/
                                                                       ``cleared`` essential, ``update``
                                                                       droppable (see ``outbox.py``)
   ``SensorFault``         ``edgewatch/<device>/sensor_fault``         outbox, QoS 1, retained, essential
   ``InputRejected``       ``edgewatch/<device>/error``                direct, QoS 0, at most 1/s per device
                                                                       (burst 5); log lines rate-limited
   ``ScoredReading``       ``edgewatch/<device>/score``                direct, QoS 0, every n-th per device,
                                                                       only with ``health.score_stream``
   ======================  ==========================================  =====================================

5. ``outbox.pump`` (publish queued rows, apply PUBACKs), then the operator controls' retained states of new
   devices (and of every device after a reconnect), then ``transport.flush()`` when the transport has one (the
   MQTT transport: the batch's alerts and scores are written now, not after its network thread's read pause,
   ``batch_wait_ms``; transports/paho_buffered.py), then housekeeping: thermal guard, stats, periodic state
   save, discovery after a reconnect.

The periodic state save (every ``state_save_interval_s``) does not stop the loop: a
:class:`~edgewatch.agent.state.SlicedSave` snapshots and encodes the devices ``state_save_slice_s`` of loop
time per step (the loop does not wait for messages while one is in progress; a step skips its slice while more
readings wait than one batch takes, at most ``SAVE_YIELD_STEPS`` steps in a row, so the inbox stays short and
the save still ends under any load), and a
:class:`~edgewatch.agent.state.StateWriter` thread writes, fsyncs and renames the file. Saved at once, 10,000
devices held the loop for 0.4 s and 50,000 for 2.5 s while up to 25,000 readings piled up in the inbox. The
saves on a model update and at shutdown (:meth:`AgentLoop.save_state`) stay complete and synchronous: they
abandon a sliced save in progress (its devices are in theirs) and wait for the writer, so a file never mixes
two models. The consistency contract of a sliced save: :class:`~edgewatch.agent.state.SlicedSave`.

The controls' states of new devices are three QoS 1 retained messages per device; 10,000 devices arriving at
once queued 30,000 of them in paho ahead of every alert (paho sends QoS 1 messages in order, 20 in flight), and
alerts waited seconds behind them. They are now kept in :attr:`AgentLoop.deferred_states` (topic -> payload)
and handed to the transport after the outbox's rows, only while it has fewer than ``STATE_BACKLOG`` QoS 1
messages unacknowledged (``MqttTransport.queued``): the same messages, behind the alerts. A message the loop
sends on such a topic meanwhile (an operator's command, an acknowledged alert closing) supersedes the deferred
one, so the retained state is never an older one.

The loop never opens or reopens the model: it receives a pipeline around an already-loaded backend.
While the outbox has work it polls every 50 ms so acknowledgements are applied promptly.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from edgewatch.agent import homeassistant
from edgewatch.agent.config import AgentConfig
from edgewatch.agent.controls import Controls, Outgoing
from edgewatch.agent.health import AgentStats, ThermalGuard, status_topic
from edgewatch.agent.outbox import AlertMark, Outbox
from edgewatch.agent.ratelimit import RateLimiter
from edgewatch.agent.sensors import SensorFeed
from edgewatch.agent.state import SlicedSave, StateStore, StateWriter
from edgewatch.agent.watch import SilenceMonitor
from edgewatch.core.device import DeviceState
from edgewatch.core.events import AlertEvent, Event, InputRejected, ScoredReading, SensorFault
from edgewatch.core.payload import Reading
from edgewatch.errors import EdgewatchError
from edgewatch.transports.base import InboundMessage, Transport
from edgewatch.transports.topics import agent_topic, device_from_topic, device_topic, topic_matches

log = logging.getLogger("edgewatch.agent")

ERROR_PUBLISH_HZ = 1.0  # per device; a device sending garbage must not flood the broker with errors
ERROR_LOG_INTERVAL_S = 60.0  # one log line per (device, reason) per minute, with the suppressed count
WATCH_INTERVAL_S = 1.0  # how often silent devices and ended maintenance periods are looked for
MAX_CONSECUTIVE_FAILURES = 50  # scoring batches failing in a row before the loop gives up (exit 1)
STATE_BACKLOG = 64  # deferred controls' states go out while the transport has fewer QoS 1 messages unacked
SAVE_YIELD_STEPS = 20  # a periodic save's slice waits for the inbox to drain at most this many steps in a row


class Updater(Protocol):
    """What the loop needs of :class:`edgewatch.agent.update.UpdateManager` (model updates)."""

    def owns(self, topic: str) -> bool: ...

    def receive(self, message: InboundMessage, now: float) -> None: ...

    def observe(self, readings: list[tuple[str, bytes, float]], live_events: list[Event]) -> None: ...

    def step(self, host: Any, now: float) -> None: ...


class BatchProcessor(Protocol):
    """What the loop needs of ``edgewatch.core.Pipeline``."""

    def process(self, batch: list[tuple[str, bytes, float]]) -> list[Event]: ...

    def process_readings(self, readings: Sequence[tuple[str, Reading]]) -> list[Event]: ...

    @property
    def devices(self) -> dict[str, DeviceState]: ...

    def device(self, name: str) -> DeviceState: ...

    def state_snapshot(self) -> dict[str, Any]: ...

    def state_head(self) -> bytes: ...

    def state_slice(self, names: Iterable[str]) -> bytes: ...


@dataclass(frozen=True)
class LoopSettings:
    """The parts of the configuration the loop uses (see :class:`~edgewatch.agent.config.AgentConfig`)."""

    agent_id: str
    topic_filter: str = "plant/+/sensors"
    device_level: int = 1
    max_rate_hz: float = 0.0
    batch_max: int = 256
    stats_interval_s: float = 60.0
    state_save_interval_s: float = 300.0
    state_save_slice_s: float = 0.004  # loop time per step a periodic save may take (module docstring)
    score_stream: bool = False
    score_every_n: int = 10
    homeassistant: bool = False
    discovery_prefix: str = "homeassistant"
    model_id: str = ""
    max_devices: int = 1000  # readings of further new devices are dropped (and counted as ignored)

    @classmethod
    def from_config(cls, config: AgentConfig, model_id: str = "") -> LoopSettings:
        return cls(
            agent_id=config.health.agent_id,
            topic_filter=config.mqtt.topic,
            device_level=config.device_level,
            max_rate_hz=config.max_rate_hz,
            max_devices=config.max_devices,
            stats_interval_s=config.health.stats_interval_s,
            state_save_interval_s=config.state_save_interval_s,
            score_stream=config.health.score_stream,
            score_every_n=config.health.score_every_n,
            homeassistant=config.homeassistant.enabled,
            discovery_prefix=config.homeassistant.discovery_prefix,
            model_id=model_id,
        )


class AgentLoop:
    """See the module docstring. Not thread-safe: one thread calls ``step``/``run``/``save_state``."""

    def __init__(
        self,
        settings: LoopSettings,
        *,
        pipeline: BatchProcessor,
        transport: Transport,
        outbox: Outbox,
        stats: AgentStats | None = None,
        thermal: ThermalGuard | None = None,
        state: StateStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        updates: Updater | None = None,
        sensors: SensorFeed | None = None,
        controls: Controls | None = None,
        silence: SilenceMonitor | None = None,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.transport = transport
        self.outbox = outbox
        self.stats = stats or AgentStats()
        self.thermal = thermal
        self.state = state
        self.writer = None if state is None else StateWriter(state)  # the periodic save's file writes
        self.saving: SlicedSave | None = None  # a periodic save in progress
        self._save_yields = 0  # steps in a row its slice waited for the inbox
        self.clock = clock
        self.updates = updates
        self.sensors = sensors
        self.controls = controls  # operator commands (agent/controls.py)
        self.silence = silence  # silent devices (agent/watch.py)
        self.limiter = RateLimiter(settings.max_rate_hz)
        # MqttTransport.flush: write this step's messages at once (transports/paho_buffered.py, _pause)
        self._flush: Callable[[], None] | None = getattr(transport, "flush", None)
        self.devices: set[str] = set()
        # device -> (score, threshold) of its last scored reading, for the metrics; not the event itself, whose
        # feature errors are a view that would keep its whole batch's arrays alive
        self.last_scores: dict[str, tuple[float, float]] = {}
        self.ignored_total = 0
        self.failures = 0
        self._error_limiter = RateLimiter(ERROR_PUBLISH_HZ, burst=5)
        self._error_log: dict[tuple[str, str], tuple[float, int]] = {}
        self._score_counts: dict[str, int] = {}
        # reading topic -> its device (None: not a reading topic): one dict lookup per message instead of two
        # splits of the topic; bounded, cleared when full
        self._topic_devices: dict[str, str | None] = {}
        self._topic_cache_max = 4 * settings.max_devices + 1024
        # the controls' retained states not yet handed to the transport (module docstring), oldest first
        self.deferred_states: OrderedDict[str, bytes] = OrderedDict()
        self._ha_status = homeassistant.status_topic(settings.discovery_prefix)
        self._generation = 0
        now = clock()
        self._next_stats = now + settings.stats_interval_s
        self._next_watch = now
        self._next_save = now + settings.state_save_interval_s

    # -- the loop ----------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Step until ``stop`` is set; raise :class:`EdgewatchError` after too many failed batches."""
        while not stop.is_set():
            if self.saving is not None:  # a slice per step: no waiting for messages until the save is taken
                self.step(0.0)
            else:
                self.step(0.05 if self.outbox.busy and self.transport.connected else 0.5)

    def step(self, timeout: float) -> int:
        """One iteration (see the module docstring); returns the number of readings processed."""
        batch = self._drain(timeout)
        now = self.clock()
        if self.transport.generation != self._generation:  # (re)connected: retained configs may be gone
            self._generation = self.transport.generation
            if self.settings.homeassistant:
                self._announce_agent()
                for device in sorted(self.devices):
                    self._announce(device)
            if self.controls is not None:
                self._defer(self.controls.states(self.pipeline, sorted(self.pipeline.devices)))
        readings = []
        topics = []  # for one topic per sensor, whose level names the sensor
        for message in batch:
            reading = self._admit(message, now)
            if reading is not None:
                readings.append(reading)
                topics.append(message.topic)
        if readings:
            self._process(readings, topics)
        if self.updates is not None:
            self.updates.step(self, now)
        self.outbox.pump(self.transport)
        if self.deferred_states:
            self._publish_deferred()
        if self._flush is not None:
            self._flush()  # the batch's messages on the wire now, not after the transport's read pause
        self._housekeeping(now)
        return len(readings)

    def _drain(self, timeout: float) -> list[InboundMessage]:
        return self.transport.inbox.take(self.settings.batch_max, timeout)

    def _admit(self, message: InboundMessage, now: float) -> tuple[str, bytes, float] | None:
        s = self.settings
        if self.updates is not None and self.updates.owns(message.topic):
            self.updates.receive(message, now)
            return None
        if self.controls is not None and message.topic.endswith("/set") and self.controls.owns(message.topic):
            self._send(self.controls.handle(self.pipeline, message, message.arrival_time))
            return None
        if s.homeassistant and message.topic == self._ha_status:
            if message.payload.strip() == b"online":
                log.info("Home Assistant online: re-publishing discovery of %d device(s)", len(self.devices))
                self._announce_agent()
                for known in sorted(self.devices):
                    self._announce(known)
            return None
        topic = message.topic
        cache = self._topic_devices
        try:
            device = cache[topic]
        except KeyError:
            if len(cache) >= self._topic_cache_max:  # a topic-spraying client: start the cache afresh
                cache.clear()
            device = device_from_topic(topic, s.device_level)
            if device is not None and not topic_matches(s.topic_filter, topic):
                device = None
            cache[topic] = device
        if device is None:
            self.ignored_total += 1
            return None
        if not self.limiter.allow(device, now):
            self.stats.record_rate_limited()
            return None
        if device not in self.devices:
            if len(self.devices) >= s.max_devices:  # a topic-spraying client must not exhaust memory
                self.ignored_total += 1
                return None
            self.devices.add(device)
            log.info("new device %r", device)
            if s.homeassistant:
                self._announce(device)
            if self.silence is not None:
                self.pipeline.device(device)  # its state now, so that the controls' states can be shown
            if self.controls is not None:
                self._defer(self.controls.states(self.pipeline, [device]))
        return device, message.payload, message.arrival_time

    def _process(self, readings: list[tuple[str, bytes, float]], topics: list[str]) -> None:
        if self.silence is not None:  # every admitted message, whatever the pipeline makes of it
            self._send(self.silence.seen(self.pipeline, readings))
        try:
            if self.sensors is None:
                events = self.pipeline.process(readings)
            else:  # one topic per sensor: assembled into readings first (agent/sensors.py)
                events = self.sensors.process(self.pipeline, readings, topics)
        except EdgewatchError as exc:  # e.g. the runtime failed on this batch
            self.failures += 1
            log.error("scoring a batch of %d reading(s) failed: %s", len(readings), exc)
            if self.failures >= MAX_CONSECUTIVE_FAILURES:
                raise
            return
        self.failures = 0
        self.stats.record_batch([r[2] for r in readings], time.time())
        if self.updates is not None:
            self.updates.observe(readings, events)
        # scored readings, the bulk, are counted once per batch; everything else goes through _route
        last_scores = self.last_scores
        stream = self.settings.score_stream
        scored = 0
        for event in events:
            if type(event) is ScoredReading:
                scored += 1
                last_scores[event.device] = (event.score, event.threshold)
                if stream:
                    self._stream_score(event)
            else:
                self._route(event)
        if scored:
            self.stats.record_event("scored", count=scored)

    # -- events ------------------------------------------------------------------------------------

    def _stream_score(self, event: ScoredReading) -> None:
        """Publish every ``score_every_n``-th scored reading of its device (``health.score_stream``)."""
        n = self._score_counts.get(event.device, 0)
        self._score_counts[event.device] = n + 1
        if n % self.settings.score_every_n == 0 and self.transport.connected:
            payload = _json(event, model_id=self.settings.model_id)
            self.transport.publish(device_topic(event.device, "score"), payload, 0, False)

    def _route(self, event: Event) -> None:
        """An event other than a scored reading (those are handled per batch in :meth:`_process`)."""
        if isinstance(event, AlertEvent):
            self.stats.record_event("alert", event.state)
            log.warning(
                "alert %s %s (%s) on %s: score %.4g, threshold %.4g",
                event.alert_id,
                event.state,
                event.severity,
                event.device,
                event.score,
                event.threshold,
            )
            is_open = event.state != "cleared"
            mark = AlertMark(event.device, event.alert_id if is_open else None, event.severity if is_open else None)
            topic = device_topic(event.device, "alert")
            self.outbox.put(topic, _json(event), 1, True, essential=event.state != "update", alert=mark)
            if event.acknowledged is not None and not is_open and self.controls is not None:
                self._send(self.controls.acknowledged_alert_closed(self.pipeline, event.device))
        elif isinstance(event, SensorFault):
            self.stats.record_event("fault")
            log.warning(
                "sensor fault on %s: %s %s %s",
                event.device,
                event.kind,
                event.state,
                ", ".join(event.sensors),
            )
            self.outbox.put(device_topic(event.device, "sensor_fault"), _json(event), 1, True, essential=True)
        elif isinstance(event, InputRejected):
            self.stats.record_event("rejected", event.reason)
            self._log_rejection(event)
            if self.transport.connected and self._error_limiter.allow(event.device, self.clock()):
                self.transport.publish(device_topic(event.device, "error"), _json(event), 0, False)

    def _log_rejection(self, event: InputRejected) -> None:
        key = (event.device, event.reason)
        now = self.clock()
        last, suppressed = self._error_log.get(key, (float("-inf"), 0))
        if now - last < ERROR_LOG_INTERVAL_S:
            self._error_log[key] = (last, suppressed + 1)
            return
        more = f" ({suppressed} more like it in the last {ERROR_LOG_INTERVAL_S:.0f} s)" if suppressed else ""
        log.warning("rejected input from %s: %s: %s%s", event.device, event.reason, event.message, more)
        self._error_log[key] = (now, 0)

    def _announce(self, device: str) -> None:
        for topic, payload in homeassistant.discovery_messages(
            device,
            agent_status_topic=status_topic(self.settings.agent_id),
            discovery_prefix=self.settings.discovery_prefix,
            score_stream=self.settings.score_stream,
            model_id=self.settings.model_id,
            agent_id=self.settings.agent_id,
            silence=self.silence is not None,
            controls=None if self.controls is None else self.controls.config,
        ):
            self.transport.publish(topic, payload, 1, True)

    def _announce_agent(self) -> None:
        for topic, payload in homeassistant.agent_discovery_messages(
            self.settings.agent_id, discovery_prefix=self.settings.discovery_prefix, model_id=self.settings.model_id
        ):
            self.transport.publish(topic, payload, 1, True)

    # -- housekeeping ------------------------------------------------------------------------------

    def _defer(self, messages: list[Outgoing]) -> None:
        """Queue the controls' retained states (sent directly, not through the outbox) behind the alerts."""
        deferred = self.deferred_states
        for m in messages:
            deferred[m.topic] = m.payload
            deferred.move_to_end(m.topic)  # a state queued again goes out in its new place

    def _publish_deferred(self) -> None:
        """Hand deferred states to the transport while it has fewer than ``STATE_BACKLOG`` messages unacked."""
        if not self.transport.connected:
            return  # kept: the next connection's generation sends every device's states anyway
        room = STATE_BACKLOG - int(getattr(self.transport, "queued", 0))
        deferred = self.deferred_states
        while room > 0 and deferred:
            topic, payload = deferred.popitem(last=False)
            self.transport.publish(topic, payload, 1, True)
            room -= 1

    def _send(self, messages: list[Outgoing], *, durable: bool = True) -> None:
        """Publish the controls' and the silence watch's messages: through the outbox, or directly."""
        deferred = self.deferred_states
        for m in messages:
            if deferred and m.topic in deferred:
                del deferred[m.topic]  # this newer state supersedes the deferred one
            if m.durable and durable:
                self.outbox.put(m.topic, m.payload, 1, m.retain, essential=True)
            elif self.transport.connected:
                self.transport.publish(m.topic, m.payload, 1 if m.retain else 0, m.retain)

    def _housekeeping(self, now: float) -> None:
        # both walk every device: once a second, not once a batch (10,000 devices: docs/benchmarks.md)
        if (self.silence is not None or self.controls is not None) and now >= self._next_watch:
            self._next_watch = now + WATCH_INTERVAL_S
            wall = time.time()
            if self.silence is not None:
                self._send(self.silence.check(self.pipeline, wall))
            if self.controls is not None:
                self._send(self.controls.expire(self.pipeline, wall))
        if self.thermal is not None:
            change = self.thermal.update(now)
            if change is not None:
                rate = self.settings.max_rate_hz
                if change.throttled:
                    rate = min(rate, change.rate_hz) if rate > 0 else change.rate_hz
                self.limiter.set_rate(rate)
                payload = json.dumps(change.to_json()).encode("utf-8")
                self.transport.publish(agent_topic(self.settings.agent_id, "thermal"), payload, 1, True)
        if now >= self._next_stats:
            self._next_stats = now + self.settings.stats_interval_s
            if self.transport.connected:
                payload = json.dumps(self.stats_snapshot(), allow_nan=False).encode("utf-8")
                self.transport.publish(agent_topic(self.settings.agent_id, "stats"), payload, 0, False)
        if self.saving is not None:
            self._save_slice()
        elif now >= self._next_save and not (self.writer is not None and self.writer.busy):
            self._next_save = now + self.settings.state_save_interval_s
            if self.state is not None:
                self.saving = SlicedSave(self.pipeline)
                self._save_slice()

    def stats_snapshot(self) -> dict[str, Any]:
        """The stats JSON: rates, latency percentiles, totals, queue/outbox depths, temperature."""
        thermal = self.thermal
        return self.stats.snapshot(
            agent_id=self.settings.agent_id,
            devices=len(self.devices),
            queue_depth=self.transport.inbox.qsize(),
            inbox_dropped_total=self.transport.inbox_dropped,
            outbox_depth=self.outbox.depth,
            outbox_dropped_total=self.outbox.dropped_droppable + self.outbox.dropped_essential,
            outbox_dropped_essential_total=self.outbox.dropped_essential,
            outbox_unpersisted_total=self.outbox.unpersisted,
            outbox_held=self.outbox.held,
            outbox_refused_total=self.outbox.rejected,
            # the broker's own count of messages it dropped because a client's queue was full (all clients)
            broker_dropped_total=getattr(self.transport, "broker_dropped", None),
            cpu_temperature_c=None if thermal is None else thermal.temperature_c,
            thermal_throttled=False if thermal is None else thermal.throttled,
            rate_limit_hz=self.limiter.rate_hz or None,
            connected=self.transport.connected,
            model_id=self.settings.model_id,
            payload_keys_ignored_total=getattr(self.pipeline, "ignored_keys", 0),
        )

    def replace_pipeline(self, pipeline: BatchProcessor) -> None:
        """Score the next batch with ``pipeline`` (a model update, between two batches): the model id in
        alerts, scores, stats and Home Assistant discovery follows it, and the device state is saved."""
        self.pipeline = pipeline
        self.settings = dataclasses.replace(self.settings, model_id=str(getattr(pipeline, "model_id", "")))
        if self.settings.homeassistant:
            for device in sorted(self.devices):
                self._announce(device)
        self.save_state()

    def _save_slice(self) -> None:
        """The periodic save's next slice; the finished save goes to the writer thread."""
        saving = self.saving
        assert saving is not None and self.writer is not None
        if saving.pipeline is not self.pipeline:  # replaced without save_state: never mix two models
            self.saving = None
            return
        if self.transport.inbox.qsize() > self.settings.batch_max and self._save_yields < SAVE_YIELD_STEPS:
            self._save_yields += 1  # readings first: more are waiting than one batch takes
            return
        self._save_yields = 0
        if saving.advance(self.settings.state_save_slice_s):
            self.saving = None
            log.debug("state of %d device(s) taken in %d slice(s)", len(saving.names), saving.slices)
            self.writer.submit(saving.parts)

    def save_state(self) -> None:
        """Persist the pipeline's thresholds and alert states at once, on this thread (no-op without a state
        store): at shutdown and on a model update. A periodic save in progress is abandoned (this one has all
        its devices) and a background write in progress is waited for, so this one is written last."""
        if self.state is None:
            return
        if self.saving is not None:
            taken, total = min(self.saving.position, len(self.saving.names)), len(self.saving.names)
            log.debug("periodic state save abandoned after %d of %d device(s)", taken, total)
            self.saving = None
        if self.writer is not None:
            self.writer.wait()
        try:
            self.state.save(self.pipeline.state_snapshot())
        except (OSError, ValueError) as exc:
            log.error("cannot save the pipeline state to %s: %s", self.state.path, exc)


def _json(event: Event, **extra: Any) -> bytes:
    return json.dumps({**event.to_json(), **extra}, allow_nan=False, separators=(",", ":")).encode("utf-8")
