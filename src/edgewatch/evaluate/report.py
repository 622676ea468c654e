"""The evaluation report: one self-contained HTML file that works offline.

``render_report`` returns the page as a string; ``write_report`` saves it. The page holds:

* a header with the headline figures (event recall, median delay, false alarms per day, F1, AUCs);
* per file (:class:`ReportSeries`): the score over time (**higher = more anomalous**) with the threshold
  in force as a step line, alert periods hatched red, labelled faults shaded in one colour per fault
  type with a lane naming them (missed faults outlined, the first alert of each detected fault marked
  ▼), a log score axis when scores span more than two decades, and a per-sensor error heat map on the
  same time axis. When the series has a sustained-deviation level (scaled to the threshold, so it is
  judged against the same line) it is drawn as a dotted dark line: an alert it raised while every score
  stayed low then has a visible cause. Hovering shows values; dragging zooms; a double click resets;
* the metric tables of the :class:`~edgewatch.evaluate.metrics.EvaluationResult`, the per-fault-type
  table and the list of events and false alarms;
* when given, the alert life cycle per file and pooled (:mod:`edgewatch.evaluate.lifecycle`: false alarms
  before and after faults, alerts per fault, chattering, time to clear);
* the model card (:class:`ModelCard`): its key facts, then the whole card (typically the bundle manifest)
  rendered generically.

The plots are drawn by a small inline script on ``<canvas>`` from data embedded in a
``<script type="application/json" id="edgewatch-data">`` block. Long series are reduced to min/max per
time bin (see :mod:`edgewatch.evaluate._report_data`), so a 100 000-row file adds well under 1 MB.
Nothing is loaded from the network.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch import __version__
from edgewatch.evaluate import _report_data as data
from edgewatch.evaluate import _report_tables as tables
from edgewatch.evaluate._arrays import as_binary, as_fault_types, as_scores, as_seconds
from edgewatch.evaluate._report_css import CSS
from edgewatch.evaluate._report_js import JS
from edgewatch.evaluate._report_lifecycle import lifecycle_section
from edgewatch.evaluate.lifecycle import LifecycleResult
from edgewatch.evaluate.metrics import EvaluationResult

__all__ = ["MAX_HEAT_BINS", "MAX_SCORE_BINS", "ModelCard", "ReportSeries", "render_report", "write_report"]

MAX_SCORE_BINS = 1500
MAX_HEAT_BINS = 600

# categorical colours for fault types (red, orange, blue and near-black are taken by alerts, threshold, score
# and the sustained level)
PALETTE = (
    "#8e44ad",
    "#2ca02c",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#7f7f7f",
    "#3949ab",
    "#00897b",
    "#6d4c41",
    "#c2185b",
    "#558b2f",
)


@dataclass(frozen=True)
class ReportSeries:
    """One scored file, row by row in time order.

    ``thresholds`` is the threshold in force per row (a scalar is broadcast); ``alert_active`` the
    alert state per row; ``labels`` 0/1 per row and ``fault_types`` a name per row (normal rows may be
    empty), both optional; ``feature_errors`` the per-sensor errors, shape ``(n, n_features)``, optional.
    ``sustained`` is the sustained-deviation level per row **scaled to the per-reading threshold**
    (``level * threshold / sustained_threshold``), optional (None: no such channel); it is NaN where it was
    not judged (not scored, warming up) and only read on scored rows. ``scores``, ``thresholds`` and
    ``feature_errors`` may hold NaN for rows that were not scored.
    """

    name: str
    timestamps: Any
    scores: Any
    thresholds: Any
    alert_active: Any
    labels: Any = None
    fault_types: Any = None
    feature_errors: Any = None
    sustained: Any = None


def _series_payload(
    s: ReportSeries, feature_names: Sequence[str], tolerance_s: float, palette: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON one series' plots need, plus a few facts for the section header."""
    scores = np.asarray(s.scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"series {s.name!r}: scores must be one-dimensional, got shape {scores.shape}")
    n = scores.shape[0]
    if n == 0:
        raise ValueError(f"series {s.name!r} has no rows")
    t = as_seconds(s.timestamps, n)
    thr = np.asarray(s.thresholds, dtype=np.float64)
    thr = np.full(n, float(thr)) if thr.ndim == 0 else as_scores(thr, n)
    alert = as_binary(s.alert_active, "alert_active")
    if alert.shape[0] != n:
        raise ValueError(f"series {s.name!r}: alert_active has {alert.shape[0]} rows, expected {n}")
    step = data.median_step(t)
    t0 = float(t[0])
    span = float(t[-1] - t0) + step
    if s.labels is not None:
        labels = as_binary(s.labels, "labels")
        if labels.shape[0] != n:
            raise ValueError(f"series {s.name!r}: labels has {labels.shape[0]} rows, expected {n}")
        types = as_fault_types(s.fault_types, n)
        faults, fault_names = data.fault_intervals(t, labels, types, alert, tolerance_s)
    else:
        faults, fault_names = [], []
    for name in fault_names:
        palette.setdefault(name, PALETTE[len(palette) % len(PALETTE)])
    heat = None
    if s.feature_errors is not None:
        fe = np.asarray(s.feature_errors, dtype=np.float64)
        if fe.ndim != 2 or fe.shape[0] != n or fe.shape[1] != len(feature_names):
            raise ValueError(
                f"series {s.name!r}: feature_errors must have shape ({n}, {len(feature_names)}), got {fe.shape}"
            )
        heat = data.heat_payload(t, fe, list(feature_names), MAX_HEAT_BINS)
    levels = None
    if s.sustained is not None:
        levels = np.asarray(s.sustained, dtype=np.float64)
        if levels.shape != (n,):
            raise ValueError(f"series {s.name!r}: sustained must have shape ({n},), got {levels.shape}")
        levels = np.where(np.isfinite(scores), levels, np.nan)
    sustained = data.level_payload(t, scores, levels, MAX_SCORE_BINS) if levels is not None else None
    alerts = data.alert_intervals(t, alert)
    payload = {
        "name": s.name,
        "t0": t0,
        "epoch": t0 > data.EPOCH_MIN,
        "span": round(span, 3),
        "score": data.score_payload(t, scores, thr, MAX_SCORE_BINS),
        "sustained": sustained,
        "scale": data.y_scale(scores, thr, levels if sustained is not None else None),
        "alerts": alerts,
        "faults": faults,
        "fault_types": fault_names,
        "labelled": s.labels is not None,
        "heat": heat,
    }
    facts = {
        "rows": n,
        "scored": int(np.isfinite(scores).sum()),
        "start": t0,
        "duration": float(t[-1] - t0),
        "alert_share": float(alert.mean()),
        "alert_periods": len(alerts),
        "faults": len(faults),
        "detected": sum(1 for f in faults if f[3] is not None),
        "fault_names": fault_names,
        "sustained": sustained is not None,
    }
    return payload, facts


