"""Time helpers of the simulator: UTC ISO 8601 formatting, start-time and duration parsing."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import numpy as np

from edgewatch.errors import ConfigError

DEFAULT_START = "2026-01-01T00:00:00Z"
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|min|s|m|h|d|w)", re.IGNORECASE)


def iso_utc(ts: float) -> str:
    """``2026-01-01T00:00:01Z`` for whole seconds, else with milliseconds (``...:01.500Z``)."""
    return str(iso_utc_array(np.asarray([ts], dtype=np.float64))[0])


def iso_utc_array(ts: np.ndarray) -> np.ndarray:
    """Vectorised :func:`iso_utc` for an array of epoch seconds (one precision for the whole array:
    milliseconds as soon as any timestamp has a fraction of a second)."""
    ms = np.rint(np.asarray(ts, dtype=np.float64) * 1000.0).astype(np.int64)
    text = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="s" if np.all(ms % 1000 == 0) else "ms")
    return np.char.add(text, "Z")


def parse_time(value: str | float | int | datetime | None, *, field: str = "start_time") -> float:
    """Epoch seconds from epoch seconds, a ``datetime`` (naive = UTC) or an ISO 8601 string."""
    if value is None:
        value = DEFAULT_START
    if isinstance(value, datetime):
        dt = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return dt.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ConfigError(f"must be finite, got {value!r}", field=field)
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ConfigError(
                f"not an ISO 8601 time or epoch seconds: {value!r} (example: {DEFAULT_START})", field=field
            ) from None
        return parse_time(dt, field=field)
    raise ConfigError(f"unsupported time value {value!r}", field=field)


def parse_duration(text: str | float | int, *, field: str = "duration") -> float:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1h30m"``, ``"500ms"``; must be > 0."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        raw = str(text).strip()
        try:
            seconds = float(raw)
        except ValueError:
            pos, seconds = 0, 0.0
            compact = raw.replace(" ", "")
            for m in _PART.finditer(compact):
                if m.start() != pos:
                    break
                seconds += float(m.group(1)) * _UNITS[m.group(2).lower()]
                pos = m.end()
            if pos != len(compact) or pos == 0:
                raise ConfigError(
                    f"not a duration: {text!r} (examples: 90, 90s, 15m, 2h, 1d, 1h30m)", field=field
                ) from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"must be a positive duration, got {text!r}", field=field)
    return seconds
