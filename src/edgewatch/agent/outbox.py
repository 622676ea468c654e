"""The durable outbox: alerts survive broker outages, reconnects, restarts and ``kill -9``.

Contract
--------
* :meth:`Outbox.put` commits the message to SQLite *before* anything is published.
* :meth:`Outbox.pump` publishes queued rows in insertion order while the transport is connected (at most
  ``window`` unacknowledged at a time) and deletes a row only when the broker acknowledged it (PUBACK for
  QoS 1; for QoS 0, once handed to a live connection). Delivery is therefore *at least once*: a crash
  between PUBACK and the delete re-sends that message after the restart.
* On reconnect, paho re-sends the messages it already had in flight (same order, ``dup`` flag); the
  outbox holds back newer rows until those are acknowledged, so the broker sees the rows in order.
* After a restart every row still in the table is pending and is re-sent in order.
* A PUBACK with a failure reason code (MQTT 5, e.g. "Not authorized") deletes the row and counts it in
  ``rejected``: the broker will never take that message, and retrying it would block every later one.

Durability: ``journal_mode=WAL`` with ``synchronous=NORMAL`` by default. A commit in WAL mode is written
to the WAL file before ``put`` returns; with NORMAL it is not fsync'ed until the next checkpoint. A
process killed with SIGKILL (or an OOM kill, or a crash) loses nothing -- the written pages are in the
kernel's page cache, which outlives the process. Only a power cut or kernel panic within the kernel's
write-back delay (about 5 s) can lose the newest rows; the database is never corrupted. ``FULL`` closes
that window at the price of an fsync per put and per acknowledged batch, which on SD cards costs tens of
milliseconds each and flash wear; choose it (``outbox.synchronous = "full"``) where power cuts are routine.

Overflow (``max_messages`` rows, default 10,000). Each row is *essential* (alert ``raised``/``cleared``,
sensor faults) or *droppable* (alert ``update``\\s, which a later update or ``cleared`` supersedes).
When a put finds the table full:

1. the oldest droppable row that is not in flight is deleted to make room;
2. if there is none and the new message is droppable, the new message is refused;
3. if there is none and the new message is essential, the oldest essential row not in flight is deleted.

Every dropped message is counted (``dropped_droppable`` / ``dropped_essential``) and logged; an essential
drop is logged as an error, since it means the outage outlasted the whole budget.

Thread safety: every method takes one lock; the SQLite connection is shared under it. Transport
callbacks never touch the outbox -- acknowledgements are read from ``transport.take_acks()`` in ``pump``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from edgewatch.transports.base import RC_QUEUE_SIZE, Transport

log = logging.getLogger("edgewatch.outbox")

SYNCHRONOUS_MODES = ("normal", "full")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    essential INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


@dataclass(frozen=True)
class OutboxRow:
    """One queued message."""

    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    essential: bool


class Outbox:
    """A bounded, ordered, durable queue of messages waiting for a broker acknowledgement."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_messages: int = 10_000,
        window: int = 64,
        synchronous: str = "normal",
    ) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be >= 1")
        if window < 1:
            raise ValueError("window must be >= 1")
        if synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}")
        self.path = Path(path)
        self.max_messages = max_messages
        self.window = window
        self.dropped_droppable = 0
        self.dropped_essential = 0
        self.rejected = 0
        self.sent = 0
        self._lock = threading.RLock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit; every statement or explicit BEGIN..COMMIT is one transaction.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.warning("%s: SQLite refused WAL mode (got %s)", self.path, mode)
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.execute(_SCHEMA)
        self._count = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        self._cursor = 0  # highest row id handed to the transport in this process
        self._inflight: dict[int, tuple[int, int]] = {}  # mid -> (row id, transport generation at send)
        if self._count:
            log.info("%s: %d message(s) pending from a previous run", self.path, self._count)

    # -- queueing ----------------------------------------------------------------------------------

    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, *, essential: bool = True) -> int:
        """Commit one message; return its row id, or 0 when the overflow policy refused it.

        Call :meth:`pump` afterwards (or let the agent loop do it) to publish.
        """
        with self._lock:
            if self._count >= self.max_messages and not self._make_room(essential):
                return 0
            cur = self._db.execute(
                "INSERT INTO outbox (topic, payload, qos, retain, essential, created) VALUES (?, ?, ?, ?, ?, ?)",
                (topic, bytes(payload), int(qos), int(retain), int(essential), time.time()),
            )
            self._count += 1
            return int(cur.lastrowid or 0)

    def _make_room(self, essential: bool) -> bool:
        victim = self._db.execute(
            "SELECT id, topic FROM outbox WHERE id > ? AND essential = 0 ORDER BY id LIMIT 1", (self._cursor,)
        ).fetchone()
        if victim is None and not essential:
            self.dropped_droppable += 1
            log.warning("outbox full (%d): refused a droppable message", self.max_messages)
            return False
        if victim is None:
            victim = self._db.execute(
                "SELECT id, topic FROM outbox WHERE id > ? ORDER BY id LIMIT 1", (self._cursor,)
            ).fetchone()
            if victim is None:  # everything is in flight: max_messages <= window
                victim = self._db.execute("SELECT id, topic FROM outbox ORDER BY id LIMIT 1").fetchone()
            self.dropped_essential += 1
            log.error(
                "outbox full (%d essential messages): dropped the oldest, for %s",
                self.max_messages,
                victim[1],
            )
        else:
            self.dropped_droppable += 1
            log.warning("outbox full (%d): dropped the oldest droppable message, for %s", self.max_messages, victim[1])
        self._db.execute("DELETE FROM outbox WHERE id = ?", (victim[0],))
        self._count -= 1
        return True

    # -- sending -----------------------------------------------------------------------------------

    def pump(self, transport: Transport) -> int:
        """Apply the transport's acknowledgements, then publish queued rows in order; return how many.

        Never blocks on the network. Does nothing but bookkeeping while the transport is disconnected.
        """
        with self._lock:
            self._apply_acks(transport)
            if not transport.connected or self._count == 0:
                return 0
            generation = transport.generation
            if any(gen < generation for _, gen in self._inflight.values()):
                return 0  # paho is re-sending older messages after a reconnect; keep the order
            published = 0
            delivered_qos0: list[int] = []
            while len(self._inflight) < self.window:
                rows = self._db.execute(
                    "SELECT id, topic, payload, qos, retain FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                    (self._cursor, self.window - len(self._inflight)),
                ).fetchall()
                if not rows:
                    break
                for row_id, topic, payload, qos, retain in rows:
                    handle = transport.publish(topic, payload, qos, bool(retain))
                    if not handle.accepted or handle.rc == RC_QUEUE_SIZE:
                        self._delete(delivered_qos0)
                        return published  # connection just dropped: retry on a later pump
                    self._cursor = row_id
                    published += 1
                    if qos == 0:
                        delivered_qos0.append(row_id)
                    else:
                        self._inflight[handle.mid] = (row_id, generation)
            self._delete(delivered_qos0)
            self.sent += published
            return published

    def _apply_acks(self, transport: Transport) -> None:
        acked = []
        for ack in transport.take_acks():
            entry = self._inflight.pop(ack.mid, None)
            if entry is None:
                continue  # not ours (status, discovery, score stream)
            acked.append(entry[0])
            if not ack.ok:
                self.rejected += 1
                log.error("broker rejected outbox message %d: %s; dropping it", entry[0], ack.reason)
        self._delete(acked)

    def _delete(self, row_ids: list[int]) -> None:
        if not row_ids:
            return
        self._db.execute("BEGIN")
        deleted = 0
        for row_id in row_ids:
            deleted += self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,)).rowcount
        self._db.execute("COMMIT")
        self._count -= deleted

    def flush(self, transport: Transport, timeout: float) -> bool:
        """Pump until the outbox is empty or ``timeout`` seconds passed; True when empty."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump(transport)
            if self.depth == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    # -- inspection --------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Rows waiting (queued or in flight)."""
        return self._count

    @property
    def busy(self) -> bool:
        """True when a prompt :meth:`pump` would make progress (rows waiting or acks expected)."""
        return self._count > 0

    def pending(self) -> list[OutboxRow]:
        """All rows in order (for tests and ``edgewatch`` diagnostics)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, retain, essential FROM outbox ORDER BY id"
            ).fetchall()
        return [OutboxRow(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), bool(r[5])) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
