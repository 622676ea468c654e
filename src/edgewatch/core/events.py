"""What the pipeline emits; every event's ``to_json()`` is accepted by ``json.dumps(allow_nan=False)``.

Each JSON form carries ``"event"`` naming its type (``scored``, ``alert``, ``input_rejected``,
``sensor_fault``) and ``ts`` in epoch seconds (the reading's time; for a payload that could not be
parsed, its arrival time). Scores: **higher = more anomalous**; ``above`` means ``score > threshold``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

ALERT_STATES = ("raised", "update", "cleared")
FAULT_KINDS = ("missing", "stuck")
FAULT_STATES = ("active", "recovered")


class FeatureShare(NamedTuple):
    """One feature's share of a reading's total error (shares of all features sum to 1)."""

    feature: str
    share: float


@dataclass(frozen=True, slots=True, eq=False)
class ScoredReading:
    """One scored reading. ``feature_errors`` is float64 ``(F,)`` in the order of ``features``.

    ``above`` is what the alert policy saw: the score, or the sustained-deviation level scaled to the same
    threshold, above ``threshold``. ``sustained`` is that level (None: the bundle has no such channel).
    """

    device: str
    ts: float
    score: float
    threshold: float
    above: bool
    alert_active: bool
    feature_errors: np.ndarray
    features: tuple[str, ...]
    sustained: float | None = None

    def errors_by_feature(self) -> dict[str, float]:
        return dict(zip(self.features, self.feature_errors.tolist(), strict=True))

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "scored",
            "device": self.device,
            "ts": self.ts,
            "score": self.score,
            "threshold": self.threshold,
            "above": self.above,
            "alert_active": self.alert_active,
            "feature_errors": self.errors_by_feature(),
            **({"sustained": self.sustained} if self.sustained is not None else {}),
        }


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A raised / update / cleared alert message; ``severity`` is the alert's peak so far. ``score`` is the
    reading's own score; ``sustained`` the sustained-deviation level and ``sustained_threshold`` its
    threshold (both None: the bundle has no such channel)."""

    device: str
    alert_id: str
    state: str
    severity: str
    ts: float
    score: float
    threshold: float
    top_features: tuple[FeatureShare, ...]
    model_id: str
    model_version: str
    sustained: float | None = None
    sustained_threshold: float | None = None
    acknowledged: tuple[str, float] | None = None  # (by, ts) of an operator's acknowledgement (core/operator.py)

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "alert",
            "device": self.device,
            "alert_id": self.alert_id,
            "state": self.state,
            "severity": self.severity,
            "ts": self.ts,
            "score": self.score,
            "threshold": self.threshold,
            "top_features": [{"feature": f.feature, "share": f.share} for f in self.top_features],
            "model_id": self.model_id,
            "model_version": self.model_version,
            **(
                {"sustained": self.sustained, "sustained_threshold": self.sustained_threshold}
                if self.sustained is not None
                else {}
            ),
            **(
                {"acknowledged": {"by": self.acknowledged[0], "ts": self.acknowledged[1]}}
                if self.acknowledged is not None
                else {}
            ),
        }


@dataclass(frozen=True, slots=True)
class InputRejected:
    """A reading that was not scored because it is unusable; ``reason`` is a short code."""

    device: str
    reason: str
    message: str
    field: str | None
    ts: float

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "input_rejected",
            "device": self.device,
            "reason": self.reason,
            "message": self.message,
            "field": self.field,
            "ts": self.ts,
        }


@dataclass(frozen=True, slots=True)
class SensorFault:
    """Onset (``active``) or end (``recovered``) of missing or stuck values for the named sensors."""

    device: str
    kind: str
    state: str
    sensors: tuple[str, ...]
    ts: float

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "sensor_fault",
            "device": self.device,
            "kind": self.kind,
            "state": self.state,
            "sensors": list(self.sensors),
            "ts": self.ts,
        }


Event = ScoredReading | AlertEvent | InputRejected | SensorFault


def top_feature_shares(features: Sequence[str], feature_errors: np.ndarray, top: int = 3) -> tuple[FeatureShare, ...]:
    """The ``top`` features by share of the error (``error_j / sum(errors)``), largest first (ties in manifest
    order): the sensors an alert names, and ``score``/``replay`` list. Empty if the total is not a positive
    finite number."""
    errors = np.asarray(feature_errors, dtype=np.float64)
    total = float(errors.sum())
    if not (total > 0 and math.isfinite(total)):
        return ()
    values = errors.tolist()  # Python's stable sort, the order of np.argsort(-errors, kind="stable"): numpy's
    order = sorted(range(len(values)), key=lambda j: -values[j])[:top]  # sort code is not paged in for it
    return tuple(FeatureShare(features[j], values[j] / total) for j in order)


def format_shares(shares: Sequence[FeatureShare]) -> str:
    """``"a:0.62|b:0.20"``: compact and CSV-safe (no commas; feature names may contain spaces)."""
    return "|".join(f"{share.feature}:{share.share:.2f}" for share in shares)
