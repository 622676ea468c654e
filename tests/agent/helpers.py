"""Helpers shared by the agent tests that run a real agent."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


def outbox_rows(path: Path) -> list[tuple[str, bytes]]:
    """``(topic, payload)`` of every message waiting in the agent's outbox database, oldest first."""
    if not path.exists():
        return []
    db = sqlite3.connect(path)
    try:
        return [(t, bytes(p)) for t, p in db.execute("SELECT topic, payload FROM outbox ORDER BY id")]
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def wait_for_outbox(path: Path, timeout: float = 10.0) -> list[tuple[str, bytes]]:
    """The outbox's messages once there is at least one (an empty list when none came within ``timeout``)."""
    deadline = time.monotonic() + timeout
    rows = outbox_rows(path)
    while not rows and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = outbox_rows(path)
    return rows
