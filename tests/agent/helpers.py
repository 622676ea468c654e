"""Helpers shared by the agent tests that run a real agent."""

from __future__ import annotations

import sqlite3
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
