"""Model updates while the agent runs: receive, check, shadow, swap, roll back -- and say so at each step.

Inputs (``<id>`` is ``health.agent_id``):

* ``edgewatch/<id>/update/bundle``: a signed bundle in chunks (``edgewatch deploy``; :mod:`~edgewatch.agent.transfer`).
  Accepted only when ``update.trusted_keys`` names a key: nobody with mere access to the broker may replace the model.
* ``edgewatch/<id>/update/command``: ``{"command": "swap"}`` (swap to the shadowed model now, whatever its
  figures), ``{"command": "abort"}`` (drop it), ``{"command": "rollback"}`` (back to the previous bundle),
  ``{"command": "reload", "path": DIR}`` (try the bundle in directory ``DIR`` on the device; without a path,
  the configured ``bundle.path``).
* SIGHUP: the same as ``reload`` without a path.

Steps, each logged and published, retained and QoS 1, on ``edgewatch/<id>/update/status`` as
``{"step", "ts", "active", ...}``: ``received``; ``verified`` (every check of :mod:`~edgewatch.agent.bundles`
passed, in a worker thread so that scoring goes on); ``shadowing`` with figures (the new model scores the same
batches as the live one, its events unpublished, for ``update.shadow_readings`` readings; figures every
``PROGRESS_INTERVAL_S``); then ``swapped`` when the new model's anomalous-reading rate is within
``update.max_rate_increase`` of the live one's (or on ``swap``, or for a ``deploy --force``), else
``refused`` with both rates; ``rolled_back``; ``aborted``; ``refused`` with a ``reason`` for anything that
fails (``unsigned``, ``untrusted_key``, ``bad_signature``, ``invalid_bundle``, ``wrong_features``,
``probe_failed``, ``oversized``, ``incomplete``, ``corrupt``, ``malformed``, ``alert_rate``, ``shadow_timeout``,
...). At start the agent publishes ``started`` (or ``rolled_back`` when the active bundle failed its checks).

The swap happens in the loop thread between two batches: every reading is scored by exactly one model, once.
The live pipeline's devices are handed over (:mod:`edgewatch.core.handover`), the bundle slots switched
atomically (:mod:`edgewatch.bundle.slots`: the previous bundle stays on disk), and the device state saved.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from edgewatch.agent.bundles import Checked, Refused, open_checked
from edgewatch.agent.config import AgentConfig
from edgewatch.agent.transfer import Assembler, Delivery, TransferRefused
from edgewatch.bundle.package import unpack
from edgewatch.bundle.signing import PublicKey
from edgewatch.bundle.slots import BundleSlots, bundle_digest, read_bundle_files
from edgewatch.core.events import Event
from edgewatch.core.handover import Tally, hand_over, within_bound
from edgewatch.core.pipeline import Pipeline
from edgewatch.errors import BundleError, EdgewatchError
from edgewatch.transports.base import InboundMessage, Transport
from edgewatch.transports.topics import agent_topic

log = logging.getLogger("edgewatch.update")

PROGRESS_INTERVAL_S = 10.0


class PipelineHost(Protocol):
    """What the update manager needs of the agent loop: to put a new pipeline in place."""

    def replace_pipeline(self, pipeline: Pipeline) -> None: ...


@dataclass(frozen=True)
class _Job:
    """A bundle to check in the worker thread: from a delivery, a directory, or the previous slot."""

    kind: str  # "deploy", "reload" or "rollback"
    source: str  # for messages: transfer id or directory
    data: bytes | None = None  # a packed bundle (deploy)
    force: bool = False


@dataclass
class _Shadow:
    checked: Checked
    pipeline: Pipeline
    started: float
    force: bool
    live: Tally = field(default_factory=Tally)
    new: Tally = field(default_factory=Tally)
    failed: str | None = None
    next_progress: float = 0.0
    from_config: bool = False  # the configured bundle.path (SIGHUP): once swapped, a restart keeps it


class UpdateManager:
    """See the module docstring. ``receive``, ``observe`` and ``step`` run in the loop thread;
    ``request_reload`` may be called from anywhere (a signal handler)."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        live: Pipeline,
        signer: str | None,
        slots: BundleSlots,
        keys: tuple[PublicKey, ...],
        transport: Transport,
        make_pipeline: Callable[[Checked], Pipeline],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.settings = config.update
        self.live = live
        self.signer = signer
        self.slots = slots
        self.keys = keys
        self.transport = transport
        self.make_pipeline = make_pipeline
        self.clock = clock
        agent_id = config.health.agent_id
        self.bundle_topic = agent_topic(agent_id, "update/bundle")
        self.command_topic = agent_topic(agent_id, "update/command")
        self.status_topic = agent_topic(agent_id, "update/status")
        self.assembler = Assembler(max_bytes=self.settings.max_bundle_bytes, timeout_s=self.settings.transfer_timeout_s)
        self.shadow: _Shadow | None = None
        self._job_id = 0  # the latest job; results of older ones are dropped
        self._results: list[tuple[int, _Job, Checked | Refused]] = []
        self._lock = threading.Lock()
        self._reload_requested = threading.Event()
        self._first: tuple[str, dict[str, Any]] | None = None  # the start status, published once connected

    # -- inputs ------------------------------------------------------------------------------------
    def subscriptions(self) -> list[tuple[str, int]]:
        return [(self.bundle_topic, 1), (self.command_topic, 1)] if self.settings.listen else []

    def owns(self, topic: str) -> bool:
        return topic in (self.bundle_topic, self.command_topic)

    def receive(self, message: InboundMessage, now: float) -> None:
        """One message on the bundle or command topic."""
        if message.topic == self.bundle_topic:
            self._receive_chunk(message.payload, now)
        else:
            self._command(message.payload)

    def announce(self, step: str, **fields: Any) -> None:
        """The status at start (``started`` or ``rolled_back``), published once the transport is connected:
        MQTT clients do not keep what is published before their first connection."""
        self._first = (step, fields)

    def request_reload(self) -> None:
        """Try the configured ``bundle.path`` again (SIGHUP); safe from a signal handler."""
        self._reload_requested.set()

    def _receive_chunk(self, payload: bytes, now: float) -> None:
        try:
            delivery = self.assembler.add(payload, now)
        except TransferRefused as exc:
            self.publish("refused", reason=exc.reason, message=str(exc), transfer=exc.transfer)
            return
        if delivery is not None:
            self._deliver(delivery)

    def _deliver(self, delivery: Delivery) -> None:
        self.publish("received", transfer=delivery.transfer, bytes=len(delivery.data), force=delivery.force)
        if not self.keys:
            self.publish(
                "refused",
                reason="no_trusted_keys",
                transfer=delivery.transfer,
                message="bundles over MQTT are accepted only when update.trusted_keys names a key",
            )
            return
        self._start(_Job("deploy", f"transfer {delivery.transfer}", delivery.data, delivery.force))

    def _command(self, payload: bytes) -> None:
        try:
            command = json.loads(payload)
            name = command["command"]
            path = command.get("path")
            if not isinstance(name, str) or not (path is None or isinstance(path, str)):
                raise TypeError
        except (ValueError, TypeError, KeyError, AttributeError):
            self.publish("refused", reason="bad_command", message=f"not a command: {payload[:200]!r}")
            return
        log.info("update command %r", name)
        shadow = self.shadow
        if name == "swap" and shadow is not None:
            shadow.force = True
        elif name == "abort" and shadow is not None:
            self._end_shadow(shadow)
            self.publish("aborted", bundle=_describe(shadow.checked), figures=_figures(shadow))
        elif name == "rollback":
            self._start(_Job("rollback", "the previous bundle"))
        elif name == "reload":
            self._start(_Job("reload", path or self.config.bundle.path))
        elif name in ("swap", "abort"):
            self.publish("refused", reason="no_candidate", message=f"{name}: no new model is being shadowed")
        else:
            self.publish("refused", reason="bad_command", message=f"unknown command {name!r}")

    # -- checks, in a worker thread ----------------------------------------------------------------
    def _start(self, job: _Job) -> None:
        shadow = self.shadow
        if shadow is not None:
            self._end_shadow(shadow)
            self.publish("aborted", bundle=_describe(shadow.checked), message=f"superseded by {job.source}")
        self._job_id += 1
        job_id, features = self._job_id, tuple(self.live.features)
        threading.Thread(target=self._check, args=(job_id, job, features), name="edgewatch-update", daemon=True).start()

    def _check(self, job_id: int, job: _Job, features: tuple[str, ...]) -> None:
        outcome: Checked | Refused
        try:
            outcome = open_checked(self._install(job), self.config, self.keys, features)
        except Refused as exc:
            outcome = exc
        except (BundleError, OSError) as exc:
            outcome = Refused("invalid_bundle", str(exc))
        except Exception as exc:  # a bug must not kill the agent: refuse the bundle, keep the live model
            log.exception("checking %s failed", job.source)
            outcome = Refused("internal_error", f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._results.append((job_id, job, outcome))

    def _install(self, job: _Job) -> Path:
        if job.kind == "rollback":
            previous = self.slots.previous
            if previous is None or not previous.is_dir():
                raise Refused("no_previous", "there is no previous bundle to roll back to")
            return previous
        if job.kind == "deploy":
            assert job.data is not None
            files = unpack(job.data, max_bytes=self.settings.max_bundle_bytes)
        else:
            files = read_bundle_files(job.source)
        return self.slots.install(files)

    # -- the loop's hooks --------------------------------------------------------------------------
    def observe(self, readings: list[tuple[str, bytes, float]], live_events: list[Event]) -> None:
        """Score the batch the live model just scored with the shadowed model too (its events are counted,
        never published)."""
        shadow = self.shadow
        if shadow is None or shadow.failed is not None:
            return
        try:
            events = shadow.pipeline.process(readings)
        except EdgewatchError as exc:
            shadow.failed = str(exc)
            return
        shadow.live.add(live_events)
        shadow.new.add(events)

    def step(self, host: PipelineHost, now: float) -> None:
        """Housekeeping after each loop step: expired transfers, SIGHUP, finished checks, the shadow."""
        if self._first is not None and self.transport.connected:
            step, fields = self._first
            self._first = None
            self.publish(step, **fields)
        expired = self.assembler.expire(now)
        if expired is not None:
            self.publish("refused", reason=expired.reason, message=str(expired), transfer=expired.transfer)
        if self._reload_requested.is_set():
            self._reload_requested.clear()
            log.info("SIGHUP: trying %s", self.config.bundle.path)
            self._start(_Job("reload", self.config.bundle.path))
        with self._lock:
            results, self._results = self._results, []
        for job_id, job, outcome in results:
            if job_id == self._job_id:
                self._checked(host, job, outcome, now)
        if self.shadow is not None:
            self._shadow_step(host, self.shadow, now)

    def _checked(self, host: PipelineHost, job: _Job, outcome: Checked | Refused, now: float) -> None:
        if isinstance(outcome, Refused):
            self.slots.prune()
            self.publish("refused", reason=outcome.reason, message=outcome.detail, source=job.source)
            return
        self.publish("verified", bundle=_describe(outcome), source=job.source)
        pipeline = self.make_pipeline(outcome)
        if job.kind == "rollback":
            self._swap(host, outcome, pipeline, "rolled_back", {})
            return
        from_config = job.kind == "reload" and job.source == self.config.bundle.path
        self.shadow = _Shadow(outcome, pipeline, now, job.force, next_progress=now + PROGRESS_INTERVAL_S)
        self.shadow.from_config = from_config
        self.publish("shadowing", bundle=_describe(outcome), readings=self.settings.shadow_readings, force=job.force)

    def _shadow_step(self, host: PipelineHost, shadow: _Shadow, now: float) -> None:
        figures = _figures(shadow)
        if shadow.failed is not None:
            self._refuse_shadow(shadow, "shadow_failed", f"the new model failed while scoring: {shadow.failed}")
        elif shadow.force:
            self._swap(
                host, shadow.checked, shadow.pipeline, "swapped", {**figures, "forced": True}, shadow.from_config
            )
        elif shadow.new.scored >= self.settings.shadow_readings:
            if within_bound(shadow.live, shadow.new, self.settings.max_rate_increase):
                self._swap(host, shadow.checked, shadow.pipeline, "swapped", figures, shadow.from_config)
            else:
                self._refuse_shadow(
                    shadow,
                    "alert_rate",
                    f"in shadow the new model judged {shadow.new.rate:.2%} of readings anomalous, the live one "
                    f"{shadow.live.rate:.2%}: more than update.max_rate_increase = "
                    f"{self.settings.max_rate_increase:.2%} above it",
                )
        elif now - shadow.started > self.settings.shadow_timeout_s:
            self._refuse_shadow(
                shadow,
                "shadow_timeout",
                f"only {shadow.new.scored} of {self.settings.shadow_readings} readings scored in shadow within "
                f"update.shadow_timeout_s = {self.settings.shadow_timeout_s:g} s",
            )
        elif now >= shadow.next_progress:
            shadow.next_progress = now + PROGRESS_INTERVAL_S
            self.publish("shadowing", bundle=_describe(shadow.checked), figures=figures)

    def _refuse_shadow(self, shadow: _Shadow, reason: str, message: str) -> None:
        self._end_shadow(shadow)
        self.publish(
            "refused", reason=reason, message=message, bundle=_describe(shadow.checked), figures=_figures(shadow)
        )

    def _end_shadow(self, shadow: _Shadow) -> None:
        self.shadow = None
        self.slots.prune()

    # -- the swap ----------------------------------------------------------------------------------
    def _swap(
        self,
        host: PipelineHost,
        checked: Checked,
        pipeline: Pipeline,
        step: str,
        figures: dict[str, Any],
        from_config: bool = False,
    ) -> None:
        before = self.live.model_id
        devices = hand_over(self.live, pipeline)
        if step == "rolled_back":
            self.slots.rollback()
        else:
            seeded = bundle_digest(read_bundle_files(checked.bundle.path)) if from_config else None
            self.slots.activate(checked.bundle.path, seeded_from=seeded)
        self.shadow = None
        self.live, self.signer = pipeline, checked.signer
        host.replace_pipeline(pipeline)
        self.publish(step, bundle=_describe(checked), replaced=before, devices_handed_over=devices, figures=figures)

    # -- status ------------------------------------------------------------------------------------
    def publish(self, step: str, **fields: Any) -> None:
        """Log one step and publish it, retained, on the status topic."""
        previous = self.slots.previous
        status = {
            "step": step,
            "ts": round(time.time(), 3),
            "active": self.live.model_id,
            "active_signer": self.signer,
            "previous": None if previous is None else previous.name,
            **{k: v for k, v in fields.items() if v not in (None, {}, "")},
        }
        level = logging.WARNING if step in ("refused", "rolled_back") else logging.INFO
        log.log(level, "update %s: %s", step, json.dumps({k: v for k, v in status.items() if k != "ts"}))
        self.transport.publish(self.status_topic, json.dumps(status, allow_nan=False).encode("utf-8"), 1, True)


def _describe(checked: Checked) -> dict[str, Any]:
    manifest = checked.bundle.manifest
    return {
        "model_id": manifest.model_id,
        "created_at": manifest.created_at,
        "signer": checked.signer,
        "dir": checked.bundle.path.name,
    }


def _figures(shadow: _Shadow) -> dict[str, Any]:
    return {"live": shadow.live.to_json(), "new": shadow.new.to_json()}
