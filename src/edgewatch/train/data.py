"""Training data checks: refuse rows that cannot give a meaningful model, before any training."""

from __future__ import annotations

import math

from edgewatch.data.recording import Recording
from edgewatch.errors import DataError

MIN_ROWS = 50


def check_trainable(recording: Recording, *, min_rows: int = MIN_ROWS) -> None:
    """Refuse training data that cannot give a meaningful model: too few rows or constant columns."""
    path = recording.path or None
    if recording.n_rows < min_rows:
        raise DataError(f"too few rows to train: {recording.n_rows} (need at least {min_rows})", path=path)
    std = recording.values.std(axis=0)
    for name, s in zip(recording.features, std, strict=True):
        if not math.isfinite(float(s)) or s <= 0:
            raise DataError(
                "column is constant in the training rows; leave it out with --features",
                path=path,
                column=name,
            )


def drop_labelled(recording: Recording) -> tuple[Recording, int]:
    """Remove rows labelled anomalous; return the cleaned recording and how many rows were removed."""
    if recording.labels is None:
        return recording, 0
    keep = recording.labels == 0
    return recording.take(keep), int((~keep).sum())
