"""Assembling the scorer's input windows for one batch without per-reading numpy work.

A device's window is its last ``window`` consecutive usable readings (scaled). Between batches a
device keeps its last ``window - 1`` scaled rows (``DeviceState.history``); within a batch the
window is tracked as a short Python list of row numbers into a *pool* = the batch's scaled rows
followed by the histories of the devices it touches. :meth:`BatchWindows.finish` gathers every
window with one fancy-indexing step and stores the new histories.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class _Windowed(Protocol):
    history: np.ndarray | None
    recent: list[int] | None


class BatchWindows:
    """Windows of one batch; ``rows`` lists what to score, in the order :meth:`add` accepted them."""

    __slots__ = ("_extras", "_n_pool", "_touched", "rows", "window")

    def __init__(self, window: int, n_rows: int) -> None:
        self.window = window
        self.rows: list[Any] = []  # window 1: batch row numbers; else: lists of pool row numbers
        self._extras: list[np.ndarray] = []
        self._n_pool = n_rows
        self._touched: list[_Windowed] = []

    def add(self, dev: _Windowed, row: int) -> bool:
        """Append batch row ``row`` to ``dev``'s window; return whether a full window was queued."""
        window = self.window
        if window == 1:
            self.rows.append(row)
            return True
        recent = dev.recent
        if recent is None:
            recent = self._start(dev)
        recent.append(row)
        if len(recent) > window:
            del recent[0]
        if len(recent) == window:
            self.rows.append(recent.copy())
            return True
        return False

    def reset(self, dev: _Windowed) -> None:
        """Empty ``dev``'s window (after a missing or stuck reading)."""
        if self.window == 1:
            return
        if dev.recent is None:
            self._touched.append(dev)
        dev.recent = []

    def finish(self, scaled: np.ndarray) -> np.ndarray:
        """The queued windows as float32 ``(n, window, F)``; saves each touched device's history."""
        n, window = len(self.rows), self.window
        n_features = scaled.shape[1]
        if window == 1:
            if n == scaled.shape[0]:
                return scaled.reshape(n, 1, n_features)
            return scaled[np.array(self.rows, dtype=np.intp)].reshape(n, 1, n_features)
        pool = np.concatenate([scaled, *self._extras]) if self._extras else scaled
        for dev in self._touched:
            keep = dev.recent[-(window - 1) :] if dev.recent else []
            dev.history = pool[keep] if keep else None
            dev.recent = None
        self._touched = []
        return pool[np.array(self.rows, dtype=np.intp).reshape(n, window)]

    def _start(self, dev: _Windowed) -> list[int]:
        self._touched.append(dev)
        history = dev.history
        if history is not None and len(history):
            recent = list(range(self._n_pool, self._n_pool + len(history)))
            self._extras.append(history)
            self._n_pool += len(history)
        else:
            recent = []
        dev.recent = recent
        return recent
