"""A recording: rows of sensor readings in time order, from files or the simulator, with what is known about
them (labels, fault types, injected fault events). The one type ``simulate`` writes, ``train`` learns from,
and ``score``, ``replay`` and ``evaluate`` run through the device's pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from edgewatch.core.timestamps import iso_utc


class Source(NamedTuple):
    """Rows ``[start, end)`` of a recording came from the file ``path``."""

    path: str
    start: int
    end: int


@dataclass(frozen=True)
class FaultEvent:
    """One labelled fault: ``type`` over rows ``[start_row, end_row)``.

    ``start_ts`` is the timestamp of ``start_row``; ``end_ts`` the timestamp of ``end_row`` (the first row
    after the fault), so ``[start_ts, end_ts)`` is the faulty time span. ``sensors`` are the reported
    sensors the fault changes.
    """

    type: str
    start_row: int
    end_row: int
    start_ts: float
    end_ts: float
    sensors: tuple[str, ...]

    @property
    def n_rows(self) -> int:
        return self.end_row - self.start_row

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "start_row": self.start_row,
            "end_row": self.end_row,
            "start_ts": self.start_ts,
            "end_ts": self.end_ts,
            "start": iso_utc(self.start_ts),
            "end": iso_utc(self.end_ts),
            "sensors": list(self.sensors),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultEvent:
        return cls(
            type=str(data["type"]),
            start_row=int(data["start_row"]),
            end_row=int(data["end_row"]),
            start_ts=float(data["start_ts"]),
            end_ts=float(data["end_ts"]),
            sensors=tuple(str(s) for s in data["sensors"]),
        )


@dataclass(frozen=True, eq=False)
class Recording:
    """Rows of readings: ``values`` float64 ``(n, F)`` in the order of ``features`` (NaN where a sensor gave
    no value) and ``timestamps`` float64 epoch seconds ``(n,)`` (row numbers when the file has no time
    column: ``has_time`` false).

    What is known besides: ``labels`` int8 ``(n,)``, 1 inside a fault (None: unlabelled); ``faults`` the
    fault type per row, ``""`` outside faults (None: not given); ``sources`` the files the rows came from
    (empty for a simulated recording); and from the simulator, ``events`` (the injected faults in time
    order), ``stops`` (planned stops, ``[start, end)`` rows of normal operation), ``rate_hz`` (0: not known)
    and ``fault_rows_drawn`` (the fault rows drawn before placement, 0: not simulated; more than the labelled
    rows when the faults did not fit at their drawn lengths and were shortened).
    """

    features: tuple[str, ...]
    values: np.ndarray
    timestamps: np.ndarray
    labels: np.ndarray | None = None
    faults: np.ndarray | None = None
    sources: tuple[Source, ...] = ()
    has_time: bool = True
    events: tuple[FaultEvent, ...] = ()
    stops: tuple[tuple[int, int], ...] = ()
    rate_hz: float = 0.0
    fault_rows_drawn: int = 0

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])

    @property
    def n_rows(self) -> int:
        return len(self)

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def path(self) -> str:
        """The file the rows came from ("" for a simulated recording or several files)."""
        return self.sources[0].path if len(self.sources) == 1 else ""

    @property
    def segments(self) -> list[tuple[int, int]]:
        """``[start, end)`` rows of each source file (the whole recording for a simulated one)."""
        return [(s.start, s.end) for s in self.sources] if self.sources else [(0, len(self))]

    def column(self, name: str) -> np.ndarray:
        """The readings of one sensor (a view)."""
        try:
            return self.values[:, self.features.index(name)]
        except ValueError:
            raise KeyError(f"no feature {name!r}; features: {', '.join(self.features)}") from None

    def slice(self, start: int, stop: int | None = None) -> Recording:
        """Rows ``[start, stop)`` as a new recording; sources, events and stops are clipped and re-indexed."""
        start, stop, _ = slice(start, stop).indices(len(self))
        stop = max(stop, start)

        def clip(a: int, b: int) -> tuple[int, int] | None:
            a, b = max(a, start), min(b, stop)
            return (a - start, b - start) if b > a else None

        events = []
        for ev in self.events:
            rows = clip(ev.start_row, ev.end_row)
            if rows is not None:
                start_ts, end_ts = max(ev.start_ts, float(self.timestamps[start])), min(ev.end_ts, self._ts_at(stop))
                events.append(FaultEvent(ev.type, rows[0], rows[1], start_ts, end_ts, ev.sensors))
        return Recording(
            features=self.features,
            values=self.values[start:stop].copy(),
            timestamps=self.timestamps[start:stop].copy(),
            labels=None if self.labels is None else self.labels[start:stop].copy(),
            faults=None if self.faults is None else self.faults[start:stop].copy(),
            sources=tuple(Source(s.path, *r) for s in self.sources if (r := clip(s.start, s.end)) is not None),
            has_time=self.has_time,
            events=tuple(events),
            stops=tuple(r for a, b in self.stops if (r := clip(a, b)) is not None),
            rate_hz=self.rate_hz,
        )

    def take(self, mask: np.ndarray) -> Recording:
        """The rows where ``mask`` is true; ``sources`` renumbered to the kept rows of each file (fault events
        and stops, which are row ranges, are dropped)."""
        sources = []
        for path, start, end in self.sources:
            before = int(mask[:start].sum())
            sources.append(Source(path, before, before + int(mask[start:end].sum())))
        return Recording(
            features=self.features,
            values=self.values[mask],
            timestamps=self.timestamps[mask],
            labels=None if self.labels is None else self.labels[mask],
            faults=None if self.faults is None else self.faults[mask],
            sources=tuple(sources),
            has_time=self.has_time,
            rate_hz=self.rate_hz,
        )

    def normal_head(self, margin_rows: int = 0) -> Recording:
        """The fault-free rows before the first fault event (minus ``margin_rows``): training data."""
        first = self.events[0].start_row if self.events else len(self)
        return self.slice(0, max(first - margin_rows, 0))

    def _ts_at(self, row: int) -> float:
        if row < len(self):
            return float(self.timestamps[row])
        if len(self) == 0:
            return 0.0
        return float(self.timestamps[-1]) + (1.0 / self.rate_hz if self.rate_hz else 0.0)
