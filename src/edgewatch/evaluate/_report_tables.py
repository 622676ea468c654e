"""HTML fragments of the report that need no JavaScript: metric tables, event lists, the model card.

Every value that comes from data is passed through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from edgewatch.evaluate._report_data import EPOCH_MIN
from edgewatch.evaluate.metrics import EvaluationResult

MAX_EVENT_ROWS = 500
MAX_LIST_ITEMS = 24
DASH = "—"


def fmt_num(value: Any, digits: int = 3) -> str:
    """A number for people: NaN/None as a dash, integers exact, floats to ``digits`` significant digits."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return escape(str(value))
    if not math.isfinite(x):
        return DASH
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    if 1e-3 <= abs(x) < 1e6:
        return f"{x:.{digits}g}" if abs(x) < 1 else f"{x:,.{max(digits - len(str(int(abs(x)))), 0)}f}"
    return f"{x:.{digits}g}"


def fmt_ratio(value: float) -> str:
    """A rate in [0, 1]: three decimals, or three significant digits for small non-zero rates."""
    if value is None or not math.isfinite(value):
        return DASH
    if 0 < abs(value) < 0.001:
        return f"{value:.2e}"
    if 0 < abs(value) < 0.1:
        return f"{value:.3g}"
    return f"{value:.3f}"


def fmt_duration(seconds: float | None) -> str:
    """``12.5 s``, ``4.2 min``, ``3.1 h``, ``2.0 d``; a dash for None/NaN."""
    if seconds is None or not math.isfinite(seconds):
        return DASH
    s = float(seconds)
    if abs(s) < 120:
        return f"{s:.3g} s" if abs(s) < 10 else f"{s:.0f} s"
    if abs(s) < 7200:
        return f"{s / 60:.1f} min"
    if abs(s) < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def fmt_time(t: float) -> str:
    """An absolute time (UTC) when ``t`` looks like epoch seconds, else seconds."""
    if t > EPOCH_MIN:
        return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{t:,.1f} s"


def _row(label: str, value: str, hint: str = "") -> str:
    title = f' title="{escape(hint)}"' if hint else ""
    return f"<tr{title}><th>{escape(label)}</th><td>{value}</td></tr>"


def headline_cards(result: EvaluationResult) -> str:
    """The six figures a reader looks at first."""
    cards = [
        ("event recall", fmt_ratio(result.event_recall), f"{result.n_detected} of {result.n_events} faults"),
        ("median delay", fmt_duration(result.median_delay_s), "from fault start to first alert"),
        ("false alarms / day", fmt_num(result.false_alarms_per_day), f"{result.n_false_alarms} events"),
        ("F1 (rows)", fmt_ratio(result.f1), "point-wise"),
        ("ROC AUC", fmt_ratio(result.roc_auc), "ranking of scores"),
        ("PR AUC", fmt_ratio(result.pr_auc), "average precision"),
    ]
    parts = [
        f'<div class="card"><div class="card-label">{escape(a)}</div>'
        f'<div class="card-value">{b}</div><div class="card-note">{escape(c)}</div></div>'
        for a, b, c in cards
    ]
    return '<div class="cards">' + "".join(parts) + "</div>"


def metrics_table(result: EvaluationResult) -> str:
    """Point metrics, AUCs, event metrics and false alarms in three small tables."""
    c = result.counts
    point = [
        _row("rows", fmt_num(result.n_rows)),
        _row("rows scored", fmt_num(result.n_scored), "rows with a score; others are dropped from AUCs"),
        _row("TP / FP / TN / FN", " / ".join(fmt_num(v) for v in (c.tp, c.fp, c.tn, c.fn))),
        _row("precision", fmt_ratio(result.precision), "TP / (TP + FP)"),
        _row("recall", fmt_ratio(result.recall), "TP / (TP + FN)"),
        _row("F1", fmt_ratio(result.f1), "TP / (TP + (FP + FN) / 2)"),
        _row("false alarm rate", fmt_ratio(result.false_alarm_rate), "FP / (FP + TN)"),
        _row("missed alarm rate", fmt_ratio(result.missed_alarm_rate), "FN / (FN + TP)"),
        _row("ROC AUC", fmt_ratio(result.roc_auc), "NaN-score rows excluded; pooled over files"),
        _row("PR AUC (average precision)", fmt_ratio(result.pr_auc), "NaN-score rows excluded"),
    ]
    events = [
        _row("labelled fault events", fmt_num(result.n_events)),
        _row("detected", fmt_num(result.n_detected), "an alert row inside the event (+ tolerance)"),
        _row("event recall", fmt_ratio(result.event_recall)),
        _row("mean delay", fmt_duration(result.mean_delay_s)),
        _row("median delay", fmt_duration(result.median_delay_s)),
        _row("detection tolerance after fault end", fmt_duration(result.tolerance_s)),
    ]
    alarms = [
        _row("false alarm events", fmt_num(result.n_false_alarms), "alert runs overlapping no fault"),
        _row("normal time", fmt_duration(result.normal_duration_s)),
        _row("false alarms per day", fmt_num(result.false_alarms_per_day)),
    ]
    return (
        '<div class="tables">'
        f'<table class="kv"><caption>Point-wise (rows)</caption>{"".join(point)}</table>'
        f'<table class="kv"><caption>Fault events</caption>{"".join(events)}</table>'
        f'<table class="kv"><caption>False alarms</caption>{"".join(alarms)}</table>'
        "</div>"
    )


