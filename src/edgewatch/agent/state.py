"""The saved device state (:mod:`edgewatch.core.state`) in ``state_dir``.

One JSON file, replaced atomically: written to a temporary file, fsync'ed, renamed over the old one, and
the directory fsync'ed -- a crash or power cut leaves either the old or the new state, never a torn
file. Written on clean shutdown and on a model update (:meth:`StateStore.save`, complete, on the loop thread),
and every ``state_save_interval_s`` (default 5 min, which keeps SD card wear negligible) without stopping the
loop: :class:`SlicedSave` takes the devices a few milliseconds' worth at a time between batches and
:class:`StateWriter` writes the file in a background thread. Even ``kill -9`` loses at most one interval of
learning.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from edgewatch.core.state import STATE_TAIL, encode_state, gc_paused

log = logging.getLogger("edgewatch.state")

STATE_FILE = "pipeline-state.json"
SAVE_CHUNK = 32  # devices per slice between two looks at the clock (some 30 us each at 10,000 devices)


class StateStore:
    """Load and save one JSON document at ``<state_dir>/pipeline-state.json``.

    Writes are serialised (a lock): a background write (:class:`StateWriter`) and a complete save never
    write the temporary file at the same time."""

    def __init__(self, state_dir: str | os.PathLike[str], name: str = STATE_FILE) -> None:
        self.path = Path(state_dir) / name
        self._lock = threading.Lock()

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is none or it is unreadable (logged)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read saved state %s (%s); starting fresh", self.path, exc)
            return None
        try:
            with gc_paused():  # the parsed dicts and lists of every device are no garbage
                data = json.loads(text)
        except json.JSONDecodeError as exc:
            log.warning("saved state %s is not valid JSON (%s); starting fresh", self.path, exc)
            return None
        return data if isinstance(data, dict) else None

    def save(self, state: dict[str, Any]) -> None:
        """Atomically replace the saved state."""
        self.write([encode_state(state)])

    def write(self, parts: Iterable[bytes]) -> None:
        """Atomically replace the saved state with the concatenation of ``parts`` (already encoded JSON)."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            with open(tmp, "wb") as handle:
                for part in parts:  # each write releases the interpreter lock
                    handle.write(part)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            try:
                fd = os.open(self.path.parent, os.O_RDONLY)
            except OSError:
                return
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


class SliceSource(Protocol):
    """What a sliced save needs of :class:`edgewatch.core.pipeline.Pipeline`."""

    @property
    def devices(self) -> Mapping[str, Any]: ...

    def state_head(self) -> bytes: ...

    def state_slice(self, names: Iterable[str]) -> bytes: ...


class SlicedSave:
    """A periodic save taken in slices over successive loop steps, encoded on the loop thread as it goes.

    The devices are those of ``pipeline`` when the save starts, in its order. Each :meth:`advance` snapshots
    and JSON-encodes :data:`SAVE_CHUNK` devices at a time until ``budget_s`` has passed (at least one chunk),
    so a step holds the loop for a few milliseconds, not for the whole save (0.4 s at 10,000 devices); the
    :attr:`parts` are the bytes of the file once :attr:`done` (:mod:`edgewatch.core.state`: head, devices,
    tail).

    Consistency: each device's saved state is self-consistent as of when its slice was taken (a slice is
    taken between two batches, never inside one). Devices are independent of each other, so a file whose
    devices were taken a few loop steps apart is as valid a restart point as one taken at once. A device
    first seen during a save is not in it: it is saved by the next one; a device that is no longer in the
    pipeline when its slice comes is left out. For an unchanged pipeline the bytes are those of
    :meth:`StateStore.save` of ``pipeline.state_snapshot()``. A restart loses at most one interval of
    learning, as with a save taken at once (an alert's raise or clear is persisted by the outbox, not here).
    Every slice comes from the one ``pipeline``: the loop abandons a sliced save when the pipeline is
    replaced (a model update), so a file never mixes two models."""

    def __init__(self, pipeline: SliceSource, *, chunk: int = SAVE_CHUNK) -> None:
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        self.pipeline = pipeline
        self.chunk = chunk
        self.names = list(pipeline.devices)
        self.position = 0  # devices of self.names taken so far
        self.slices = 0  # advance() calls that took devices
        self.parts: list[bytes] = [pipeline.state_head()]
        self._members = 0
        self.done = False

    def advance(self, budget_s: float, timer: Callable[[], float] = time.perf_counter) -> bool:
        """Take chunks of devices until ``budget_s`` has passed by ``timer`` (at least one chunk); True once
        every device is taken and :attr:`parts` is complete."""
        if self.done:
            return True
        started = timer()
        names, chunk = self.names, self.chunk
        state_slice = self.pipeline.state_slice
        while self.position < len(names):
            piece = state_slice(names[self.position : self.position + chunk])
            self.position = min(self.position + chunk, len(names))
            if piece:
                self.parts.append(b"," + piece if self._members else piece)
                self._members += 1
            if timer() - started >= budget_s:
                break
        self.slices += 1
        if self.position >= len(names):
            self.parts.append(STATE_TAIL)
            self.done = True
        return self.done


class StateWriter:
    """Writes a finished :class:`SlicedSave` with ``store`` in a background thread: the write, fsync, rename
    and directory fsync release the interpreter lock, so the loop goes on scoring meanwhile.

    One write at a time (:attr:`busy`). A failed write (disk full, read-only) is logged, counted in
    :attr:`failed` and not retried here: the next interval's save writes the state again. Nothing it raises
    reaches the loop."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.written = 0
        self.failed = 0
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, parts: list[bytes]) -> None:
        """Write ``parts`` as the saved state, in the background (after any write still in progress)."""
        self.wait()
        self._thread = threading.Thread(target=self._write, args=(parts,), name="edgewatch-state", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the write in progress, if any; False if it is still running after ``timeout``."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            return False
        self._thread = None
        return True

    def _write(self, parts: list[bytes]) -> None:
        try:
            self.store.write(parts)
        except (OSError, ValueError) as exc:
            self.failed += 1
            log.error("cannot save the pipeline state to %s: %s", self.store.path, exc)
        except Exception:  # a bug here must not kill the agent: the next interval tries again
            self.failed += 1
            log.exception("cannot save the pipeline state to %s", self.store.path)
        else:
            self.written += 1