def _series_section(i: int, s: ReportSeries, facts: dict[str, Any], palette: dict[str, str], heat: bool) -> str:
    start = tables.fmt_time(facts["start"])
    duration = tables.fmt_duration(facts["duration"])
    stats = (
        f"<b>{facts['rows']:,}</b> rows ({facts['scored']:,} scored) · from <b>{start}</b> for "
        f"<b>{duration}</b> · alert on <b>{facts['alert_share']:.1%}</b> of rows in "
        f"<b>{facts['alert_periods']}</b> periods"
    )
    if s.labels is not None:
        stats += f" · <b>{facts['detected']}</b> of <b>{facts['faults']}</b> labelled faults detected"
    legend = [
        '<span class="item"><span class="line"></span>score (min–max per bin)</span>',
        '<span class="item"><span class="line thr"></span>threshold in force</span>',
    ]
    if facts["sustained"]:
        legend.append(
            '<span class="item"><span class="line sus"></span>sustained level (scaled to the threshold)</span>'
        )
    legend.append('<span class="item"><span class="box hatch"></span>alert active</span>')
    for name in facts["fault_names"]:
        legend.append(
            f'<span class="item"><span class="box" style="background:{palette[name]}"></span>'
            f"fault: {escape(name)}</span>"
        )
    if facts["fault_names"]:
        legend.append('<span class="item"><span class="tri"></span>first alert in a fault</span>')
    controls = (
        '<span class="controls"><label><input type="checkbox" class="log"> log scale</label>'
        '<button type="button" class="reset">reset zoom</button></span>'
    )
    overlay = '<div class="crosshair"></div><div class="selection"></div><div class="tooltip"></div>'
    heat_html = (
        "<h3>Per-sensor error contribution</h3>"
        f'<div class="plot"><canvas class="heat" height="200"></canvas>{overlay}</div>'
        if heat
        else '<p class="muted">No per-sensor errors for this file.</p>'
    )
    return (
        f'<section class="panel series" id="series-{i}"><h2>{escape(s.name)}</h2>'
        f'<div class="series-stats">{stats}</div>'
        f'<div class="legend">{"".join(legend)}{controls}</div>'
        f'<div class="plot"><canvas class="score" height="360"></canvas>{overlay}</div>'
        f"{heat_html}"
        '<div class="hint">Hover for values · drag across a plot to zoom · double-click to reset.</div>'
        "</section>"
    )


