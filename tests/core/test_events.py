"""Events serialise to JSON-safe dictionaries."""

from __future__ import annotations

import json

import numpy as np

from edgewatch.core.events import (
    AlertEvent,
    FeatureShare,
    InputRejected,
    ScoredReading,
    SensorFault,
    top_feature_shares,
)


def dumps(event) -> dict:
    return json.loads(json.dumps(event.to_json(), allow_nan=False))


def test_scored_reading_json() -> None:
    e = ScoredReading("d1", 12.5, 0.7, 4.0, False, False, np.array([0.1, 0.2, 1.8]), ("a", "b", "c"))
    assert dumps(e) == {
        "event": "scored",
        "device": "d1",
        "ts": 12.5,
        "score": 0.7,
        "threshold": 4.0,
        "above": False,
        "alert_active": False,
        "feature_errors": {"a": 0.1, "b": 0.2, "c": 1.8},
    }


def test_alert_event_json() -> None:
    e = AlertEvent(
        "d1",
        "d1-12500",
        "raised",
        "major",
        12.5,
        9.0,
        4.0,
        (FeatureShare("c", 0.75), FeatureShare("a", 0.25)),
        "dense-ae-0badc0de",
        "v1",
    )
    data = dumps(e)
    assert data["event"] == "alert" and data["state"] == "raised" and data["severity"] == "major"
    assert data["top_features"] == [{"feature": "c", "share": 0.75}, {"feature": "a", "share": 0.25}]
    assert data["model_id"] == "dense-ae-0badc0de" and data["model_version"] == "v1"


def test_rejection_and_fault_json() -> None:
    assert dumps(InputRejected("d", "wrong_type", "feature 'a': ...", "a", 1.0)) == {
        "event": "input_rejected",
        "device": "d",
        "reason": "wrong_type",
        "message": "feature 'a': ...",
        "field": "a",
        "ts": 1.0,
    }
    assert dumps(SensorFault("d", "stuck", "active", ("a", "b"), 2.0)) == {
        "event": "sensor_fault",
        "device": "d",
        "kind": "stuck",
        "state": "active",
        "sensors": ["a", "b"],
        "ts": 2.0,
    }


def test_top_feature_shares() -> None:
    shares = top_feature_shares(("a", "b", "c", "d"), np.array([1.0, 6.0, 2.0, 1.0]))
    assert [s.feature for s in shares] == ["b", "c", "a"]  # tie a/d: manifest order
    assert [round(s.share, 3) for s in shares] == [0.6, 0.2, 0.1]
    assert top_feature_shares(("a", "b"), np.zeros(2)) == ()
    assert len(top_feature_shares(("a", "b"), np.array([1.0, 1.0]))) == 2


def test_top_feature_shares_order_is_numpys_stable_argsort() -> None:
    """Sorted in Python (numpy's sort code stays unpaged, issue 13): the order of ``np.argsort(-e, "stable")``,
    ties in manifest order."""
    rng = np.random.default_rng(3)
    names = tuple(f"f{j}" for j in range(16))
    for _ in range(200):
        errors = rng.integers(0, 4, size=16).astype(np.float64) * rng.choice([1.0, 0.25])
        if errors.sum() <= 0:
            continue
        expected = [names[j] for j in np.argsort(-errors, kind="stable")[:5].tolist()]
        assert [s.feature for s in top_feature_shares(names, errors, top=5)] == expected
