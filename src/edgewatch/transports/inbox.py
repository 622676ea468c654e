"""The inbox between a transport's network thread and the agent's one loop thread.

A bounded FIFO of :class:`~edgewatch.transports.base.InboundMessage`: the network thread adds one message at a
time (``put_nowait``) or a read buffer's messages at once (``put_many``), the loop takes them in batches
(:meth:`Inbox.take`). It replaces a ``queue.Queue``, whose lock and condition cost more per message than the
rest of the hand-over, and keeps its methods (``get``, ``get_nowait``, ``put_nowait``, ``qsize``, ``empty``;
``queue.Full`` / ``queue.Empty``) for code that takes one message at a time.

Adding is a ``deque.append`` (atomic under the GIL); the consumer is woken only when it waits, and takes
everything there (up to a maximum) in one go. One consumer only.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    """See the module docstring. ``maxsize`` bounds the messages held (a further ``put_nowait`` raises
    ``queue.Full``)."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._wakeup = threading.Event()
        self._waiting = False  # the consumer sleeps until an item is put

    # -- the network thread -------------------------------------------------------------------------

    def put_nowait(self, item: T) -> None:
        items = self._items
        if len(items) >= self.maxsize:
            raise queue.Full
        items.append(item)
        if self._waiting:
            self._wakeup.set()

    def put_many(self, batch: list[T]) -> int:
        """Add ``batch`` in order, as far as there is room; returns how many did not fit (not added: the last)."""
        items = self._items
        room = self.maxsize - len(items)
        if room >= len(batch):
            items.extend(batch)
            refused = 0
        else:
            items.extend(batch[: max(room, 0)])
            refused = len(batch) - max(room, 0)
        if self._waiting:
            self._wakeup.set()
        return refused

    # -- the consumer ------------------------------------------------------------------------------

    def take(self, max_items: int, timeout: float) -> list[T]:
        """Up to ``max_items`` messages, oldest first; waits up to ``timeout`` s for the first one (an empty
        list if none came)."""
        if not self._items and not self._wait(timeout):
            return []
        items = self._items
        popleft = items.popleft
        return [popleft() for _ in range(min(max_items, len(items)))]

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        """One message (``queue.Queue.get``): ``queue.Empty`` if none came within ``timeout``."""
        if not self._items and (not block or not self._wait(timeout)):
            raise queue.Empty
        return self._items.popleft()

    def get_nowait(self) -> T:
        return self.get(block=False)

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def _wait(self, timeout: float | None) -> bool:
        """Sleep until an item is there or ``timeout`` passed; True when one is."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._items:
            self._wakeup.clear()
            self._waiting = True
            if self._items:  # arrived between the check and setting _waiting
                break
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            self._wakeup.wait(remaining)
        self._waiting = False
        return bool(self._items)
