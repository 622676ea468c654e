"""Reading timestamps: parsing the formats devices send, and formatting for messages.

Accepted ``ts`` values (all UTC):

* epoch seconds (int or float);
* epoch milliseconds: any number above 1e11 (1e11 s is the year 5138) is divided by 1000;
  numbers still above 1e11 after that (micro/nanoseconds) are rejected;
* an ISO 8601 string as :meth:`datetime.fromisoformat` reads it (``Z`` or ``+hh:mm`` offsets;
  a naive time is UTC; a date alone is midnight UTC);
* ``None`` (JSON ``null``, or the key absent): the arrival time passed in by the caller.

Negative (pre-1970) and non-finite times are rejected. Nothing here reads the clock.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from edgewatch.errors import PayloadError

MILLISECONDS_ABOVE = 1e11
TS_KEY = "ts"
_KINDS = {bool: "a JSON boolean", list: "a JSON array", dict: "a JSON object"}


def parse_timestamp(raw: Any, arrival_time: float) -> float:
    """A decoded JSON ``ts`` as epoch seconds (see the module docstring); ``None`` is ``arrival_time``.

    Raises :class:`PayloadError` with reason ``bad_timestamp`` and field ``ts`` otherwise.
    """
    kind = type(raw)
    if kind is float or kind is int:
        try:
            ts = float(raw)
        except OverflowError:
            ts = math.inf
        if not math.isfinite(ts) or ts < 0:
            raise PayloadError(
                "bad_timestamp", f"timestamp {raw!r} must be a finite, non-negative epoch time", field=TS_KEY
            )
        if ts > MILLISECONDS_ABOVE:
            ts /= 1000.0
            if ts > MILLISECONDS_ABOVE:
                raise PayloadError(
                    "bad_timestamp",
                    f"timestamp {raw!r} is too large for epoch seconds or milliseconds "
                    f"(micro- or nanoseconds are not accepted)",
                    field=TS_KEY,
                )
        return ts
    if kind is str:
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise PayloadError(
                "bad_timestamp",
                f"timestamp {raw!r} is not an ISO 8601 time (e.g. 2026-01-01T12:00:00Z)",
                field=TS_KEY,
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        ts = moment.timestamp()
        if ts < 0:
            raise PayloadError("bad_timestamp", f"timestamp {raw!r} is before 1970", field=TS_KEY)
        return ts
    if raw is None:
        return float(arrival_time)
    raise PayloadError(
        "bad_timestamp",
        f"timestamp must be epoch seconds, epoch milliseconds or an ISO 8601 string, not "
        f"{_KINDS.get(type(raw), type(raw).__name__)}",
        field=TS_KEY,
    )


def format_ts(ts: float) -> str:
    """Epoch seconds as an ISO 8601 UTC string with milliseconds, for messages."""
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return repr(ts)
