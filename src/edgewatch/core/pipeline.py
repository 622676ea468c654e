"""The scoring pipeline shared by the device agent, ``edgewatch replay`` and ``edgewatch evaluate``.

For each reading, in arrival order::

    parse (payload.py) ─► order + range checks (checks.py) ─► missing values? ─► stuck sensor?
        ─► window ─► score (injected scorer) ─► threshold (thresholds.py) ─► alert policy (alerts.py)

* A rejected input gives one :class:`InputRejected` (reason counted in ``counters``) and changes no
  state. Accepted readings advance the device's last timestamp. In :meth:`Pipeline.process` a reading
  timed more than ``checks.max_clock_skew_s`` after its arrival is rejected as ``future_timestamp``
  (:func:`~edgewatch.core.checks.check_clock`); already-parsed readings (``process_readings``, a replayed
  file) have no arrival time and are not checked.
* A reading with missing (null/NaN) values is accepted but not scored; a :class:`SensorFault`
  ``missing`` event marks each onset and each recovery (per set of sensors), not every reading.
* While any watched sensor is stuck the device's readings are not scored (they would look
  anomalous for the wrong reason); a :class:`SensorFault` ``stuck`` event marks onset and recovery.
* The window holds the last ``manifest.window`` *consecutive complete, non-stuck* accepted readings:
  a missing or stuck reading empties it, so a device needs ``window`` such readings again before
  its next score. The reading that completes a window is scored.
* Every scored reading gives a :class:`ScoredReading`; the threshold value it is compared with is
  the one in force *before* the reading is learned. Alert transitions give :class:`AlertEvent`.
* With a bundle that has a sustained-deviation channel (``scoring.sustained``; ``thresholds.sustained =
  false`` ignores it) every scored reading also updates the device's moving averages of the per-feature
  errors (:mod:`edgewatch.core.sustained`), and the alert policy judges ``max(score, level * threshold /
  sustained_threshold)`` (:mod:`edgewatch.core.judging`): a small shift that lasts raises an alert no single
  reading would, naming the sensors by their averaged errors. Missing or stuck readings are not scored: they
  neither raise nor clear alerts.
* With a drift baseline (:mod:`edgewatch.core.drift`; ``thresholds.drift``) the device's offsets are taken out
  of its inputs before scoring and learned from its calm readings; such a device is scored one reading at a
  time, so the events do not depend on how readings are batched.
* The run indicator (``alerts.suppress_feature``, else the bundle's ``run_indicator`` unless
  ``alerts.suppress_from_bundle`` is false) of every accepted reading goes to the device's alert policy,
  which raises no alert while the machine is stopped or settling (:mod:`edgewatch.core.alerts`). A
  configured feature the model does not have is a :class:`ConfigError` naming ``alerts.suppress_feature``.

``process`` does the numpy work once per batch (stacking, range test, scaling, windows, one
``scorer.score_batch`` call) and only cheap per-reading Python in between; the events are the same
as feeding the readings one by one. If the scorer raises, the exception propagates and that batch's
readings are lost (their timestamps stay accepted).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from edgewatch.core.alerts import AlertPolicy
from edgewatch.core.batch_windows import BatchWindows
from edgewatch.core.checks import CHECK_REASONS, RangeCheck, StuckDetector, check_clock, check_order
from edgewatch.core.config import PipelineConfig, with_run_indicator
from edgewatch.core.device import DeviceState, DeviceThreshold, missing_transition
from edgewatch.core.drift import GRID_S, DriftBaseline, drift_enabled, learn_readings
from edgewatch.core.events import AlertEvent, Event, InputRejected, ScoredReading, SensorFault, top_feature_shares
from edgewatch.core.judging import judge
from edgewatch.core.mapping import PayloadMapping, make_parser
from edgewatch.core.payload import DEFAULT_MAX_BYTES, PAYLOAD_REASONS, Reading
from edgewatch.core.restore import RestoreReport, reopen_alerts, restore_devices
from edgewatch.core.state import STATE_VERSION, PipelineState, encode_devices, encode_head, gc_paused, load_state
from edgewatch.core.sustained import SustainedLevel
from edgewatch.core.thresholds import make_threshold
from edgewatch.errors import ConfigError, PayloadError, RuntimeBackendError
from edgewatch.records import dump

if TYPE_CHECKING:
    from edgewatch.bundle import Artifact, Manifest
    from edgewatch.runtime.base import ScoreBatch

COUNTER_KEYS = (
    "received",  # inputs seen
    "accepted",  # passed parsing and checks
    "scored",
    "window_fill",  # accepted, complete, waiting for a full window
    "missing_values",  # accepted with missing values, not scored
    "stuck",  # accepted while a sensor is stuck, not scored
    "maintenance",  # scored while the device is in maintenance, not judged (core/operator.py)
    *PAYLOAD_REASONS,
    *CHECK_REASONS,
)


class Scorer(Protocol):
    """A model bound to its bundle artifact (a :class:`~edgewatch.runtime.backend.Backend`, or a test double)
    that scores scaled float32 inputs ``(n, window, F)``; see :mod:`edgewatch.runtime.base`."""

    @property
    def artifact(self) -> Artifact: ...

    def score_batch(self, x: np.ndarray) -> ScoreBatch: ...


class Pipeline:
    """Parse, check, window, score, threshold and alert readings of many devices of one model.

    ``scorer`` is a runtime backend of one of the manifest's artifacts; it receives float32
    ``(n, manifest.window, F)`` inputs scaled with ``manifest.scaler``, and that artifact's threshold is the
    one readings are judged against.
    ``model_version`` is copied into alert events (default: the manifest's ``created_at``). ``counters``
    maps each key of :data:`COUNTER_KEYS` (``received``, ``accepted``, ``scored``, ``window_fill``,
    ``missing_values``, ``stuck`` and every rejection reason) to a running count; ``devices`` maps a
    device name to its :class:`DeviceState`, created on its first input.
    """

    def __init__(
        self,
        manifest: Manifest,
        scorer: Scorer,
        config: PipelineConfig | None = None,
        *,
        max_payload_bytes: int = DEFAULT_MAX_BYTES,
        model_version: str | None = None,
        payload: PayloadMapping | None = None,
    ) -> None:
        self.manifest = manifest
        self.scorer = scorer
        config = config or PipelineConfig()
        # each model of a bundle has its own threshold, calibrated on its own held-out scores; a scorer of a
        # model this bundle does not have is refused (BundleError)
        self.calibrated = manifest.artifact(scorer.artifact.name).threshold
        # the sustained-deviation channel runs when the bundle has one and the device config does not ignore
        # it; sustained_threshold is its threshold (None: no channel)
        channel = manifest.scoring.sustained if config.thresholds.sustained else None
        self.sustained_threshold = self.calibrated.sustained if channel is not None else None
        self._sustained = channel if self.sustained_threshold is not None else None
        # the config in force: the alert policy suppresses by the bundle's run indicator unless told otherwise
        self.config = with_run_indicator(config, manifest)
        self.features: tuple[str, ...] = tuple(manifest.features)
        self.window = int(manifest.window)
        self.model_id = manifest.model_id
        self.model_version = model_version if model_version is not None else manifest.created_at
        # the standard payload shapes, or a gateway's as [mqtt.payload] maps them (core/mapping.py)
        self.parser = make_parser(self.features, payload, max_bytes=max_payload_bytes)
        self._range = RangeCheck(manifest.feature_stats, config.checks.range_factor)
        self._stuck = StuckDetector(manifest.feature_stats, config.checks)
        self._scaler = manifest.scaler
        self._run_indicator = self._resolve_run_indicator(self.config.alerts.suppress_feature)
        # how a score is made of the per-feature errors (judging leaves recovering sensors out of it); None
        # for a model whose score is not made of them (the isolation forest)
        self._score_aggregate = manifest.scoring.aggregate if scorer.artifact.output == "reconstruction" else None
        # the drift baseline: "auto" = on for a model with a reconstruction and no sustained channel
        self._drift = drift_enabled(config.thresholds.drift, self._sustained is not None, scorer.artifact.output)
        self.devices: dict[str, DeviceState] = {}
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_KEYS, 0)

    @property
    def ignored_keys(self) -> int:
        """Unknown payload keys skipped under ``mqtt.payload.ignore_unknown`` (:mod:`edgewatch.core.mapping`)."""
        return int(getattr(self.parser, "ignored_keys", 0))

    # ------------------------------------------------------------------ entry points
    def process(self, batch: Sequence[tuple[str, bytes, float]]) -> list[Event]:
        """Process ``(device, payload, arrival_time)`` tuples in order; return their events in order."""
        parse = self.parser.parse_values
        max_skew = self.config.checks.max_clock_skew_s
        items: list[tuple[str, float, int, Any]] = []
        rows: list[list[float]] = []
        for device, payload, arrival_time in batch:
            try:
                ts, values, missing = parse(payload, arrival_time=arrival_time)
            except PayloadError as exc:
                items.append((device, float(arrival_time), -1, exc))
                continue
            if ts > arrival_time + max_skew:  # a wrong clock must not become the device's last time
                message = check_clock(ts, arrival_time, max_skew) or ""
                items.append((device, float(arrival_time), -1, PayloadError("future_timestamp", message, field="ts")))
                continue
            items.append((device, ts, len(rows), missing))
            rows.append(values)
        return self._run(items, rows)

    def process_reading(self, device: str, reading: Reading) -> list[Event]:
        """Process one already-parsed reading (NaN values count as missing)."""
        return self.process_readings([(device, reading)])

    def process_readings(self, readings: Sequence[tuple[str, Reading]]) -> list[Event]:
        """Process already-parsed ``(device, reading)`` pairs in order (e.g. rows of a CSV replay)."""
        n_features = len(self.features)
        rows: list[list[float]] = []
        items: list[tuple[str, float, int, Any]] = []
        for device, reading in readings:
            values = np.asarray(reading.values, dtype=np.float64)
            if values.shape != (n_features,):
                raise ValueError(f"reading for {device!r} has shape {values.shape}; expected ({n_features},)")
            items.append((device, float(reading.ts), len(rows), ()))
            rows.append(values.tolist())
        if rows:
            nan_rows = np.flatnonzero(np.isnan(np.array(rows, dtype=np.float64)).any(axis=1))
            for i in nan_rows.tolist():
                device, ts, ri, _ = items[i]
                missing = tuple(name for name, v in zip(self.features, rows[ri], strict=True) if v != v)
                items[i] = (device, ts, ri, missing)
        return self._run(items, rows)

    # ------------------------------------------------------------------ the shared path
    def _run(self, items: list[tuple[str, float, int, Any]], rows: list[list[float]]) -> list[Event]:
        n_features = len(self.features)
        raw = np.array(rows, dtype=np.float64).reshape(len(rows), n_features)
        out_of_range = self._range.violations(raw)
        scaled = self._scaler.transform(raw)
        counters = self.counters
        devices = self.devices
        stuck_update = self._stuck.update
        features = self.features
        run_indicator = self._run_indicator

        pending: list[Any] = []  # events, and (k, device_state, ts) placeholders for scored rows
        windows = BatchWindows(self.window, len(rows))

        for device, ts, ri, extra in items:
            counters["received"] += 1
            dev = devices.get(device) or self._new_device(device)
            if self._refused(dev, ts, ri, extra, raw, out_of_range, pending):
                continue
            dev.last_ts = ts
            counters["accepted"] += 1
            if run_indicator is not None:
                running = rows[ri][run_indicator]
                if running == running:  # a missing run indicator leaves the run state as it was
                    dev.alert.note_run_state(ts, running)

            if extra or dev.missing:
                missing_transition(dev, extra, ts, pending)
                if extra:
                    counters["missing_values"] += 1
                    windows.reset(dev)
                    continue

            started, ended = stuck_update(dev.stuck, rows[ri])
            if ended:
                pending.append(SensorFault(device, "stuck", "recovered", _names(features, ended), ts))
            if started:
                pending.append(SensorFault(device, "stuck", "active", _names(features, started), ts))
            if dev.stuck.n_stuck:
                counters["stuck"] += 1
                windows.reset(dev)
                continue

            k = len(windows.rows)
            if windows.add(dev, ri):
                pending.append((k, dev, ts))
            else:
                counters["window_fill"] += 1

        inputs = windows.finish(scaled)
        if not windows.rows:
            return pending
        return self._decide(pending, inputs)

    def _score(self, inputs: np.ndarray) -> tuple[list[float], np.ndarray]:
        return self._check_scores(self.scorer.score_batch(inputs), inputs.shape[0])

    def _check_scores(self, result: ScoreBatch, n: int) -> tuple[list[float], np.ndarray]:
        scores = np.asarray(result.scores, dtype=np.float64).reshape(-1)
        errors = np.asarray(result.feature_errors, dtype=np.float64)
        if scores.shape != (n,) or errors.shape != (n, len(self.features)):
            raise RuntimeBackendError(
                f"scorer returned scores {scores.shape} and feature_errors {errors.shape} for {n} inputs; "
                f"expected ({n},) and ({n}, {len(self.features)})"
            )
        if not (np.isfinite(scores).all() and np.isfinite(errors).all()):
            raise RuntimeBackendError("scorer returned non-finite scores or feature errors")
        return scores.tolist(), errors

    def _decide(self, pending: list[Any], inputs: np.ndarray) -> list[Event]:
        events: list[Event] = []
        append = events.append
        features = self.features
        sustained_threshold = self.sustained_threshold or 1.0  # only used by devices that have the channel
        recovering = self.config.thresholds.recovering_ratio
        aggregate = self._score_aggregate
        drifting = self._drift
        if not drifting:
            scores, errors = self._score(inputs)
        else:  # by grid cell: a cell's offset depends on the verdicts of the readings before it (core/drift.py)
            segment = _DriftSegment([], [], inputs[:0], inputs[:0])  # none yet
        scored = 0
        for position, item in enumerate(pending):
            if type(item) is not tuple:
                append(item)
                continue
            k, dev, ts = item
            if drifting:
                if k not in segment.scored:  # learn what the last segment taught before scoring the next
                    segment.learn()
                    segment = self._score_drift_segment(pending, position, inputs)
                i, score, row = segment.scored.pop(k)
            else:
                score, row = scores[k], errors[k]
            threshold = dev.threshold
            value = threshold.value
            policy = dev.alert
            operator = dev.operator
            if operator.sensitivity != 1.0:  # an operator's factor: judged against threshold / sensitivity
                value = value / operator.sensitivity
            if operator.maintenance_until is not None and ts < operator.maintenance_until:
                # maintenance (core/operator.py): scored and visible, neither judged nor learned from
                if dev.sustained is not None:
                    dev.sustained.restart()
                active = policy.alert_id is not None
                append(ScoredReading(dev.name, ts, score, value, score > value, active, row, features, None))
                scored += 1
                self.counters["maintenance"] += 1
                continue
            if dev.sustained is None:  # no channel: the score is the verdict (no call on the hot path)
                judged, by_sustained, sustained = score, False, None
            else:
                judged, by_sustained, sustained = judge(
                    policy, dev.sustained, ts, score, row, value, sustained_threshold, recovering, aggregate
                )
            decision = policy.observe(ts, judged, value)
            active = policy.alert_id is not None
            threshold.observe(score, alert_active=active)
            if drifting:
                segment.note(i, dev.drift, ts, policy.suppressed(ts), value)
            append(ScoredReading(dev.name, ts, score, value, judged > value, active, row, features, sustained))
            scored += 1
            if decision is not None:
                append(
                    AlertEvent(
                        device=dev.name,
                        alert_id=decision.alert_id,
                        state=decision.state,
                        severity=decision.severity,
                        ts=ts,
                        score=score,
                        threshold=value,
                        top_features=top_feature_shares(features, dev.sustained.per_feature() if by_sustained else row),
                        model_id=self.model_id,
                        model_version=self.model_version,
                        sustained=sustained,
                        sustained_threshold=None if sustained is None else sustained_threshold,
                        acknowledged=operator.acknowledged(decision.alert_id) if operator.ack_alert_id else None,
                    )
                )
                if decision.state == "cleared" and operator.ack_alert_id is not None:
                    operator.alert_closed()
        if drifting:
            segment.learn()
        self.counters["scored"] += scored
        return events

    def _score_drift_segment(self, pending: list[Any], start: int, inputs: np.ndarray) -> _DriftSegment:
        """Score, in one model call, the readings from ``pending[start]`` on up to the first one whose device
        enters a new grid cell after an earlier reading of the segment (its offset waits for their verdicts);
        each input minus its device's offset."""
        segment: list[int] = []
        offsets: list[np.ndarray] = []
        cells: dict[str, int] = {}
        for item in pending[start:]:
            if type(item) is not tuple:
                continue
            k, dev, ts = item
            cell = math.floor(ts / GRID_S)
            if cells.setdefault(dev.name, cell) != cell:
                break
            segment.append(k)
            offsets.append(dev.drift.offset_for(ts))  # a device's first reading here may apply what it learned
        shape = (len(segment),) + (1,) * (inputs.ndim - 2) + (inputs.shape[-1],)
        x = inputs[segment] - np.stack(offsets).reshape(shape)
        result = self.scorer.score_batch(np.ascontiguousarray(x, dtype=np.float32))
        if result.residuals is None:
            raise RuntimeBackendError("the drift baseline needs a model with a reconstruction")
        scores, errors = self._check_scores(result, len(segment))
        return _DriftSegment(segment, scores, errors, np.asarray(result.residuals, dtype=np.float64))

    # ------------------------------------------------------------------ helpers
    def _resolve_run_indicator(self, name: str) -> int | None:
        """Index of ``alerts.suppress_feature`` among the model's features (None: no suppression)."""
        if not name:
            return None
        if name not in self.features:
            raise ConfigError(
                f"{name!r} is not a feature of model {self.model_id} (features: {', '.join(self.features)})",
                field="alerts.suppress_feature",
            )
        return self.features.index(name)

    def device(self, name: str) -> DeviceState:
        """Device ``name``'s state, created fresh (this model's calibrated threshold) on first use."""
        return self.devices.get(name) or self._new_device(name)

    def _new_threshold(self) -> DeviceThreshold:
        return make_threshold(self.calibrated, self.config.thresholds)

    def _new_device(self, name: str) -> DeviceState:
        channel = self._sustained
        sustained = SustainedLevel(channel.tau_s, channel.fast_tau_s) if channel is not None else None
        thresholds = self.config.thresholds
        drift = (
            DriftBaseline(len(self.features), thresholds.drift_tau_s, thresholds.drift_learn_below)
            if self._drift
            else None
        )
        dev = DeviceState(
            name,
            self._new_threshold(),
            AlertPolicy(name, self.config.alerts),
            self._stuck.new_state(),
            sustained,
            drift,
        )
        self.devices[name] = dev
        return dev

    def _refused(
        self,
        dev: DeviceState,
        ts: float,
        ri: int,
        extra: Any,
        raw: np.ndarray,
        out_of_range: list[bool],
        pending: list[Any],
    ) -> bool:
        """Reject a reading that could not be parsed (``extra`` is its PayloadError), is not after the
        device's last accepted one or is out of range; True when rejected."""
        if ri < 0:
            self._reject(pending, dev.name, extra.reason, str(extra), extra.field, ts)
            return True
        last_ts = dev.last_ts
        if last_ts is not None and ts <= last_ts:
            reason, message = check_order(ts, last_ts) or ("out_of_order", "")
            self._reject(pending, dev.name, reason, message, "ts", ts)
            return True
        if out_of_range[ri]:
            field, message = self._range.explain(raw[ri])
            self._reject(pending, dev.name, "out_of_range", message, field, ts)
            return True
        return False

    def _reject(self, pending: list[Any], device: str, reason: str, message: str, field: str | None, ts: float) -> None:
        self.counters[reason] = self.counters.get(reason, 0) + 1
        pending.append(InputRejected(device, reason, message, field, ts))

    # ------------------------------------------------------------------ persistence
    def state_snapshot(self) -> dict[str, Any]:
        """Every device's saved state as JSON (:mod:`edgewatch.core.state`), for a restart."""
        with gc_paused():
            devices = {name: dev.snapshot() for name, dev in self.devices.items()}
            data: dict[str, Any] = dump(PipelineState(STATE_VERSION, self.model_id, devices))
        return data

    def state_head(self) -> bytes:
        """The state file's bytes before its first device, for a save taken in slices (:meth:`state_slice`)."""
        return encode_head(self.model_id)

    def state_slice(self, names: Iterable[str]) -> bytes:
        """The saved state of those of ``names`` that are devices of this pipeline (the others are left out),
        encoded as members of the state file's ``devices`` object (:func:`~edgewatch.core.state.encode_devices`).

        For a save taken a few devices at a time between batches (the agent's periodic save,
        :class:`edgewatch.agent.state.SlicedSave`): :meth:`state_head`, the slices joined by ``,``, then
        :data:`~edgewatch.core.state.STATE_TAIL` are the bytes of :meth:`state_snapshot` when no device changed
        in between; otherwise each device is as it was when its slice was taken."""
        devices = self.devices
        with gc_paused():
            return encode_devices({name: dev.snapshot() for name in names if (dev := devices.get(name)) is not None})

    def restore(self, data: Any, *, now: float | None = None) -> RestoreReport:
        """Restore a :meth:`state_snapshot` taken with the same model; return what came from where.

        Devices in it replace any current state of the same name, including their stuck-sensor counters
        and missing sensors (so a sensor reported stuck or missing before the restart gets its ``recovered``
        event); windows start afresh. Thresholds follow :mod:`edgewatch.core.restore` (a fixed one is the
        bundle's), and with ``now`` (wall-clock epoch seconds) saved times more than
        ``checks.max_clock_skew_s`` after it are dropped. Raises :class:`ConfigError` naming the bad field,
        before changing anything, if the state is malformed or was saved with another model.
        """
        limit = None if now is None else now + self.config.checks.max_clock_skew_s
        with gc_paused():
            state = load_state(data, self.model_id)
            restored, report = restore_devices(
                state,
                limit,
                calibrated=self.calibrated,
                config=self.config,
                stuck_detector=self._stuck,
                features=self.features,
                channel=self._sustained,
                drift=self._drift,
            )
            self.devices.update(restored)
        return report

    def reopen_alerts(
        self, marks: Mapping[str, tuple[str | None, str | None]]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Open and close device alerts as ``marks`` says (:func:`edgewatch.core.restore.reopen_alerts`)."""
        return reopen_alerts(self.devices, self._new_device, marks)


class _DriftSegment:
    """Readings scored in one model call with their devices' drift offsets (``scored``: ``k -> (row, score,
    feature errors)``), and the verdicts noted for them; :meth:`learn` teaches the baselines all of them at
    once, before the next segment reads an offset (core/drift.py)."""

    __slots__ = ("baselines", "errors", "residuals", "rows", "scored", "suppressed", "thresholds", "timestamps")

    def __init__(self, keys: list[int], scores: list[float], errors: np.ndarray, residuals: np.ndarray) -> None:
        self.scored = {k: (i, scores[i], errors[i]) for i, k in enumerate(keys)}
        self.errors = errors
        self.residuals = residuals
        self.rows: list[int] = []
        self.baselines: list[DriftBaseline] = []
        self.timestamps: list[float] = []
        self.suppressed: list[bool] = []
        self.thresholds: list[float] = []

    def note(self, row: int, baseline: DriftBaseline, ts: float, suppressed: bool, threshold: float) -> None:
        """Row ``row`` was judged against ``threshold``; learn it into ``baseline`` (in the order noted)."""
        self.rows.append(row)
        self.baselines.append(baseline)
        self.timestamps.append(ts)
        self.suppressed.append(suppressed)
        self.thresholds.append(threshold)

    def learn(self) -> None:
        if self.rows:
            rows = self.rows
            residuals, errors = self.residuals[rows], self.errors[rows]
            learn_readings(self.baselines, self.timestamps, self.suppressed, self.thresholds, residuals, errors)
            self.rows = []
            self.baselines = []
            self.timestamps = []
            self.suppressed = []
            self.thresholds = []


def _names(features: tuple[str, ...], indices: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(features[j] for j in indices)
