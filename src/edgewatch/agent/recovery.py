"""Opening the outbox at start, and what happens when its database is corrupt.

A corrupt outbox (not a SQLite file, a torn page, a failed integrity check) used to stop the agent at
every start until a person acted. :func:`open_outbox` moves the damaged file (with its ``-wal`` and
``-shm`` companions) aside to ``<name>.corrupt-<UTC time>`` -- kept for inspection, since it may still hold
undelivered alerts -- logs that at ERROR, opens a fresh outbox and returns a :class:`Recovery` that the
agent publishes as an event on ``edgewatch/<agent-id>/event``.

A full disk is not corruption: the outbox opens without a usable database and holds messages in memory
until it can write (:mod:`edgewatch.agent.outbox`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgewatch.agent.outbox import Outbox
from edgewatch.core.timestamps import format_ts

log = logging.getLogger("edgewatch.outbox")

COMPANIONS = ("-wal", "-shm")


@dataclass(frozen=True)
class Recovery:
    """A corrupt outbox was moved from ``path`` to ``moved_to`` because of ``error``."""

    path: Path
    moved_to: Path
    error: str
    ts: float

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "outbox_corrupt",
            "path": str(self.path),
            "moved_to": str(self.moved_to),
            "error": self.error,
            "ts": format_ts(self.ts),
        }

    def payload(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode("utf-8")


def open_outbox(path: str | os.PathLike[str], **options: Any) -> tuple[Outbox, Recovery | None]:
    """The outbox at ``path`` (``options`` as for :class:`Outbox`), and the recovery when the file was corrupt
    and a fresh one had to be opened. ``OSError`` when the directory cannot be used at all."""
    path = Path(path)
    outbox = None
    try:
        outbox = Outbox(path, **options)
        outbox.check_integrity()
        return outbox, None
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        error = str(exc)
        if outbox is not None:
            outbox.close()
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    moved_to = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", *COMPANIONS):
        source = path.with_name(path.name + suffix)
        if source.exists():
            os.replace(source, moved_to.with_name(moved_to.name + suffix))
    log.error(
        "the outbox database %s is corrupt (%s): moved it to %s for inspection (it may hold undelivered "
        "alerts) and started a fresh outbox",
        path,
        error,
        moved_to,
    )
    return Outbox(path, **options), Recovery(path, moved_to, error, now)
