"""The report's alert life-cycle panel: per file and pooled, the false-alarm rate before and after faults,
alerts per fault event, chattering and time to clear, then every fault event's alerts. Static HTML (no
JavaScript); every value from data is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from edgewatch.evaluate._report_tables import DASH, MAX_EVENT_ROWS, fmt_duration, fmt_num, fmt_ratio
from edgewatch.evaluate.lifecycle import CHATTER_S, POST_FAULT_S, LifecycleResult

COLUMNS = (
    ("file", ""),
    ("FAR before faults", "flagged share of the normal rows before the first fault"),
    ("FAR after", "flagged share of the normal rows from the first fault on"),
    (f"FAR ≤ {POST_FAULT_S / 3600:g} h after", "flagged share of the normal rows within 1 h of a fault's last row"),
    ("alerts raised", "alert messages with state raised (sensor faults not counted)"),
    ("in faults", "alerts overlapping a fault event or raised within its detection tolerance"),
    ("per detected fault", "alerts in faults / detected fault events"),
    ("chattering", f"raised within {CHATTER_S / 60:g} min of the previous clear, not at the start of a new fault"),
    ("clear after fault (median / max)", "from a fault's last row to the clear of its last alert"),
    ("after first normal row (median / max)", "from the first normal row after a fault to that clear"),
    ("not cleared", "faults whose alert was still active at the end of the file"),
)


def _cells(name: str, c: LifecycleResult) -> str:
    values = (
        escape(name),
        fmt_ratio(c.before_fault.rate),
        fmt_ratio(c.after_fault.rate),
        fmt_ratio(c.within_post_fault.rate),
        fmt_num(c.raises),
        fmt_num(c.raises_in_faults),
        fmt_num(c.raises_per_event),
        fmt_num(c.chattering),
        f"{fmt_duration(c.median_clear_s)} / {fmt_duration(c.max_clear_s)}",
        f"{fmt_duration(c.median_clear_after_normal_s)} / {fmt_duration(c.max_clear_after_normal_s)}",
        fmt_num(c.not_cleared),
    )
    return "<tr>" + "".join(f"<td>{v}</td>" for v in values) + "</tr>"


def lifecycle_section(files: Sequence[tuple[str, LifecycleResult]], pooled: LifecycleResult | None) -> str:
    """The panel's content: one row per file (then the pooled row when there are several) and the list of
    fault events with their alerts."""
    head = "".join(f'<th title="{escape(hint)}">{escape(label)}</th>' for label, hint in COLUMNS)
    rows = [_cells(name, c) for name, c in files]
    if pooled is not None:
        rows.append(_cells(f"pooled ({len(files)} files)", pooled))
    table = f'<table class="grid"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    events = [f for _, c in files for f in c.faults]
    ev_rows = [
        f"<tr><td>{escape(f.source) or DASH}</td><td>{escape(f.fault_type or '')}</td><td>{f.start}–{f.end}</td>"
        f"<td>{f.raises}</td><td>{fmt_duration(f.clear_after_fault_s)}</td>"
        f"<td>{fmt_duration(f.clear_after_normal_s)}</td>"
        f"<td>{DASH if f.cleared is None else ('yes' if f.cleared else 'no')}</td></tr>"
        for f in events[:MAX_EVENT_ROWS]
    ]
    more = len(events) - MAX_EVENT_ROWS
    note = f'<p class="muted">… and {more} more events (see the JSON result).</p>' if more > 0 else ""
    return (
        f"{table}<details><summary>Alerts per fault event ({len(events)})</summary>"
        '<table class="grid"><thead><tr><th>file</th><th>fault type</th><th>rows</th><th>alerts</th>'
        "<th>clear after fault</th><th>after first normal row</th><th>cleared</th></tr></thead>"
        f"<tbody>{''.join(ev_rows)}</tbody></table>{note}</details>"
    )
