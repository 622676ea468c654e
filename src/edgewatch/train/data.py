"""Training data: one or more recordings of normal operation, concatenated and checked.

Files are read by :func:`edgewatch.data.read.read_table` (the same reader ``score`` and ``replay`` use), so a
file that trains also scores, with the same error messages naming file, row and column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgewatch.data.read import read_table
from edgewatch.errors import DataError

MIN_ROWS = 50


@dataclass(frozen=True)
class Recording:
    """Rows of one or more files: ``values`` (n, F) in the order of ``features``, ``timestamps`` in epoch
    seconds (row numbers for files without a time column), ``labels`` (0/1) or None, and ``sources``:
    ``(path, start, end)`` row ranges of each file."""

    features: tuple[str, ...]
    values: np.ndarray
    timestamps: np.ndarray
    labels: np.ndarray | None
    sources: tuple[tuple[str, int, int], ...]

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    def take(self, mask: np.ndarray) -> Recording:
        """Rows where ``mask`` is true; ``sources`` renumbered to the kept rows of each file."""
        sources = []
        for path, start, end in self.sources:
            before = int(mask[:start].sum())
            sources.append((path, before, before + int(mask[start:end].sum())))
        return Recording(
            self.features,
            self.values[mask],
            self.timestamps[mask],
            None if self.labels is None else self.labels[mask],
            tuple(sources),
        )


def load_recordings(
    paths: Sequence[str | Path],
    *,
    features: Sequence[str] | None = None,
    time_col: str | None = None,
    label_col: str | None = None,
    sep: str | None = None,
    head: int | None = None,
) -> Recording:
    """Load and concatenate recordings; every file must have the feature columns of the first.
    ``head`` keeps only the first ``head`` rows of each file (train on the start, evaluate on the rest)."""
    if not paths:
        raise DataError("no data files given")
    tables = []
    chosen = tuple(features) if features else None
    for path in paths:
        table = read_table(path, features=chosen, time_col=time_col, label_col=label_col, sep=sep, head=head)
        chosen = table.features
        tables.append(table)
    if any(t.labels is None for t in tables) and any(t.labels is not None for t in tables):
        raise DataError("some files have a label column and some do not; name it with --label-col")
    sources, offset = [], 0
    for table in tables:
        sources.append((table.path, offset, offset + table.n_rows))
        offset += table.n_rows
    return Recording(
        features=tables[0].features,
        values=np.concatenate([t.values for t in tables]),
        timestamps=np.concatenate([t.timestamps for t in tables]),
        labels=None if tables[0].labels is None else np.concatenate([t.labels for t in tables]),  # type: ignore[misc]
        sources=tuple(sources),
    )


def check_trainable(recording: Recording, *, min_rows: int = MIN_ROWS) -> None:
    """Refuse training data that cannot give a meaningful model: too few rows or constant columns."""
    path = recording.sources[0][0] if len(recording.sources) == 1 else None
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
