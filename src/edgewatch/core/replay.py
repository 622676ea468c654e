"""Replaying a recording through exactly the agent's pipeline (edge-safe: numpy + one runtime).

The clock is the recording's timestamps, so the thresholds, the alert policy and the alert ids are
the ones a device would have produced for the same readings. ``edgewatch replay`` writes the per-row
outcome; ``edgewatch evaluate`` compares it with labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from edgewatch.core.config import PipelineConfig
from edgewatch.core.events import AlertEvent, Event, InputRejected, ScoredReading, SensorFault
from edgewatch.core.payload import Reading
from edgewatch.core.pipeline import Pipeline, Scorer

if TYPE_CHECKING:
    from edgewatch.bundle.manifest import Manifest


class Rows(Protocol):
    """Readings in time order (an :class:`edgewatch.data.rows.Recording`)."""

    @property
    def timestamps(self) -> np.ndarray: ...

    @property
    def values(self) -> np.ndarray: ...


@dataclass
class ReplayResult:
    """Per-row outcome of a replay. ``status`` is ``scored``, ``window``, ``missing``, ``stuck`` or
    ``rejected:<reason>``; ``score``/``threshold`` are NaN where nothing was scored. ``flagged`` is
    true where the device would have been in an alert *or* a sensor-fault state for that reading.

    ``sustained`` is the sustained-deviation level scaled to the per-reading threshold
    (``level * threshold / sustained_threshold``, the value the alert policy compares with ``threshold``),
    NaN where nothing was scored, while the moving average warms up, or for a bundle without the channel."""

    device: str
    timestamps: np.ndarray
    status: list[str]
    score: np.ndarray
    threshold: np.ndarray
    alert_active: np.ndarray
    sensor_fault_active: np.ndarray
    feature_errors: np.ndarray
    sustained: np.ndarray
    events: list[tuple[int, Event]] = field(default_factory=list)  # (row index, event)
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def flagged(self) -> np.ndarray:
        either: np.ndarray = self.alert_active | self.sensor_fault_active
        return either

    def alert_events(self) -> list[tuple[int, AlertEvent]]:
        return [(i, e) for i, e in self.events if isinstance(e, AlertEvent)]


def replay(
    rows: Rows,
    scorer: Scorer,
    manifest: Manifest,
    *,
    device: str = "replay",
    config: PipelineConfig | None = None,
) -> ReplayResult:
    """Feed every row of ``rows`` (values in the bundle's feature order) to a fresh :class:`Pipeline`."""
    pipeline = Pipeline(manifest, scorer, config)
    sustained_threshold = pipeline.sustained_threshold
    n = len(rows.timestamps)
    result = ReplayResult(
        device=device,
        timestamps=rows.timestamps,
        status=["window"] * n,
        score=np.full(n, np.nan),
        threshold=np.full(n, np.nan),
        alert_active=np.zeros(n, dtype=bool),
        sensor_fault_active=np.zeros(n, dtype=bool),
        feature_errors=np.zeros((n, manifest.n_features)),
        sustained=np.full(n, np.nan),
    )
    counters = pipeline.counters
    alert_active = False
    faults: dict[str, bool] = {}  # sensor-fault kind+sensors -> active
    for i in range(n):
        before_stuck, before_missing = counters["stuck"], counters["missing_values"]
        reading = Reading(ts=float(rows.timestamps[i]), values=rows.values[i])
        events = pipeline.process_reading(device, reading)
        for event in events:
            result.events.append((i, event))
            if isinstance(event, ScoredReading):
                result.status[i] = "scored"
                result.score[i] = event.score
                result.threshold[i] = event.threshold
                result.feature_errors[i] = event.feature_errors
                if event.sustained is not None and sustained_threshold is not None:
                    result.sustained[i] = event.sustained * event.threshold / sustained_threshold
            elif isinstance(event, InputRejected):
                result.status[i] = f"rejected:{event.reason}"
            elif isinstance(event, AlertEvent):
                if event.state == "raised":
                    alert_active = True
                elif event.state == "cleared":
                    alert_active = False
            elif isinstance(event, SensorFault):
                faults[f"{event.kind}:{','.join(event.sensors)}"] = event.state == "active"
        if counters["stuck"] > before_stuck:
            result.status[i] = "stuck"
        elif counters["missing_values"] > before_missing:
            result.status[i] = "missing"
        result.alert_active[i] = alert_active
        result.sensor_fault_active[i] = any(faults.values())
    result.counters = dict(counters)
    return result
