"""An evaluation run as people read it: the plain-text table ``edgewatch evaluate`` prints, and the HTML
report (:mod:`edgewatch.evaluate.report`) with the run's model card and alert life cycle."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from edgewatch.evaluate.lifecycle import CHATTER_S, POST_FAULT_S, LifecycleResult
from edgewatch.evaluate.metrics import EvaluationResult

if TYPE_CHECKING:
    from edgewatch.evaluate.run import EvaluationRun

__all__ = ["format_table", "render_run_report"]


def _pct(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _num(x: float, fmt: str = ".3f") -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, fmt)


def _dur(seconds: float) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


MAX_NAME = 40


def _name(name: str, width: int) -> str:
    """A file name fitted to ``width``: the end of a long path is what tells files apart."""
    return name if len(name) <= width else "…" + name[-(width - 1) :]


def format_table(run: EvaluationRun) -> str:
    """A plain-text summary: one line per file and the pooled line, the per-fault-type table, and the alert
    life cycle per file and pooled."""
    width = min(max([24, *(len(f.name) for f in run.files)]), MAX_NAME)
    header = (
        f"{'file':{width}s} {'rows':>7s} {'prec':>6s} {'recall':>6s} {'F1':>6s} {'FAR':>6s} {'MAR':>6s} "
        f"{'events':>7s} {'ev.rec':>6s} {'delay':>6s} {'FA/day':>7s} {'ROC':>6s} {'PR':>6s}"
    )
    if run.protocol == "per-file-train":
        header += "  model run, INT8 gate"
    lines = [header, "-" * len(header)]

    def row(name: str, r: EvaluationResult, extra: str = "") -> str:
        return (
            f"{_name(name, width):{width}s} {r.n_rows:7d} {_pct(r.precision):>6s} {_pct(r.recall):>6s} "
            f"{_num(r.f1):>6s} {_pct(r.false_alarm_rate):>6s} {_pct(r.missed_alarm_rate):>6s} "
            f"{f'{r.n_detected}/{r.n_events}':>7s} {_pct(r.event_recall):>6s} {_dur(r.median_delay_s):>6s} "
            f"{_num(r.false_alarms_per_day, '.2f'):>7s} {_num(r.roc_auc):>6s} {_num(r.pr_auc):>6s}{extra}"
        )

    for f in run.files:
        extra = ""
        if f.fidelity_passed is not None:
            gate = "passed" if f.fidelity_passed else "FAILED (" + "; ".join(f.fidelity_failures)[:60] + ")"
            extra = f"  {f.artifact}, {gate}"
        lines.append(row(f.name, f.result, extra))
    pooled = f"pooled ({len(run.files)} files)"
    if len(run.files) > 1:
        lines.append("-" * len(header))
        lines.append(row(pooled, run.pooled))
    per_type = run.pooled.per_fault_type
    if per_type and not (len(per_type) == 1 and "unspecified" in per_type):
        lines.append("")
        lines.append(f"{'fault type':20s} {'events':>6s} {'caught':>6s} {'recall':>7s} {'median delay':>12s}")
        for name, s in per_type.items():
            lines.append(f"{name:20s} {s.events:6d} {s.detected:6d} {_pct(s.recall):>7s} {_dur(s.median_delay_s):>12s}")
    lines.append("")
    lines.extend(_lifecycle_lines(run, width, pooled))
    lines.append("")
    lines.append(
        "prec/recall/F1/FAR/MAR are point-wise (per row, FAR = FP/(FP+TN), MAR = FN/(FN+TP)); "
        "ev.rec = labelled fault events with a flagged row of an alert or sensor fault raised during an event "
        "(an alert raised before the fault is a false alarm); delay = median from fault start to first flag; "
        "FA/day = false alarm events per day of normal time; ROC/PR = AUCs of the raw score."
    )
    lines.append(
        "Alert life cycle: FAR of the normal rows before the first fault, after it, and within "
        f"{POST_FAULT_S / 3600:g} h after a fault's last row; raised = alerts (sensor faults not counted), "
        "in faults = those overlapping a fault or raised in its detection tolerance, per event = in faults / "
        f"detected events; chatter = raised within {CHATTER_S / 60:g} min of the previous clear, not in a new "
        "fault; clear = from a fault's last row to its last alert's clear (median, max; open = still active "
        "at the end)."
    )
    return "\n".join(lines)


def _lifecycle_lines(run: EvaluationRun, width: int, pooled: str) -> list[str]:
    header = (
        f"{'alert life cycle':{width}s} {'FAR pre':>7s} {'post':>6s} {'≤1h':>6s} {'raised':>6s} {'in flt':>6s} "
        f"{'per ev':>6s} {'chat':>5s} {'clear':>6s} {'max':>6s} {'open':>4s}"
    )

    def row(name: str, c: LifecycleResult) -> str:
        return (
            f"{_name(name, width):{width}s} {_pct(c.before_fault.rate):>7s} {_pct(c.after_fault.rate):>6s} "
            f"{_pct(c.within_post_fault.rate):>6s} {c.raises:6d} {c.raises_in_faults:6d} "
            f"{_num(c.raises_per_event, '.2f'):>6s} {c.chattering:5d} {_dur(c.median_clear_s):>6s} "
            f"{_dur(c.max_clear_s):>6s} {c.not_cleared:4d}"
        )

    lines = [header, "-" * len(header), *(row(f.name, f.lifecycle) for f in run.files)]
    if len(run.files) > 1:
        lines += ["-" * len(header), row(pooled, run.lifecycle)]
    return lines


def render_run_report(run: EvaluationRun, title: str | None = None) -> str:
    """The self-contained HTML report of an evaluation run."""
    from edgewatch.evaluate.report import ReportSeries, render_report

    series = [
        ReportSeries(
            name=f.name if not f.first_row else f"{f.name} (rows {f.first_row + 1}..)",
            timestamps=f.recording.timestamps,
            scores=f.replay.score,
            thresholds=f.replay.threshold,
            alert_active=f.replay.flagged,
            labels=f.recording.labels,
            fault_types=None if f.recording.faults is None else f.recording.faults.tolist(),
            feature_errors=np.where(
                np.asarray([s == "scored" for s in f.replay.status])[:, None], f.replay.feature_errors, np.nan
            ),
            sustained=f.replay.sustained,
        )
        for f in run.files
    ]
    card = dict(run.model_card.full)
    card["evaluation"] = {
        "protocol": run.protocol,
        "runtime": run.runtime,
        **{k: v for k, v in run.options.items()},
        "device_config": run.config.to_json(),
    }
    if run.protocol == "per-file-train":
        card["per_file_fidelity_gate"] = {
            f.name: ("passed" if f.fidelity_passed else "FAILED: " + "; ".join(f.fidelity_failures)) for f in run.files
        }
        card["per_file_model_run"] = {f.name: f.artifact for f in run.files}
    return render_report(
        title=title or f"edgewatch evaluation — {run.model_card.model_id or run.protocol}",
        series=series,
        result=run.pooled,
        model_card=replace(run.model_card, full=card),
        feature_names=run.feature_names,
        lifecycle=[(f.name, f.lifecycle) for f in run.files],
        pooled_lifecycle=run.lifecycle if len(run.files) > 1 else None,
    )