def _embed_json(payload: Any) -> str:
    """JSON safe to place inside a ``<script>`` element (no ``<``, ``>`` or ``&`` characters)."""
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@dataclass(frozen=True)
class ModelCard:
    """What the report says about the model: ``facts`` as ``(label, value)`` shown first (a None value is
    left out), ``full`` rendered generically below them, ``model_id`` in the header."""

    facts: tuple[tuple[str, Any], ...] = ()
    full: Mapping[str, Any] = field(default_factory=dict)
    model_id: str | None = None


def render_report(
    *,
    title: str,
    series: Sequence[ReportSeries],
    result: EvaluationResult,
    model_card: ModelCard,
    feature_names: Sequence[str],
    lifecycle: Sequence[tuple[str, LifecycleResult]] = (),
    pooled_lifecycle: LifecycleResult | None = None,
) -> str:
    """Render the whole report as one self-contained HTML document (see the module docstring).
    ``lifecycle`` holds each file's life-cycle figures by name (none: no such panel), ``pooled_lifecycle``
    their pool."""
    palette: dict[str, str] = {}
    for name in result.per_fault_type:
        palette.setdefault(name, PALETTE[len(palette) % len(PALETTE)])
    payloads, sections = [], []
    for i, s in enumerate(series):
        payload, facts = _series_payload(s, feature_names, result.tolerance_s, palette)
        payloads.append(payload)
        sections.append(_series_section(i, s, facts, palette, payload["heat"] is not None))
    nav = "".join(f'<a href="#series-{i}">{escape(s.name)}</a>' for i, s in enumerate(series))
    life_nav = '<a href="#lifecycle">alert life cycle</a>' if lifecycle else ""
    sources = f"{len(series)} file{'s' if len(series) != 1 else ''}"
    generated = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    model_id = model_card.model_id
    sub = f"{sources} · {result.n_rows:,} rows" + (f" · model {escape(str(model_id))}" if model_id else "")
    body = (
        f'<header><h1>{escape(title)}</h1><div class="sub">{sub} · generated {generated} by '
        f"edgewatch {escape(__version__)} · higher score = more anomalous</div>"
        f'<nav><a href="#metrics">metrics</a><a href="#fault-types">fault types</a>'
        f"{life_nav}"
        f'<a href="#model-card">model card</a>{nav}</nav></header>'
        "<main>"
        '<div class="errors" id="render-errors"></div>'
        f'<section class="panel" id="metrics"><h2>Results</h2>{tables.headline_cards(result)}'
        f"{tables.metrics_table(result)}</section>"
        f'<section class="panel" id="fault-types"><h2>Fault types</h2>'
        f"{tables.fault_type_table(result, palette)}{tables.event_list(result)}</section>"
        f"{_lifecycle_panel(lifecycle, pooled_lifecycle)}"
        f"{''.join(sections)}"
        f'<section class="panel" id="model-card"><h2>Model card</h2>'
        f"{tables.model_card(model_card.facts, model_card.full, feature_names)}</section>"
        "</main>"
        "<footer>Self-contained report: works offline, loads nothing from the network.</footer>"
    )
    data_json = _embed_json({"series": payloads, "palette": palette})
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body>{body}"
        f'<script type="application/json" id="edgewatch-data">{data_json}</script>'
        f"<script>{JS}</script>"
        "</body></html>\n"
    )


def _lifecycle_panel(files: Sequence[tuple[str, LifecycleResult]], pooled: LifecycleResult | None) -> str:
    if not files:
        return ""
    return (
        f'<section class="panel" id="lifecycle"><h2>Alert life cycle</h2>{lifecycle_section(files, pooled)}</section>'
    )


def write_report(path: str | os.PathLike[str], html: str) -> Path:
    """Write the report atomically (temporary file, then rename) as UTF-8; return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a report is meant to be shared
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
