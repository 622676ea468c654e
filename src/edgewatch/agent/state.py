"""The saved device state (:mod:`edgewatch.core.state`) in ``state_dir``.

One JSON file, replaced atomically: written to a temporary file, fsync'ed, renamed over the old one, and
the directory fsync'ed -- a crash or power cut leaves either the old or the new state, never a torn
file. Written on clean shutdown and every ``state_save_interval_s`` (default 5 min, which keeps SD card
wear negligible), so even ``kill -9`` loses at most that much learning.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from edgewatch.core.state import gc_paused

log = logging.getLogger("edgewatch.state")

STATE_FILE = "pipeline-state.json"


class StateStore:
    """Load and save one JSON document at ``<state_dir>/pipeline-state.json``."""

    def __init__(self, state_dir: str | os.PathLike[str], name: str = STATE_FILE) -> None:
        self.path = Path(state_dir) / name

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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = json.dumps(state, allow_nan=False, separators=(",", ":")).encode("utf-8")
        with open(tmp, "wb") as handle:
            handle.write(data)
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
