"""Detection metrics: point-wise counts, ranking AUCs, event-level results, and their pooling.

Contract: **a higher score means more anomalous**; ``labels`` are 1 for a fault row and 0 for normal;
``predicted`` is what the detector decided per row (the alert state, or ``score > threshold``).

Rules every function here follows:

* **Zero denominators give NaN**, never 0 or 1 — e.g. precision with no positive predictions, recall
  with no faults in the file, an AUC with only one class. ``to_json`` writes NaN as ``null``.
* **NaN scores** mark rows that were not scored (window warm-up, a rejected or faulty reading). The
  AUCs drop those rows (label and score). Point metrics and events use ``predicted`` for every row, so a
  row that was not scored counts as whatever the detector decided for it (normally "no alert").
* **Pooling** over files (:func:`pool`) adds confusion counts, concatenates event and false-alarm lists
  and normal time, and recomputes the AUCs on the concatenated scored rows of all files. So a pooled AUC
  ranks all rows of all files against each other (it is not the mean of per-file AUCs), which is the
  right question for one fixed threshold deployed on every machine.

Event rules (detection window, delay, false alarm events) are documented in
:mod:`edgewatch.evaluate.events`; the names are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgewatch.evaluate._arrays import as_binary, as_scores, as_seconds
from edgewatch.evaluate.events import (
    EventResult,
    FalseAlarmEvent,
    event_report,
    false_alarm_events,
    false_alarms_per_day,
    normal_duration_s,
    segments,
)

__all__ = [
    "ConfusionCounts",
    "EvaluationResult",
    "EventResult",
    "FalseAlarmEvent",
    "FaultTypeSummary",
    "confusion",
    "evaluate_arrays",
    "event_report",
    "false_alarm_events",
    "false_alarms_per_day",
    "normal_duration_s",
    "pool",
    "pr_auc",
    "roc_auc",
    "segments",
]

UNSPECIFIED_FAULT = "unspecified"

NAN = float("nan")


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else NAN


def _json_float(value: float | None) -> float | None:
    """JSON has no NaN or infinity: write them as ``null``."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


# ---------------------------------------------------------------------------------------------------
# point-wise counts


@dataclass(frozen=True)
class ConfusionCounts:
    """Row counts of a binary decision against labels. ``a + b`` pools two files.

    Every rate is NaN when its denominator is zero (see the module docstring).
    """

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    def __add__(self, other: ConfusionCounts) -> ConfusionCounts:
        if not isinstance(other, ConfusionCounts):
            return NotImplemented
        return ConfusionCounts(self.tp + other.tp, self.fp + other.fp, self.tn + other.tn, self.fn + other.fn)

    @property
    def n(self) -> int:
        """Total number of rows."""
        return self.tp + self.fp + self.tn + self.fn

    @property
    def precision(self) -> float:
        """TP / (TP + FP): the share of alert rows that were faults."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """TP / (TP + FN): the share of fault rows that raised an alert."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """TP / (TP + (FP + FN) / 2), the harmonic mean of precision and recall."""
        return _ratio(self.tp, self.tp + (self.fp + self.fn) / 2)

    @property
    def false_alarm_rate(self) -> float:
        """FP / (FP + TN): the share of normal rows that raised an alert."""
        return _ratio(self.fp, self.fp + self.tn)

    @property
    def missed_alarm_rate(self) -> float:
        """FN / (FN + TP): the share of fault rows that raised no alert (1 - recall)."""
        return _ratio(self.fn, self.fn + self.tp)

    def to_json(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "tn": self.tn,
            "fn": self.fn,
            "precision": _json_float(self.precision),
            "recall": _json_float(self.recall),
            "f1": _json_float(self.f1),
            "false_alarm_rate": _json_float(self.false_alarm_rate),
            "missed_alarm_rate": _json_float(self.missed_alarm_rate),
        }


def confusion(labels: Any, predicted: Any) -> ConfusionCounts:
    """Count TP/FP/TN/FN of ``predicted`` (bool or 0/1 per row) against ``labels`` (0/1 per row)."""
    lab = as_binary(labels, "labels")
    pred = as_binary(predicted, "predicted")
    if lab.shape != pred.shape:
        raise ValueError(f"labels and predicted differ in length: {lab.shape[0]} vs {pred.shape[0]}")
    tp = int(np.count_nonzero(lab & pred))
    fp = int(np.count_nonzero(~lab & pred))
    fn = int(np.count_nonzero(lab & ~pred))
    return ConfusionCounts(tp=tp, fp=fp, tn=int(lab.shape[0]) - tp - fp - fn, fn=fn)


# ---------------------------------------------------------------------------------------------------
# ranking metrics


def _scored(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    lab = as_binary(labels, "labels")
    sc = as_scores(scores, lab.shape[0])
    keep = ~np.isnan(sc)
    return lab[keep], sc[keep]


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``; tied values share the average of their ranks."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)  # rank of the last member of each tie group
    average = last - (counts - 1) / 2.0
    return average[inverse]


def roc_auc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve: P(score of a fault row > score of a normal row), ties counting 1/2.

    Rank-based (Mann–Whitney U). Rows whose score is NaN are dropped; ±inf scores are ranked normally.
    NaN when the remaining rows hold only one class.
    """
    lab, sc = _scored(labels, scores)
    n_pos = int(lab.sum())
    n_neg = int(lab.shape[0]) - n_pos
    if n_pos == 0 or n_neg == 0:
        return NAN
    ranks = _average_ranks(sc)
    u = float(ranks[lab].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def pr_auc(labels: Any, scores: Any) -> float:
    """Average precision: ``sum_k (R_k - R_{k-1}) * P_k`` over the distinct score thresholds.

    Step-wise, without interpolation, matching scikit-learn's ``average_precision_score``. Rows whose
    score is NaN are dropped. NaN when no scored row is a fault; a baseline detector scores about the
    fault share of the rows, a perfect one 1.0.
    """
    lab, sc = _scored(labels, scores)
    n_pos = int(lab.sum())
    if n_pos == 0:
        return NAN
    order = np.argsort(-sc, kind="mergesort")
    sc_sorted = sc[order]
    lab_sorted = lab[order].astype(np.float64)
    # the last row of each group of equal scores is where that threshold's counts are read
    last_of_group = np.flatnonzero(sc_sorted[1:] != sc_sorted[:-1])
    last_of_group = np.append(last_of_group, sc_sorted.shape[0] - 1)
    tps = np.cumsum(lab_sorted)[last_of_group]
    predicted_pos = last_of_group + 1.0
    precision = tps / predicted_pos
    recall = tps / n_pos
    gains = np.diff(np.concatenate(([0.0], recall)))
    return float(np.sum(gains * precision))


# ---------------------------------------------------------------------------------------------------
# the full result of one file or of a pool of files


@dataclass(frozen=True)
class FaultTypeSummary:
    """Event results of one fault type. Recall and delays are NaN where undefined."""

    fault_type: str
    events: int
    detected: int
    recall: float
    median_delay_s: float
    mean_delay_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "fault_type": self.fault_type,
            "events": self.events,
            "detected": self.detected,
            "recall": _json_float(self.recall),
            "median_delay_s": _json_float(self.median_delay_s),
            "mean_delay_s": _json_float(self.mean_delay_s),
        }


