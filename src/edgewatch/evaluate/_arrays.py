"""Validation of the per-row arrays every evaluation function takes.

Shape mismatches between the caller's own arrays are programming errors (``ValueError``); bad *values*
that come from a user's data file (labels other than 0/1, non-finite or decreasing timestamps) raise
:class:`~edgewatch.errors.DataError` so the command line reports them in one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgewatch.errors import DataError


def as_binary(values: Any, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D bool array; accept bools or numbers that are exactly 0 or 1."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr
    if arr.size and not np.all((arr == 0) | (arr == 1)):
        bad = arr[~((arr == 0) | (arr == 1))][0]
        raise DataError(f"{name} must be 0 or 1, found {bad!r}", column=name)
    return arr.astype(bool)


def as_seconds(timestamps: Any, n: int) -> np.ndarray:
    """Return timestamps as float64 seconds (``datetime64`` is converted), checked finite and sorted."""
    arr = np.asarray(timestamps)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"timestamps must have shape ({n},), got {arr.shape}")
    if np.issubdtype(arr.dtype, np.datetime64):
        arr = arr.astype("datetime64[ns]").astype(np.int64) / 1e9
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise DataError("timestamps must be finite", column="timestamp")
    if n > 1 and np.any(np.diff(arr) < 0):
        row = int(np.flatnonzero(np.diff(arr) < 0)[0]) + 1
        raise DataError("timestamps must not decrease", row=row, column="timestamp")
    return arr


def as_scores(scores: Any, n: int) -> np.ndarray:
    """Return scores as float64 of shape ``(n,)``; NaN marks a row that was not scored."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"scores must have shape ({n},), got {arr.shape}")
    return arr


def as_fault_types(fault_types: Sequence[Any] | np.ndarray | None, n: int) -> list[str | None] | None:
    """Normalise per-row fault type names: empty strings, ``None`` and NaN become ``None``."""
    if fault_types is None:
        return None
    values = list(np.asarray(fault_types, dtype=object).reshape(-1))
    if len(values) != n:
        raise ValueError(f"fault_types must have {n} entries, got {len(values)}")
    out: list[str | None] = []
    for v in values:
        if v is None or (isinstance(v, float) and v != v):
            out.append(None)
        else:
            text = str(v).strip()
            out.append(text if text and text.lower() not in ("nan", "none", "normal") else None)
    return out

