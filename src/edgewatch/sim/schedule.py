"""Where faults go: spread over the recording after a fault-free lead, never touching a planned stop.

Events are placed one per equal slot of ``[lead_rows, n_rows)`` (jittered), each with at least
``gap`` normal rows before and after it and kept clear of planned stops (a fault during a stop would be
invisible, and a stop is normal operation that must not be labelled). Nominal durations are shrunk
proportionally when the faults would fill more than half of the available rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgewatch.errors import ConfigError

MIN_EVENT_ROWS = 3
STREAM_SCHEDULE = 5
MAX_FAULT_SHARE = 0.5  # faults fill at most half of the rows after the lead


def fault_sequence(types: Sequence[str], count: int | None, seed: int) -> list[str]:
    """The fault types to inject, in time order: every type once (``count`` None), or ``count`` events
    cycling through the types in a seeded shuffled order."""
    types = list(types)
    if not types:
        return []
    rng = np.random.default_rng([seed, STREAM_SCHEDULE, 0])
    k = len(types) if count is None else count
    out: list[str] = []
    while len(out) < k:
        out.extend(types[i] for i in rng.permutation(len(types)))
    return out[:k]


def place_events(
    durations_rows: Sequence[int],
    *,
    min_rows: Sequence[int] | None = None,
    n_rows: int,
    lead_rows: int,
    blocked: Sequence[tuple[int, int]],
    gap_rows: int,
    seed: int,
) -> list[tuple[int, int]]:
    """Row ranges ``[start, end)`` for events of the given durations (same order as ``durations_rows``;
    event ``i`` lands in slot ``i``, so the order is also time order unless a slot was too crowded).

    Durations shrunk to fit keep at least ``min_rows[i]`` rows where there is room, and never fewer than
    :data:`MIN_EVENT_ROWS`. Raises :class:`ConfigError` if the recording after ``lead_rows`` cannot hold
    them.
    """
    k = len(durations_rows)
    if k == 0:
        return []
    rng = np.random.default_rng([seed, STREAM_SCHEDULE, 1])
    occupied = np.zeros(n_rows, dtype=bool)
    for a, b in blocked:
        occupied[max(a, 0) : max(min(b, n_rows), 0)] = True
    available = n_rows - lead_rows - int(occupied[lead_rows:].sum())
    durations = np.asarray(durations_rows, dtype=np.float64)
    budget = MAX_FAULT_SHARE * available
    if durations.sum() > budget:
        durations = durations * max(budget, 0.0) / durations.sum()
    floor = np.full(k, MIN_EVENT_ROWS) if min_rows is None else np.maximum(np.asarray(min_rows), MIN_EVENT_ROWS)
    durations = np.maximum(np.floor(durations), np.minimum(floor, np.asarray(durations_rows))).astype(np.int64)

    jitter = rng.uniform(-0.3, 0.3, size=k)
    while True:
        placed = _try_place(durations, occupied, jitter, gap_rows, lead_rows)
        if placed is not None:
            return placed
        if np.all(durations <= MIN_EVENT_ROWS):
            raise ConfigError(
                f"the recording is too short for {k} faults after {lead_rows} normal lead rows "
                f"({n_rows} rows in all); use more rows, fewer faults or a shorter lead",
                field="fault_count",
            )
        durations = np.maximum((durations * 0.7).astype(np.int64), MIN_EVENT_ROWS)


def _try_place(
    durations: np.ndarray, blocked: np.ndarray, jitter: np.ndarray, gap: int, lead: int
) -> list[tuple[int, int]] | None:
    """Place every event near the middle of its slot (± jitter), or return None if one finds no room."""
    occupied = blocked.copy()
    n, k = occupied.shape[0], durations.shape[0]
    slot = (n - lead) / k
    placed: list[tuple[int, int]] = []
    for i, dur in enumerate(durations.tolist()):
        target = lead + i * slot + max(slot - dur, 0.0) * (0.5 + jitter[i])
        start = _nearest_free(occupied, dur, gap, lead, target)
        if start is None:
            return None
        occupied[start : start + dur] = True
        placed.append((start, start + dur))
    return placed


def _nearest_free(occupied: np.ndarray, dur: int, gap: int, lead: int, target: float) -> int | None:
    """The start ``x >= lead`` nearest ``target`` with ``[x - gap, x + dur + gap)`` free, or None."""
    n = occupied.shape[0]
    if lead + dur > n:
        return None
    starts = np.arange(lead, n - dur + 1)
    csum = np.concatenate([[0], np.cumsum(occupied, dtype=np.int64)])
    lo = np.maximum(starts - gap, 0)
    hi = np.minimum(starts + dur + gap, n)
    free = starts[(csum[hi] - csum[lo]) == 0]
    if free.shape[0] == 0:
        return None
    return int(free[np.argmin(np.abs(free - target))])