def _delays(events: Iterable[EventResult]) -> list[float]:
    return [e.delay_s for e in events if e.detected and e.delay_s is not None]


def _median(values: Sequence[float]) -> float:
    return float(np.median(values)) if len(values) else NAN


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else NAN


@dataclass(frozen=True)
class EvaluationResult:
    """Every metric of one file, or of several files pooled with :func:`pool`.

    ``auc_labels``/``auc_scores`` keep the scored rows (NaN scores removed) so that pooled AUCs can be
    recomputed; they are not part of :meth:`to_json`. Derived figures are properties, so a pooled
    result is always consistent with its counts and event lists.
    """

    counts: ConfusionCounts
    roc_auc: float
    pr_auc: float
    events: tuple[EventResult, ...]
    false_alarms: tuple[FalseAlarmEvent, ...]
    normal_duration_s: float
    n_rows: int
    n_scored: int
    tolerance_s: float = 0.0
    sources: tuple[str, ...] = ()
    auc_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False, compare=False)
    auc_scores: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)

    # point metrics -------------------------------------------------------------------------------
    @property
    def precision(self) -> float:
        return self.counts.precision

    @property
    def recall(self) -> float:
        return self.counts.recall

    @property
    def f1(self) -> float:
        return self.counts.f1

    @property
    def false_alarm_rate(self) -> float:
        return self.counts.false_alarm_rate

    @property
    def missed_alarm_rate(self) -> float:
        return self.counts.missed_alarm_rate

    # events --------------------------------------------------------------------------------------
    @property
    def n_events(self) -> int:
        return len(self.events)

    @property
    def n_detected(self) -> int:
        return sum(1 for e in self.events if e.detected)

    @property
    def event_recall(self) -> float:
        """Detected events / labelled events; NaN when there are no labelled events."""
        return _ratio(self.n_detected, self.n_events)

    @property
    def mean_delay_s(self) -> float:
        """Mean detection delay over detected events; NaN when none was detected."""
        return _mean(_delays(self.events))

    @property
    def median_delay_s(self) -> float:
        """Median detection delay over detected events; NaN when none was detected."""
        return _median(_delays(self.events))

    @property
    def n_false_alarms(self) -> int:
        return len(self.false_alarms)

    @property
    def false_alarms_per_day(self) -> float:
        """False alarm events per 24 h of normal time; NaN without normal time."""
        return false_alarms_per_day(self.n_false_alarms, self.normal_duration_s)

    @property
    def per_fault_type(self) -> dict[str, FaultTypeSummary]:
        """Event results per fault type, sorted by name; events without a type are ``"unspecified"``."""
        groups: dict[str, list[EventResult]] = {}
        for e in self.events:
            groups.setdefault(e.fault_type or UNSPECIFIED_FAULT, []).append(e)
        out = {}
        for name in sorted(groups):
            evs = groups[name]
            detected = sum(1 for e in evs if e.detected)
            delays = _delays(evs)
            out[name] = FaultTypeSummary(
                fault_type=name,
                events=len(evs),
                detected=detected,
                recall=_ratio(detected, len(evs)),
                median_delay_s=_median(delays),
                mean_delay_s=_mean(delays),
            )
        return out

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary (NaN written as ``None``)."""
        return {
            "n_rows": self.n_rows,
            "n_scored": self.n_scored,
            "sources": list(self.sources),
            "counts": self.counts.to_json(),
            "point": {
                "precision": _json_float(self.precision),
                "recall": _json_float(self.recall),
                "f1": _json_float(self.f1),
                "false_alarm_rate": _json_float(self.false_alarm_rate),
                "missed_alarm_rate": _json_float(self.missed_alarm_rate),
            },
            "roc_auc": _json_float(self.roc_auc),
            "pr_auc": _json_float(self.pr_auc),
            "events": {
                "tolerance_s": self.tolerance_s,
                "labelled": self.n_events,
                "detected": self.n_detected,
                "recall": _json_float(self.event_recall),
                "mean_delay_s": _json_float(self.mean_delay_s),
                "median_delay_s": _json_float(self.median_delay_s),
                "list": [e.to_json() for e in self.events],
            },
            "false_alarms": {
                "events": self.n_false_alarms,
                "normal_duration_s": self.normal_duration_s,
                "per_day": _json_float(self.false_alarms_per_day),
                "list": [f.to_json() for f in self.false_alarms],
            },
            "per_fault_type": {k: v.to_json() for k, v in self.per_fault_type.items()},
        }


def evaluate_arrays(
    labels: Any,
    predicted: Any,
    scores: Any,
    timestamps: Any,
    fault_types: Any = None,
    *,
    tolerance_s: float = 0.0,
    source: str = "",
    channels: Sequence[Any] | None = None,
) -> EvaluationResult:
    """Evaluate one file: every array has one entry per row, in time order.

    ``scores`` may hold NaN for rows that were not scored (dropped from the AUCs only). ``source``
    names the file in event lists. ``tolerance_s`` extends each event's detection window and
    ``channels`` (the flags whose union is ``predicted``) are credited separately (see
    :mod:`edgewatch.evaluate.events`).
    """
    lab = as_binary(labels, "labels")
    n = lab.shape[0]
    pred = as_binary(predicted, "predicted")
    if pred.shape[0] != n:
        raise ValueError(f"predicted has {pred.shape[0]} rows, expected {n}")
    sc = as_scores(scores, n)
    t = as_seconds(timestamps, n)
    keep = ~np.isnan(sc)
    return EvaluationResult(
        counts=confusion(lab, pred),
        roc_auc=roc_auc(lab, sc),
        pr_auc=pr_auc(lab, sc),
        events=tuple(
            event_report(lab, pred, t, fault_types, tolerance_s=tolerance_s, source=source, channels=channels)
        ),
        false_alarms=tuple(false_alarm_events(lab, pred, t, tolerance_s=tolerance_s, source=source)),
        normal_duration_s=normal_duration_s(lab, t),
        n_rows=n,
        n_scored=int(keep.sum()),
        tolerance_s=float(tolerance_s),
        sources=(source,) if source else (),
        auc_labels=lab[keep],
        auc_scores=sc[keep],
    )


def pool(results: Sequence[EvaluationResult]) -> EvaluationResult:
    """Pool per-file results: add counts and normal time, concatenate events, recompute the AUCs.

    The AUCs are computed on the concatenation of every file's scored rows (see the module docstring).
    All results must share one ``tolerance_s``.
    """
    if not results:
        raise ValueError("pool() needs at least one EvaluationResult")
    tolerances = {r.tolerance_s for r in results}
    if len(tolerances) > 1:
        raise ValueError(f"cannot pool results evaluated with different tolerances: {sorted(tolerances)}")
    counts = ConfusionCounts()
    for r in results:
        counts = counts + r.counts
    auc_labels = np.concatenate([r.auc_labels for r in results]).astype(bool)
    auc_scores = np.concatenate([r.auc_scores for r in results]).astype(np.float64)
    return EvaluationResult(
        counts=counts,
        roc_auc=roc_auc(auc_labels, auc_scores),
        pr_auc=pr_auc(auc_labels, auc_scores),
        events=tuple(e for r in results for e in r.events),
        false_alarms=tuple(f for r in results for f in r.false_alarms),
        normal_duration_s=float(sum(r.normal_duration_s for r in results)),
        n_rows=sum(r.n_rows for r in results),
        n_scored=sum(r.n_scored for r in results),
        tolerance_s=results[0].tolerance_s,
        sources=tuple(s for r in results for s in r.sources),
        auc_labels=auc_labels,
        auc_scores=auc_scores,
    )
