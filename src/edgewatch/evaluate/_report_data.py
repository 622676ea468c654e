"""Turn one long scored series into the small JSON the report's plots draw.

Nothing here is lossy in a way a reader could see at screen resolution:

* scores are binned in time into at most ``max_bins`` columns, keeping each column's **min and max**
  (so a one-row spike is never lost); series with fewer scored rows are kept row by row;
* the line is broken where rows were not scored (NaN) or where the data has a gap longer than five
  sampling intervals;
* the sustained-deviation level, when there is one, is reduced over the *same* bins as the score, keeping
  each bin's **max** (the level is a slow moving average, and its max is what the alert policy acted on);
* the threshold keeps only the points where its (binned) value changes;
* alert periods and labelled faults are exact time intervals; alert intervals closer than 1/2000 of the
  time span are merged;
* per-sensor errors are averaged per time bin (at most ``heat_bins`` columns).

Times are stored relative to the first timestamp ``t0`` and rounded to milliseconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgewatch.evaluate.events import event_report, runs, segments
from edgewatch.evaluate.metrics import UNSPECIFIED_FAULT

EPOCH_MIN = 1e8  # timestamps above this (1973 onward) are shown as UTC date/times


def _sig(values: np.ndarray, digits: int = 4) -> list[float | None]:
    """Round to ``digits`` significant digits; NaN/inf become ``None``."""
    return [float(f"{v:.{digits}g}") if np.isfinite(v) else None for v in np.asarray(values, float)]


def _ms(values: np.ndarray) -> list[float]:
    return [round(float(v), 3) for v in values]


def median_step(t: np.ndarray) -> float:
    """The median positive sampling interval (1.0 when undefined)."""
    dt = np.diff(t)
    dt = dt[dt > 0]
    return float(np.median(dt)) if dt.size else 1.0


def _bin_index(t: np.ndarray, t0: float, span: float, bins: int) -> np.ndarray:
    b = np.floor((t - t0) / span * bins).astype(np.int64)
    return np.clip(b, 0, bins - 1)


def _score_bins(t: np.ndarray, scores: np.ndarray, max_bins: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The scored rows (indices into ``t``) and, when there are more than ``max_bins`` of them, the
    position among them where each time bin starts (None: keep them row by row)."""
    idx = np.flatnonzero(np.isfinite(scores))
    if idx.size <= max_bins:
        return idx, None
    t0 = float(t[0])
    b = _bin_index(t[idx], t0, max(float(t[-1] - t0), 1e-9), max_bins)
    return idx, np.flatnonzero(np.concatenate(([True], b[1:] != b[:-1])))


def score_payload(t: np.ndarray, scores: np.ndarray, thresholds: np.ndarray, max_bins: int) -> dict[str, Any]:
    """Min/max-binned score line with break points, and the threshold's change points."""
    t0 = float(t[0])
    span = max(float(t[-1] - t0), 1e-9)
    step = median_step(t)
    idx, starts = _score_bins(t, scores, max_bins)
    out: dict[str, Any] = {"t": [], "lo": [], "hi": [], "brk": [], "thr_t": [], "thr_v": []}
    if idx.size:
        tf = t[idx]
        sf = scores[idx]
        brk = np.zeros(idx.size, dtype=bool)
        brk[1:] = (np.diff(idx) > 1) | (np.diff(tf) > 5 * step)
        if starts is None:
            starts = np.arange(idx.size)
            lo = hi = sf
            tb = tf
        else:
            lo = np.minimum.reduceat(sf, starts)
            hi = np.maximum.reduceat(sf, starts)
            counts = np.diff(np.append(starts, idx.size))
            tb = np.add.reduceat(tf - t0, starts) / counts + t0
        out["t"] = _ms(tb - t0)
        out["lo"] = _sig(lo)
        out["hi"] = _sig(hi) if hi is not lo else out["lo"]
        out["brk"] = [int(i) for i in np.flatnonzero(brk[starts])]
    thr_idx = np.flatnonzero(np.isfinite(thresholds))
    if thr_idx.size:
        tt = t[thr_idx]
        tv = thresholds[thr_idx]
        if thr_idx.size > max_bins:
            b = _bin_index(tt, t0, span, max_bins)
            last = np.flatnonzero(np.concatenate((b[1:] != b[:-1], [True])))
            first = np.concatenate(([0], last[:-1] + 1))
            tt, tv = tt[first], tv[last]
        rounded = np.array([v if v is not None else np.nan for v in _sig(tv, 5)], dtype=float)
        keep = np.concatenate(([True], rounded[1:] != rounded[:-1]))
        out["thr_t"] = _ms(tt[keep] - t0)
        out["thr_v"] = _sig(rounded[keep], 5)
    return out


