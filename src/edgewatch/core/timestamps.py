"""Times: reading them from payloads, files and the command line, and writing them (always UTC).

One rule for every input (an MQTT payload's ``ts``, a time cell of a CSV file, ``simulate --start``):

* epoch seconds (a JSON number; in a file or on the command line, a number written as text);
* epoch milliseconds: any number above 1e11 (1e11 s is the year 5138) is divided by 1000; numbers still
  above 1e11 after that (micro/nanoseconds) are rejected;
* an ISO 8601 string as :meth:`datetime.fromisoformat` reads it (``Z`` or ``+hh:mm`` offsets; a naive
  time is UTC; a date alone is midnight UTC);
* in a payload only: ``None`` (JSON ``null``, or the key absent) is the arrival time passed in.

Negative (pre-1970) and non-finite times are rejected. Written times are ISO 8601 UTC with a ``Z``:
:func:`format_ts` always with milliseconds (messages, per-row outputs), :func:`iso_utc` with
milliseconds only where a time has a fraction of a second (recordings, manifests). Nothing here reads the
clock.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

import numpy as np

from edgewatch.errors import PayloadError

MILLISECONDS_ABOVE = 1e11
TS_KEY = "ts"
ISO_EXAMPLE = "2026-01-01T12:00:00Z"
_KINDS = {bool: "a JSON boolean", list: "a JSON array", dict: "a JSON object"}
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|min|s|m|h|d|w)", re.IGNORECASE)


def epoch_from_number(value: float) -> float:
    """Epoch seconds from epoch seconds or milliseconds; ``ValueError`` naming what is wrong."""
    ts = float(value)
    if not math.isfinite(ts) or ts < 0:
        raise ValueError("must be a finite, non-negative epoch time")
    if ts > MILLISECONDS_ABOVE:
        ts /= 1000.0
        if ts > MILLISECONDS_ABOVE:
            raise ValueError("is too large for epoch seconds or milliseconds (micro- or nanoseconds are not accepted)")
    return ts


def epoch_from_iso(text: str) -> float:
    """Epoch seconds from an ISO 8601 string (naive = UTC); ``ValueError`` naming what is wrong."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"is not an ISO 8601 time (e.g. {ISO_EXAMPLE})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ts = moment.timestamp()
    if ts < 0:
        raise ValueError("is before 1970")
    return ts


def parse_time(text: str) -> float:
    """Epoch seconds from a time written as text: a number (seconds or milliseconds) or ISO 8601.

    Raises ``ValueError`` whose message completes ``f"time {text!r} "``."""
    stripped = text.strip()
    try:
        number = float(stripped)
    except ValueError:
        return epoch_from_iso(stripped)
    return epoch_from_number(number)


def parse_timestamp(raw: Any, arrival_time: float) -> float:
    """A decoded JSON ``ts`` as epoch seconds (see the module docstring); ``None`` is ``arrival_time``.

    Raises :class:`PayloadError` with reason ``bad_timestamp`` and field ``ts`` otherwise.
    """
    kind = type(raw)
    try:
        if kind is float or kind is int:
            if 0 <= raw <= MILLISECONDS_ABOVE:  # the agent's hot path: plain epoch seconds, as is
                return float(raw)
            try:
                return epoch_from_number(raw)
            except OverflowError:  # an integer too large for a float
                return epoch_from_number(math.inf)
        if kind is str:
            return epoch_from_iso(raw)
    except ValueError as exc:
        raise PayloadError("bad_timestamp", f"timestamp {raw!r} {exc}", field=TS_KEY) from None
    if raw is None:
        return float(arrival_time)
    raise PayloadError(
        "bad_timestamp",
        f"timestamp must be epoch seconds, epoch milliseconds or an ISO 8601 string, not "
        f"{_KINDS.get(type(raw), type(raw).__name__)}",
        field=TS_KEY,
    )


def parse_duration(text: str | float) -> float:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1h30m"``, ``"500ms"``; must be > 0.

    Raises ``ValueError`` naming the accepted forms."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        raw = str(text).strip()
        try:
            seconds = float(raw)
        except ValueError:
            pos, seconds = 0, 0.0
            compact = raw.replace(" ", "")
            for m in _DURATION_PART.finditer(compact):
                if m.start() != pos:
                    break
                seconds += float(m.group(1)) * _DURATION_UNITS[m.group(2).lower()]
                pos = m.end()
            if pos != len(compact) or pos == 0:
                raise ValueError(f"not a duration: {text!r} (examples: 90, 90s, 15m, 2h, 1d, 1h30m)") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"must be a positive duration, got {text!r}")
    return seconds


def format_ts(ts: float) -> str:
    """Epoch seconds as ISO 8601 UTC with milliseconds (``2026-01-01T00:00:01.000Z``); ``repr`` when out of
    range."""
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return repr(ts)


def iso_utc(ts: float) -> str:
    """``2026-01-01T00:00:01Z`` for whole seconds, else with milliseconds (``...:01.500Z``)."""
    return str(iso_utc_array(np.asarray([ts], dtype=np.float64))[0])


def iso_utc_array(ts: np.ndarray) -> np.ndarray:
    """Vectorised :func:`iso_utc` for an array of epoch seconds (one precision for the whole array:
    milliseconds as soon as any timestamp has a fraction of a second)."""
    ms = np.rint(np.asarray(ts, dtype=np.float64) * 1000.0).astype(np.int64)
    text = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="s" if np.all(ms % 1000 == 0) else "ms")
    return np.char.add(text, "Z")
