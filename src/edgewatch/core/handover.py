"""Handing devices over from the live model to a new one, and the tally that decides whether to.

A new model is first scored *in shadow*: the agent runs a second :class:`~edgewatch.core.pipeline.Pipeline`
around it on the very same batches as the live one and publishes only the live one's events.
:class:`Tally` counts, per model, the readings it scored, the anomalous ones (``score > threshold``, what
would feed an alert) and the alerts it raised; :func:`within_bound` compares the two.

:func:`hand_over` then moves to the new pipeline what still applies to it. Kept from the live model, because
it belongs to the machine and its sensors rather than to a model: the alert state (an alert raised by the
old model is continued, updated and cleared by the new one, under the same id, so no raised alert is left
without its ``cleared``), the run state behind suppression, the last accepted timestamp (so no reading is
accepted twice), the missing sensors, the stuck-sensor counters, what operators set (maintenance, sensitivity, an
acknowledgement) and when its messages came (silence). Kept from the new model's own shadow
run, because it belongs to the model: its threshold (calibrated for it, and for an adaptive one learned on
the shadow readings), its sustained-deviation averages and its windows. A device the new model did not see
in shadow starts its threshold and averages afresh from the new bundle. Both pipelines must have the same
features (the agent checks that before the shadow starts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edgewatch.core.alerts import AlertPolicy
from edgewatch.core.events import AlertEvent, Event, ScoredReading
from edgewatch.core.pipeline import Pipeline


@dataclass
class Tally:
    """What one model made of the shadow period's readings."""

    scored: int = 0
    anomalous: int = 0  # scored readings judged above the threshold
    alerts_raised: int = 0

    def add(self, events: Iterable[Event]) -> None:
        for event in events:
            if isinstance(event, ScoredReading):
                self.scored += 1
                self.anomalous += event.above
            elif isinstance(event, AlertEvent) and event.state == "raised":
                self.alerts_raised += 1

    @property
    def rate(self) -> float:
        """The share of scored readings that were anomalous (0 before any was scored)."""
        return self.anomalous / self.scored if self.scored else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "scored": self.scored,
            "anomalous": self.anomalous,
            "anomalous_rate": round(self.rate, 6),
            "alerts_raised": self.alerts_raised,
        }


def within_bound(live: Tally, new: Tally, max_increase: float) -> bool:
    """True when the new model's anomalous-reading rate exceeds the live one's by at most ``max_increase``."""
    return new.rate <= live.rate + max_increase + 1e-12


def hand_over(live: Pipeline, new: Pipeline) -> int:
    """Move what still applies of every live device into ``new`` (see the module docstring); the number of
    devices handed over. ``live`` must not be used afterwards."""
    if live.features != new.features:
        raise ValueError(f"cannot hand over between models of different features: {live.features} != {new.features}")
    for name, old in live.devices.items():
        device = new.device(name)
        device.alert = AlertPolicy.restore(name, old.alert.snapshot(), new.config.alerts)
        device.last_ts = old.last_ts
        device.missing = old.missing
        device.stuck = old.stuck
        device.operator = old.operator  # what operators set and when messages came belong to the machine too
        device.silence = old.silence
    return len(live.devices)
