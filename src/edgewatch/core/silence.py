"""Silent devices: a device that stops publishing is an event, and so is its next message.

Each device's :class:`SilenceWatch` notes when its messages arrive (wall-clock epoch seconds, every message,
whether or not it could be scored: a device sending garbage is not silent) and learns how far apart they
come: the longest gap between two of its messages, slowly forgotten (each check shrinks it by
:data:`FORGET_PER_S` per second, so a gap of an hour ago weighs about half of one now). Longest, not
average: a device publishing one topic per sensor sends a burst of messages and then pauses, and it is the
pause that must not count as silence. The hot path (one call per message) is two comparisons and stores.

A device is **silent** once ``now - last message > timeout``, where the timeout is ``silence.timeout_s``
when configured, and otherwise ``silence.factor`` (5) times the learned gap, at least
``silence.min_timeout_s`` (30 s). A learned timeout needs :data:`MIN_GAPS` gaps first: a device that sent
one or two messages has taught nothing about its rate, so it is not judged until then (unless ``timeout_s``
is set). The gap that ends a silence is not learned (it is the outage, not the rate). The first message after
a silence is **recovered**. Both are :class:`DeviceSilence` events; the agent publishes them through its
durable outbox on ``edgewatch/<device>/silence``. The watch's state is part of the saved device state
(:class:`edgewatch.core.state.SilenceState`): a device silent before a restart stays silent after it (and gets
its ``recovered``), and one that fell silent while the agent was down is found silent at the first check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from edgewatch.core.state import SilenceState
from edgewatch.records import check

MIN_GAPS = 3  # gaps needed before a learned timeout applies
FORGET_PER_S = 0.0002  # the longest gap shrinks by this fraction per second (half-life about an hour)

_positive = check(lambda v: math.isfinite(v) and v > 0, "a positive number of seconds")


@dataclass(frozen=True)
class SilenceConfig:
    """The ``[silence]`` section."""

    enabled: bool = True
    timeout_s: float | None = field(default=None, metadata=_positive)  # None: learned from each device
    factor: float = field(default=5.0, metadata=check(lambda v: math.isfinite(v) and v >= 1, "a number >= 1"))
    min_timeout_s: float = field(default=30.0, metadata=_positive)
    check_interval_s: float = field(default=1.0, metadata=_positive)  # how often the agent looks


@dataclass(frozen=True, slots=True)
class DeviceSilence:
    """A device fell silent (``state="silent"``) or sent again (``"recovered"``). ``ts`` is when that was
    noticed (wall clock), ``last_seen`` the last message before the silence, ``timeout_s`` the timeout in force."""

    device: str
    state: str
    ts: float
    last_seen: float
    timeout_s: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "device_silent" if self.state == "silent" else "device_recovered",
            "device": self.device,
            "state": self.state,
            "ts": self.ts,
            "last_seen": self.last_seen,
            "silent_for_s": round(self.ts - self.last_seen, 3),
            "timeout_s": self.timeout_s,
        }


class SilenceWatch:
    """One device's message times (see the module docstring)."""

    __slots__ = ("checked", "gap", "gaps", "last_seen", "silent_since")

    def __init__(self) -> None:
        self.last_seen: float | None = None
        self.gap = 0.0  # the longest gap learned, slowly forgotten
        self.gaps = 0  # how many gaps were learned
        self.checked: float | None = None  # when the gap was last shrunk
        self.silent_since: float | None = None  # when the silence was noticed (None: not silent)

    @property
    def silent(self) -> bool:
        return self.silent_since is not None

    def seen(self, device: str, now: float) -> DeviceSilence | None:
        """A message of the device arrived at ``now``; its ``recovered`` event if it was silent."""
        last = self.last_seen
        if self.silent_since is None and last is not None:
            gap = now - last
            if gap > 0.0:
                self.gaps += 1
                if gap > self.gap:
                    self.gap = gap
                self.last_seen = now
            return None
        event = None
        if self.silent_since is not None:
            event = DeviceSilence(device, "recovered", now, last if last is not None else now, None)
            self.silent_since = None
        if last is None or now > last:
            self.last_seen = now
        return event

    def timeout(self, config: SilenceConfig) -> float | None:
        """The timeout in force (None: not judged yet)."""
        if config.timeout_s is not None:
            return config.timeout_s
        if self.gaps < MIN_GAPS:
            return None
        return max(config.min_timeout_s, config.factor * self.gap)

    def check(self, device: str, now: float, config: SilenceConfig) -> DeviceSilence | None:
        """The ``silent`` event if the device has just become silent at ``now``."""
        if self.checked is not None and now > self.checked:
            self.gap *= max(0.0, 1.0 - FORGET_PER_S * (now - self.checked))
        self.checked = now
        if self.silent_since is not None or self.last_seen is None:
            return None
        timeout = self.timeout(config)
        if timeout is None or now - self.last_seen <= timeout:
            return None
        self.silent_since = now
        return DeviceSilence(device, "silent", now, self.last_seen, timeout)

    def snapshot(self) -> SilenceState:
        return SilenceState(
            last_seen=self.last_seen,
            gap_s=self.gap if self.gaps else None,
            gaps=self.gaps,
            silent_since=self.silent_since,
        )

    @classmethod
    def restore(cls, state: SilenceState) -> SilenceWatch:
        """The watch as saved."""
        watch = cls()
        watch.last_seen = state.last_seen
        watch.silent_since = state.silent_since
        if state.gap_s is not None:
            watch.gap, watch.gaps = state.gap_s, state.gaps
        return watch