def level_payload(t: np.ndarray, scores: np.ndarray, levels: np.ndarray, max_bins: int) -> dict[str, Any] | None:
    """The sustained level per bin of :func:`score_payload`'s score line: ``{"v": [...]}`` with one entry per
    entry of its ``t`` (the bin's largest level, ``None`` where no row of the bin has one), so the line shares
    the score's times and break points. None when no scored row has a finite level (nothing to draw)."""
    idx, starts = _score_bins(t, scores, max_bins)
    lv = levels[idx]
    if not np.isfinite(lv).any():
        return None
    if starts is not None:
        lv = np.fmax.reduceat(lv, starts)  # fmax skips NaN; a bin of NaN only stays NaN
    return {"v": _sig(lv)}


def interval_end(t: np.ndarray, end: int, step: float) -> float:
    """The time a run of rows ``[.., end)`` stops: the next row's timestamp, or one step after the last."""
    return float(t[end]) if end < t.shape[0] else float(t[-1] + step)


def alert_intervals(t: np.ndarray, alert: np.ndarray) -> list[list[float]]:
    """Alert periods as ``[start, end]`` seconds after ``t0``; near-adjacent periods are merged."""
    t0 = float(t[0])
    step = median_step(t)
    merge_gap = max(float(t[-1] - t0), step) / 2000.0
    out: list[list[float]] = []
    for s, e in runs(alert):
        start, end = float(t[s]) - t0, interval_end(t, e, step) - t0
        if out and start - out[-1][1] <= merge_gap:
            out[-1][1] = end
        else:
            out.append([start, end])
    return [[round(a, 3), round(b, 3)] for a, b in out]


def fault_intervals(
    t: np.ndarray,
    labels: np.ndarray,
    fault_types: list[str | None] | None,
    alert: np.ndarray,
    tolerance_s: float,
) -> tuple[list[list[Any]], list[str]]:
    """Labelled faults as ``[start, end, type_index, detected_at|None, delay_s|None]`` and the type names.

    Detection follows :func:`edgewatch.evaluate.events.event_report` with the alert state as the
    prediction.
    """
    t0 = float(t[0])
    step = median_step(t)
    names: list[str] = []
    out: list[list[Any]] = []
    segs = segments(labels, fault_types)
    events = event_report(labels, alert, t, fault_types, tolerance_s=tolerance_s)
    for (s, e), ev in zip(segs, events, strict=True):
        name = ev.fault_type or UNSPECIFIED_FAULT
        if name not in names:
            names.append(name)
        detected_at = (
            round(float(t[ev.first_detection_row]) - t0, 3) if ev.first_detection_row is not None else None
        )
        delay = round(ev.delay_s, 3) if ev.delay_s is not None else None
        out.append(
            [
                round(float(t[s]) - t0, 3),
                round(interval_end(t, e, step) - t0, 3),
                names.index(name),
                detected_at,
                delay,
            ]
        )
    return out, names


def heat_payload(
    t: np.ndarray, feature_errors: np.ndarray, feature_names: list[str], heat_bins: int
) -> dict[str, Any]:
    """Per-sensor mean error per time bin: ``v[feature][bin]``, with the colour range to use."""
    n = t.shape[0]
    t0 = float(t[0])
    span = max(float(t[-1] - t0), 1e-9)
    bins = max(1, min(heat_bins, n))
    b = _bin_index(t, t0, span, bins)
    fe = np.asarray(feature_errors, dtype=np.float64)
    finite = np.isfinite(fe)
    starts = np.flatnonzero(np.concatenate(([True], b[1:] != b[:-1])))
    sums = np.add.reduceat(np.where(finite, fe, 0.0), starts, axis=0)
    counts = np.add.reduceat(finite.astype(np.int64), starts, axis=0)
    grid = np.full((bins, fe.shape[1]), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        grid[b[starts]] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    values = grid[np.isfinite(grid)]
    positive = values[values > 0]
    use_log = bool(positive.size) and bool(np.all(values >= 0))
    if use_log:
        vmin = float(np.percentile(positive, 2))
        vmax = float(np.max(positive))
    elif values.size:
        vmin, vmax = float(np.min(values)), float(np.max(values))
    else:
        vmin, vmax = 0.0, 1.0
    if not vmax > vmin:
        vmax = vmin * 10 if use_log else vmin + 1.0
    return {
        "features": list(feature_names),
        "bin_s": round(span / bins, 3),
        "bins": bins,
        "span": round(span, 3),
        "v": [_sig(grid[:, j], 3) for j in range(grid.shape[1])],
        "log": use_log,
        "vmin": float(f"{vmin:.4g}"),
        "vmax": float(f"{vmax:.4g}"),
    }


def y_scale(scores: np.ndarray, thresholds: np.ndarray, levels: np.ndarray | None = None) -> dict[str, Any]:
    """Whether a log axis suits these scores (and the sustained ``levels`` drawn with them, if any): all
    positive and spanning more than two decades."""
    parts = [scores, thresholds] if levels is None else [scores, thresholds, levels]
    values = np.concatenate([v[np.isfinite(v)] for v in parts])
    if values.size == 0:
        return {"log": False, "log_ok": False}
    log_ok = bool(np.all(values > 0))
    if not log_ok:
        return {"log": False, "log_ok": False}
    low = float(np.percentile(values, 0.5))
    return {"log": bool(float(np.max(values)) / low > 100.0), "log_ok": True}