def fault_type_table(result: EvaluationResult, colours: Mapping[str, str]) -> str:
    """One row per fault type: events, detected, recall, median and mean delay."""
    rows = []
    for name, s in result.per_fault_type.items():
        swatch = f'<span class="swatch" style="background:{colours.get(name, "#888")}"></span>'
        rows.append(
            f"<tr><td>{swatch}{escape(name)}</td><td>{s.events}</td><td>{s.detected}</td>"
            f"<td>{fmt_ratio(s.recall)}</td><td>{fmt_duration(s.median_delay_s)}</td>"
            f"<td>{fmt_duration(s.mean_delay_s)}</td></tr>"
        )
    if not rows:
        return '<p class="muted">No labelled fault events.</p>'
    head = (
        "<tr><th>fault type</th><th>events</th><th>detected</th><th>recall</th>"
        "<th>median delay</th><th>mean delay</th></tr>"
    )
    return f'<table class="grid"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def event_list(result: EvaluationResult) -> str:
    """Every labelled event (first :data:`MAX_EVENT_ROWS`) and every false alarm, in collapsible lists."""
    ev_rows = []
    for e in result.events[:MAX_EVENT_ROWS]:
        status = '<span class="ok">detected</span>' if e.detected else '<span class="bad">missed</span>'
        ev_rows.append(
            f"<tr><td>{escape(e.source) or DASH}</td><td>{escape(e.fault_type or '')}</td>"
            f"<td>{fmt_time(e.start_time)}</td><td>{fmt_duration(e.duration_s)}</td>"
            f"<td>{e.start}–{e.end}</td><td>{status}</td><td>{fmt_duration(e.delay_s)}</td></tr>"
        )
    more = len(result.events) - MAX_EVENT_ROWS
    note = f'<p class="muted">… and {more} more events (see the JSON result).</p>' if more > 0 else ""
    fa_rows = [
        f"<tr><td>{escape(f.source) or DASH}</td><td>{fmt_time(f.start_time)}</td>"
        f"<td>{fmt_duration(f.duration_s)}</td><td>{f.start}–{f.end}</td></tr>"
        for f in result.false_alarms[:MAX_EVENT_ROWS]
    ]
    more_fa = len(result.false_alarms) - MAX_EVENT_ROWS
    note_fa = f'<p class="muted">… and {more_fa} more (see the JSON result).</p>' if more_fa > 0 else ""
    return (
        f"<details><summary>All labelled fault events ({len(result.events)})</summary>"
        '<table class="grid"><thead><tr><th>file</th><th>fault type</th><th>start</th><th>duration</th>'
        "<th>rows</th><th>result</th><th>delay</th></tr></thead>"
        f"<tbody>{''.join(ev_rows)}</tbody></table>{note}</details>"
        f"<details><summary>All false alarm events ({len(result.false_alarms)})</summary>"
        '<table class="grid"><thead><tr><th>file</th><th>start</th><th>duration</th><th>rows</th></tr>'
        f"</thead><tbody>{''.join(fa_rows)}</tbody></table>{note_fa}</details>"
    )


# ---------------------------------------------------------------------------------------------------
# model card


def _scalar(value: Any) -> str:
    if value is None:
        return f'<span class="muted">{DASH}</span>'
    if isinstance(value, bool | int | float):
        return fmt_num(value, 4)
    return escape(str(value))


def render_value(value: Any, depth: int = 0) -> str:
    """Render any JSON-like value: dicts as key/value tables, lists of dicts as grids, long lists cut."""
    if isinstance(value, Mapping):
        if not value:
            return f'<span class="muted">{DASH}</span>'
        if depth >= 4:
            return escape(str(dict(value)))
        rows = "".join(
            f"<tr><th>{escape(str(k))}</th><td>{render_value(v, depth + 1)}</td></tr>" for k, v in value.items()
        )
        return f'<table class="kv nested">{rows}</table>'
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = list(value)
        if not items:
            return f'<span class="muted">{DASH}</span>'
        if all(isinstance(i, Mapping) for i in items) and depth < 4:
            keys: list[str] = []
            for item in items:
                keys.extend(str(k) for k in item if str(k) not in keys)
            head = "".join(f"<th>{escape(k)}</th>" for k in keys)
            body = "".join(
                "<tr>" + "".join(f"<td>{_scalar(item.get(k))}</td>" for k in keys) + "</tr>"
                for item in items[:MAX_EVENT_ROWS]
            )
            return f'<table class="grid compact"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        shown = ", ".join(
            _scalar(i) if not isinstance(i, Mapping | list) else escape(str(i)) for i in items[:MAX_LIST_ITEMS]
        )
        more = len(items) - MAX_LIST_ITEMS
        tail = f' <span class="muted">… ({len(items)} values)</span>' if more > 0 else ""
        return f"{shown}{tail}"
    return _scalar(value)


def model_card(facts: Sequence[tuple[str, Any]], card: Mapping[str, Any], feature_names: Sequence[str]) -> str:
    """The key facts (those with a value), then the features, then the whole card rendered generically."""
    shown = [
        f'<div class="fact"><span>{escape(label)}</span><b>{_scalar(value)}</b></div>'
        for label, value in facts
        if value is not None
    ]
    chips = "".join(f'<span class="chip">{escape(str(f))}</span>' for f in feature_names)
    return (
        f'<div class="facts">{"".join(shown)}</div>'
        f'<div class="features"><span class="muted">features ({len(feature_names)}):</span> {chips}</div>'
        f"<details open><summary>Full model card</summary>{render_value(dict(card))}</details>"
    )
