"""Point metrics, AUCs, EvaluationResult and pooling."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from edgewatch.errors import DataError
from edgewatch.evaluate.metrics import (
    ConfusionCounts,
    EvaluationResult,
    confusion,
    evaluate_arrays,
    pool,
    pr_auc,
    roc_auc,
)

# ---------------------------------------------------------------------------------------------------
# confusion counts


def test_confusion_counts_hand_example() -> None:
    labels = [1, 1, 1, 0, 0, 0, 0, 0, 1, 0]
    predicted = [1, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    c = confusion(labels, predicted)
    assert c == ConfusionCounts(tp=2, fp=1, tn=5, fn=2)
    assert c.n == 10
    assert c.precision == pytest.approx(2 / 3)
    assert c.recall == pytest.approx(0.5)
    assert c.f1 == pytest.approx(2 / (2 + (1 + 2) / 2))  # = 4/7
    assert c.f1 == pytest.approx(2 * c.precision * c.recall / (c.precision + c.recall))
    assert c.false_alarm_rate == pytest.approx(1 / 6)
    assert c.missed_alarm_rate == pytest.approx(0.5)


def test_confusion_accepts_bools() -> None:
    c = confusion(np.array([True, False]), np.array([True, True]))
    assert (c.tp, c.fp, c.tn, c.fn) == (1, 1, 0, 0)


def test_confusion_counts_add_pools_files() -> None:
    a = ConfusionCounts(tp=1, fp=2, tn=3, fn=4)
    b = ConfusionCounts(tp=10, fp=20, tn=30, fn=40)
    assert a + b == ConfusionCounts(tp=11, fp=22, tn=33, fn=44)
    assert sum([a, b], ConfusionCounts()) == a + b


@pytest.mark.parametrize(
    ("counts", "nan_fields"),
    [
        (ConfusionCounts(tp=0, fp=0, tn=5, fn=0), {"precision", "recall", "f1", "missed_alarm_rate"}),
        (ConfusionCounts(tp=0, fp=0, tn=0, fn=3), {"precision", "false_alarm_rate"}),
        (ConfusionCounts(tp=2, fp=0, tn=0, fn=0), {"false_alarm_rate"}),
        (ConfusionCounts(), {"precision", "recall", "f1", "false_alarm_rate", "missed_alarm_rate"}),
    ],
)
def test_zero_denominators_give_nan(counts: ConfusionCounts, nan_fields: set[str]) -> None:
    for name in ("precision", "recall", "f1", "false_alarm_rate", "missed_alarm_rate"):
        value = getattr(counts, name)
        assert math.isnan(value) == (name in nan_fields), name
    assert json.dumps(counts.to_json(), allow_nan=False)  # NaN is written as null


def test_no_faults_no_alerts_is_perfectly_quiet_but_recall_undefined() -> None:
    c = confusion([0, 0, 0], [0, 0, 0])
    assert c.false_alarm_rate == 0.0
    assert math.isnan(c.recall) and math.isnan(c.precision)


def test_confusion_rejects_bad_input() -> None:
    with pytest.raises(DataError, match="labels must be 0 or 1"):
        confusion([0, 2], [0, 1])
    with pytest.raises(ValueError, match="differ in length"):
        confusion([0, 1], [0, 1, 1])


# ---------------------------------------------------------------------------------------------------
# AUCs


def test_roc_and_pr_auc_known_example() -> None:
    # the example of scikit-learn's documentation
    labels = [0, 0, 1, 1]
    scores = [0.1, 0.4, 0.35, 0.8]
    assert roc_auc(labels, scores) == pytest.approx(0.75)
    # thresholds 0.8: P=1, R=.5; 0.4: P=.5, R=.5; 0.35: P=2/3, R=1  ->  .5*1 + 0 + .5*2/3
    assert pr_auc(labels, scores) == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_auc_ties_count_half() -> None:
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert roc_auc([0, 0, 1, 1], [1, 2, 2, 3]) == pytest.approx((1 + 1 + 0.5 + 1) / 4)
    # all tied: one threshold, precision = prevalence
    assert pr_auc([0, 1, 1, 0], [7, 7, 7, 7]) == pytest.approx(0.5)


def test_auc_perfect_and_inverted() -> None:
    assert roc_auc([0, 0, 1], [0.1, 0.2, 5.0]) == 1.0
    assert roc_auc([0, 0, 1], [3.0, 2.0, 1.0]) == 0.0
    assert pr_auc([0, 0, 1], [0.1, 0.2, 5.0]) == 1.0


def test_auc_single_class_is_nan() -> None:
    assert math.isnan(roc_auc([0, 0, 0], [1, 2, 3]))
    assert math.isnan(roc_auc([1, 1], [1, 2]))
    assert math.isnan(pr_auc([0, 0, 0], [1, 2, 3]))
    assert pr_auc([1, 1], [1, 2]) == 1.0  # every threshold has precision 1


def test_auc_drops_nan_scores() -> None:
    labels = [0, 1, 1, 0, 1, 0]
    scores = [0.1, np.nan, 0.9, 0.2, 0.8, np.nan]
    assert roc_auc(labels, scores) == roc_auc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]) == 1.0
    assert math.isnan(roc_auc([0, 1], [0.3, np.nan]))  # only one class left


def test_auc_handles_infinite_scores() -> None:
    labels = [0, 1, 1, 0, 1]
    scores = [0.1, np.inf, np.inf, -np.inf, 0.5]
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, [0.1, 1e300, 1e300, -1e300, 0.5]))
    assert pr_auc(labels, scores) == pytest.approx(
        average_precision_score(labels, [0.1, 1e300, 1e300, -1e300, 0.5])
    )


@pytest.mark.parametrize("seed", range(25))
def test_auc_matches_sklearn_on_random_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 2000))
    labels = (rng.random(n) < rng.uniform(0.02, 0.5)).astype(int)
    labels[:2] = [0, 1]
    if seed % 3 == 0:
        scores = rng.integers(0, 6, n).astype(float)  # many ties
    else:
        scores = rng.lognormal(size=n) + labels * rng.uniform(0, 2)
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert pr_auc(labels, scores) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)


# ---------------------------------------------------------------------------------------------------
# EvaluationResult


def _file_a() -> EvaluationResult:
    #          0  1  2  3  4  5  6  7  8  9
    labels = [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    predicted = [0, 0, 0, 1, 1, 1, 0, 1, 0, 0]
    scores = [np.nan, 0.1, 0.3, 2.0, 3.0, 1.5, 0.2, 1.1, 0.1, 0.2]
    ts = np.arange(10) * 60.0
    return evaluate_arrays(
        labels, predicted, scores, ts, ["", "", "drift", "drift", "drift"] + [""] * 5, source="a.csv"
    )


def _file_b() -> EvaluationResult:
    labels = [0, 1, 1, 0, 0, 1, 0]
    predicted = [0, 0, 0, 0, 0, 1, 0]
    scores = [0.1, 0.2, 0.1, 0.3, 0.2, 5.0, 0.1]
    ts = 1000.0 + np.arange(7) * 10.0
    return evaluate_arrays(
        labels, predicted, scores, ts, ["", "spike", "spike", "", "", "drift", ""], source="b.csv"
    )


def test_evaluate_arrays_hand_example() -> None:
    r = _file_a()
    assert r.counts == ConfusionCounts(tp=2, fp=2, tn=5, fn=1)
    assert r.n_rows == 10 and r.n_scored == 9
    assert r.precision == pytest.approx(0.5)
    assert r.recall == pytest.approx(2 / 3)
    assert r.f1 == pytest.approx(2 / (2 + 1.5))
    assert r.false_alarm_rate == pytest.approx(2 / 7)
    # the NaN row (label 0) is dropped from the AUC only
    assert r.roc_auc == pytest.approx(
        roc_auc_score([0, 1, 1, 1, 0, 0, 0, 0, 0], [0.1, 0.3, 2.0, 3.0, 1.5, 0.2, 1.1, 0.1, 0.2])
    )
    assert r.n_events == 1 and r.n_detected == 1
    (event,) = r.events
    assert (event.start, event.end, event.fault_type, event.first_detection_row) == (2, 5, "drift", 3)
    assert event.delay_s == pytest.approx(60.0)
    assert r.event_recall == 1.0
    assert r.median_delay_s == r.mean_delay_s == pytest.approx(60.0)
    # rows 5 continues the detecting run (overlaps the event); row 7 is a separate false alarm
    assert [(f.start, f.end) for f in r.false_alarms] == [(7, 8)]
    assert r.normal_duration_s == pytest.approx(7 * 60.0)
    assert r.false_alarms_per_day == pytest.approx(1 / (7 * 60.0) * 86400)


def test_per_fault_type_table() -> None:
    r = _file_b()
    table = r.per_fault_type
    assert list(table) == ["drift", "spike"]
    assert table["spike"].events == 1 and table["spike"].detected == 0
    assert table["spike"].recall == 0.0 and math.isnan(table["spike"].median_delay_s)
    assert table["drift"].recall == 1.0 and table["drift"].median_delay_s == 0.0


def test_events_without_type_are_unspecified() -> None:
    r = evaluate_arrays([0, 1, 0], [0, 1, 0], [0.0, 1.0, 0.0], [0.0, 1.0, 2.0])
    assert list(r.per_fault_type) == ["unspecified"]


def test_pool_adds_counts_and_concatenates_events() -> None:
    a, b = _file_a(), _file_b()
    p = pool([a, b])
    assert p.counts == a.counts + b.counts
    assert p.n_rows == 17 and p.n_scored == 16
    assert p.events == a.events + b.events
    assert [e.source for e in p.events] == ["a.csv", "b.csv", "b.csv"]
    assert p.n_detected == 2 and p.event_recall == pytest.approx(2 / 3)
    assert p.median_delay_s == pytest.approx(30.0)  # delays 60 s and 0 s
    assert p.false_alarms == a.false_alarms + b.false_alarms
    assert p.normal_duration_s == pytest.approx(a.normal_duration_s + b.normal_duration_s)
    assert p.sources == ("a.csv", "b.csv")
    per_type = p.per_fault_type
    assert (per_type["drift"].events, per_type["drift"].detected) == (2, 2)
    # pooled AUC is the AUC of the concatenated scored rows, not the mean of per-file AUCs
    labels = np.concatenate([a.auc_labels, b.auc_labels])
    scores = np.concatenate([a.auc_scores, b.auc_scores])
    assert p.roc_auc == pytest.approx(roc_auc_score(labels, scores))
    assert p.pr_auc == pytest.approx(average_precision_score(labels, scores))
    assert pool([a]).counts == a.counts


def test_pool_rejects_empty_and_mixed_tolerances() -> None:
    with pytest.raises(ValueError):
        pool([])
    r = evaluate_arrays([0, 1], [0, 1], [0, 1], [0, 1], tolerance_s=5.0)
    with pytest.raises(ValueError, match="tolerances"):
        pool([r, _file_a()])


def test_to_json_is_strict_json() -> None:
    r = pool([_file_a(), _file_b()])
    data = json.loads(json.dumps(r.to_json(), allow_nan=False))
    assert data["counts"]["tp"] == r.counts.tp
    assert data["events"]["labelled"] == 3
    assert data["per_fault_type"]["spike"]["median_delay_s"] is None
    assert data["roc_auc"] == pytest.approx(r.roc_auc)
    assert len(data["events"]["list"]) == 3 and data["events"]["list"][0]["source"] == "a.csv"
    assert "auc_scores" not in json.dumps(data)


def test_result_of_a_file_without_faults() -> None:
    r = evaluate_arrays([0, 0, 0, 0], [0, 1, 1, 0], [0.1, 2, 3, 0.1], [0, 10, 20, 30])
    assert math.isnan(r.roc_auc) and math.isnan(r.pr_auc)
    assert math.isnan(r.event_recall) and math.isnan(r.median_delay_s)
    assert r.n_false_alarms == 1
    assert r.false_alarms_per_day == pytest.approx(86400 / 40)
    json.dumps(r.to_json(), allow_nan=False)


def test_evaluate_arrays_validates_lengths() -> None:
    with pytest.raises(ValueError):
        evaluate_arrays([0, 1], [0, 1], [0.1], [0, 1])
    with pytest.raises(ValueError):
        evaluate_arrays([0, 1], [0, 1], [0.1, 0.2], [0])
    with pytest.raises(DataError, match="decrease"):
        evaluate_arrays([0, 1], [0, 1], [0.1, 0.2], [5, 1])
