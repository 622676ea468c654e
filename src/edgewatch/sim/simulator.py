"""Simulating one pump: :func:`simulate` makes a labelled :class:`~edgewatch.data.recording.Recording`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edgewatch.core.timestamps import epoch_from_number, parse_time
from edgewatch.data.recording import FaultEvent, Recording
from edgewatch.errors import ConfigError
from edgewatch.sim.faults import FAULTS, Injection, parse_faults
from edgewatch.sim.pump import DEFAULT_STOPS_PER_DAY, feature_names, measure, simulate_pump
from edgewatch.sim.recovery import apply_recovery, plan_recovery
from edgewatch.sim.schedule import fault_sequence, place_events

DEFAULT_START = "2026-01-01T00:00:00Z"
DEFAULT_DURATION_S = 2 * 86400.0  # two days when neither n_rows nor duration_s is given
DEFAULT_LEAD_SHARE = 0.4  # the first 40 % of the rows are fault-free by default
GAP_S = 300.0  # at least 5 min of normal rows between faults (and around planned stops)
STREAM_FAULTS = 6
FAULT_DTYPE = np.dtype(f"<U{max(len(name) for name in FAULTS)}")


def _rows(n_rows: int | None, duration_s: float | None, rate_hz: float) -> int:
    if n_rows is not None and duration_s is not None:
        raise ConfigError("give n_rows or duration_s, not both", field="n_rows")
    if n_rows is None:
        seconds = DEFAULT_DURATION_S if duration_s is None else float(duration_s)
        if not math.isfinite(seconds) or seconds <= 0:
            raise ConfigError(f"must be a positive number of seconds, got {duration_s!r}", field="duration_s")
        n_rows = max(1, round(seconds * rate_hz))
    if isinstance(n_rows, bool) or not isinstance(n_rows, int | np.integer) or n_rows < 1:
        raise ConfigError(f"must be a positive integer, got {n_rows!r}", field="n_rows")
    return int(n_rows)


def _start_epoch(start_time: str | float) -> float:
    """The first timestamp (see :mod:`edgewatch.core.timestamps` for the accepted forms)."""
    try:
        if isinstance(start_time, int | float) and not isinstance(start_time, bool):
            return epoch_from_number(start_time)
        if isinstance(start_time, str):
            return parse_time(start_time)
    except ValueError as exc:
        raise ConfigError(f"time {start_time!r} {exc}", field="start_time") from None
    raise ConfigError(f"unsupported time value {start_time!r}", field="start_time")


def simulate(
    *,
    n_rows: int | None = None,
    duration_s: float | None = None,
    rate_hz: float = 1.0,
    n_features: int = 10,
    seed: int = 0,
    faults: Sequence[str] | str | None = None,
    fault_count: int | None = None,
    start_time: str | float = DEFAULT_START,
    normal_lead_rows: int | None = None,
    stops_per_day: float = DEFAULT_STOPS_PER_DAY,
    severity: float = 1.0,
    recovery: bool = True,
) -> Recording:
    """Simulate one pump and return a labelled :class:`Recording`. Deterministic in all arguments.

    Length: ``n_rows``, or ``duration_s`` × ``rate_hz``, or two days. ``faults``: ``None``/``"none"``/``[]``
    for none, ``"all"``, ``"bearing_wear,spike"`` or a list of names (see
    :data:`edgewatch.sim.faults.FAULT_TYPES`). Without ``fault_count`` each selected type is injected once;
    with it, ``fault_count`` events cycle through the selected types (all types if ``faults`` is None).
    No fault starts in the first ``normal_lead_rows`` rows (default 40 % of the rows), faults are
    separated by normal rows and never overlap a planned stop. ``stops_per_day`` sets how often the pump
    makes a planned stop (0: never); ``severity`` scales every fault magnitude (1.0: clearly detectable at
    full development; 0.5 makes a harder benchmark). With ``recovery`` (the default) the machine does not
    snap back when a fault ends: slow sensors lag back and a few sensors shift lastingly, as after a repair
    (:mod:`edgewatch.sim.recovery`; those rows are labelled normal).

    The same ``seed`` gives the same plant whatever faults are chosen: identical readings before the first
    fault, and everywhere outside the faults with ``recovery=False``.

    Raises :class:`ConfigError` for an invalid argument or a recording too short for its faults.
    """
    if not (isinstance(rate_hz, int | float) and math.isfinite(rate_hz) and rate_hz > 0):
        raise ConfigError(f"must be a positive number, got {rate_hz!r}", field="rate_hz")
    rate_hz = float(rate_hz)
    n = _rows(n_rows, duration_s, rate_hz)
    names = feature_names(n_features)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"must be a non-negative integer, got {seed!r}", field="seed")
    seed = int(seed)
    types = parse_faults(faults)
    if fault_count is not None:
        if isinstance(fault_count, bool) or not isinstance(fault_count, int | np.integer) or fault_count < 0:
            raise ConfigError(f"must be a non-negative integer, got {fault_count!r}", field="fault_count")
        if fault_count > 0 and not types:
            if faults is not None:
                raise ConfigError("fault_count > 0 but no fault type selected", field="fault_count")
            types = tuple(FAULTS)
    lead = round(DEFAULT_LEAD_SHARE * n) if normal_lead_rows is None else int(normal_lead_rows)
    if not 0 <= lead <= n:
        raise ConfigError(f"must be between 0 and {n}, got {normal_lead_rows!r}", field="normal_lead_rows")
    start_epoch = _start_epoch(start_time)
    if not isinstance(recovery, bool):
        raise ConfigError(f"must be true or false, got {recovery!r}", field="recovery")
    for name, value in (("stops_per_day", stops_per_day), ("severity", severity)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise ConfigError(f"must be a non-negative number, got {value!r}", field=name)

    trace = simulate_pump(
        n, rate_hz=rate_hz, names=names, seed=seed, start_epoch=start_epoch, stops_per_day=stops_per_day
    )
    kinds = [FAULTS[name] for name in fault_sequence(types, fault_count, seed)]
    durations = [
        round(np.random.default_rng([seed, STREAM_FAULTS, i, 0]).uniform(*k.duration_s) * rate_hz)
        for i, k in enumerate(kinds)
    ]
    gap = max(1, min(round(GAP_S * rate_hz), (n - lead) // max(4 * len(kinds), 1)))
    spans = place_events(
        durations,
        min_rows=[k.min_rows for k in kinds],
        n_rows=n,
        lead_rows=lead,
        blocked=trace.stops,
        gap_rows=gap,
        seed=seed,
    )

    injections = []
    for i, (kind, (a, b)) in enumerate(zip(kinds, spans, strict=True)):
        rng = np.random.default_rng([seed, STREAM_FAULTS, i, 1])
        inj = Injection(rng=rng, trace=trace, start=a, end=b, severity=float(severity))
        inj.sensors = kind.pick(inj)
        injections.append((kind, inj))

    true = {name: arr.copy() for name, arr in trace.true.items()}
    for kind, inj in injections:
        if kind.process:
            inj.true = true
            kind.apply(inj)
    if recovery:
        plans = [
            plan_recovery(i, seed=seed, trace=trace, start_row=inj.start, end_row=inj.end, faulted=true)
            for i, (_, inj) in enumerate(injections)
        ]
        apply_recovery(trace, true, plans)
    values = measure(trace, true)
    for kind, inj in injections:
        if not kind.process:
            inj.values = values
            kind.apply(inj)

    timestamps = start_epoch + np.arange(n, dtype=np.float64) / rate_hz
    anomaly = np.zeros(n, dtype=np.int8)
    fault = np.zeros(n, dtype=FAULT_DTYPE)
    events = []
    for kind, inj in sorted(injections, key=lambda item: item[1].start):
        anomaly[inj.start : inj.end] = 1
        fault[inj.start : inj.end] = kind.name
        end_ts = start_epoch + inj.end / rate_hz
        events.append(FaultEvent(kind.name, inj.start, inj.end, float(timestamps[inj.start]), end_ts, inj.sensors))
    return Recording(
        features=names,
        values=values,
        timestamps=timestamps,
        labels=anomaly,
        faults=fault,
        events=tuple(events),
        stops=tuple(trace.stops),
        rate_hz=rate_hz,
        fault_rows_drawn=int(sum(durations)),
    )


def simulate_normal(**kwargs: object) -> Recording:
    """:func:`simulate` without any fault (same arguments, ``faults``/``fault_count`` not allowed):
    fault-free data for training, identical to the normal parts of a faulty recording of the same seed."""
    for key in ("faults", "fault_count", "normal_lead_rows"):
        if key in kwargs:
            raise TypeError(f"simulate_normal() got an unexpected keyword argument {key!r}")
    return simulate(faults=None, **kwargs)  # type: ignore[arg-type]
