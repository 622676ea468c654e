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
* A PUBACK with a failure reason code (MQTT 5, e.g. "Not authorized") moves the row to the ``dead_letter``
  table and counts it in ``rejected`` (logged as an error): the broker will never take that message, and
  retrying it would block every later one; kept there, it can be inspected and re-sent
  (:mod:`edgewatch.agent.outbox_tables`).
* An alert message may carry an :class:`AlertMark` (the device's open alert after it), written in the same
  transaction as the row: :meth:`Outbox.alert_marks` tells a restarted agent which alerts are open.

A full disk (or any other write error: ``sqlite3.OperationalError``) does not crash the agent. A message
the database refuses is *held in memory*: counted in ``unpersisted``, logged, published directly at QoS 1
after the rows before it, and forgotten once the broker acknowledged it. Every ``retry_s`` seconds the
outbox tries to write the held messages (and delete acknowledged rows it could not delete); once the
disk has room they are durable again. Later messages join the held ones while any are held, so the order
is kept. Held messages are lost only if the process dies before the broker acknowledged them.

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

from edgewatch.agent.outbox_tables import SCHEMA, AlertMark, DeadLetter, bury, read_dead_letters, read_marks, write_mark
from edgewatch.transports.base import RC_QUEUE_SIZE, Transport

__all__ = ["AlertMark", "DeadLetter", "Outbox", "OutboxRow"]

log = logging.getLogger("edgewatch.outbox")

SYNCHRONOUS_MODES = ("normal", "full")
RETRY_S = 5.0  # how often a refused write is retried


@dataclass(frozen=True)
class OutboxRow:
    """One queued message."""

    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    essential: bool


@dataclass(frozen=True)
class _Held:
    """A message the database refused, waiting in memory (``key`` < 0)."""

    key: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    essential: bool
    mark: AlertMark | None


class Outbox:
    """A bounded, ordered, durable queue of messages waiting for a broker acknowledgement."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_messages: int = 10_000,
        window: int = 64,
        synchronous: str = "normal",
        retry_s: float = RETRY_S,
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
        self.retry_s = retry_s
        self.dropped_droppable = 0
        self.dropped_essential = 0
        self.rejected = 0
        self.sent = 0
        self.unpersisted = 0  # messages the database refused (disk full): held in memory instead
        self._lock = threading.RLock()
        self._synchronous = synchronous
        self._count = 0
        self._cursor = 0  # highest row id handed to the transport in this process
        self._inflight: dict[int, tuple[int, int]] = {}  # mid -> (row id or held key, transport generation)
        self._held: dict[int, _Held] = {}  # insertion-ordered
        self._held_seq = 0
        self._undeleted: set[int] = set()  # acknowledged rows whose DELETE the disk refused
        self._failing: str | None = None  # the write error in force, logged once per episode
        self._next_retry = 0.0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit; every statement or explicit BEGIN..COMMIT is one transaction.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._ready = self._setup()
        if self._count:
            log.info("%s: %d message(s) pending from a previous run", self.path, self._count)

    def _setup(self) -> bool:
        """Set the database up; False (logged) when the disk refuses. Corruption (``sqlite3.DatabaseError``
        other than an ``OperationalError``) is raised: :func:`edgewatch.agent.recovery.open_outbox` moves
        the file aside."""
        try:
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("%s: SQLite refused WAL mode (got %s)", self.path, mode)
            self._db.execute(f"PRAGMA synchronous={self._synchronous.upper()}")
            for statement in SCHEMA:
                self._db.execute(statement)
            self._count = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        except sqlite3.OperationalError as exc:
            self._write_failed("open the database", exc)
            return False
        return True

    # -- queueing ----------------------------------------------------------------------------------

    def put(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        *,
        essential: bool = True,
        alert: AlertMark | None = None,
    ) -> int:
        """Commit one message (and ``alert``, in the same transaction); return its row id, 0 when the
        overflow policy refused it, or a negative key when the database refused it and it is held in memory.

        Call :meth:`pump` afterwards (or let the agent loop do it) to publish.
        """
        with self._lock:
            if self._ready and not self._held:
                try:
                    return self._insert(topic, bytes(payload), int(qos), bool(retain), essential, alert)
                except sqlite3.OperationalError as exc:
                    self._write_failed("queue a message", exc)
            return self._hold(topic, bytes(payload), int(qos), bool(retain), essential, alert)

    def _insert(
        self, topic: str, payload: bytes, qos: int, retain: bool, essential: bool, alert: AlertMark | None
    ) -> int:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            victim = None
            if self._count >= self.max_messages:
                victim = self._victim(essential)
                if victim is None:
                    db.execute("ROLLBACK")
                    return 0
                db.execute("DELETE FROM outbox WHERE id = ?", (victim,))
            cur = db.execute(
                "INSERT INTO outbox (topic, payload, qos, retain, essential, created) VALUES (?, ?, ?, ?, ?, ?)",
                (topic, payload, qos, int(retain), int(essential), time.time()),
            )
            if alert is not None:
                write_mark(db, alert)
            db.execute("COMMIT")
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self._count += 1 - (victim is not None)
        return int(cur.lastrowid or 0)

    def _victim(self, essential: bool) -> int | None:
        """The row the overflow policy deletes to make room (counted and logged), or None to refuse."""
        victim = self._db.execute(
            "SELECT id, topic FROM outbox WHERE id > ? AND essential = 0 ORDER BY id LIMIT 1", (self._cursor,)
        ).fetchone()
        if victim is None and not essential:
            self.dropped_droppable += 1
            log.warning("outbox full (%d): refused a droppable message", self.max_messages)
            return None
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
        return int(victim[0])

    def _hold(
        self, topic: str, payload: bytes, qos: int, retain: bool, essential: bool, alert: AlertMark | None
    ) -> int:
        if len(self._held) >= self.max_messages:
            busy = {key for key, _ in self._inflight.values()}
            victim = next((h for k, h in self._held.items() if k not in busy and not h.essential), None)
            victim = victim or next((h for k, h in self._held.items() if k not in busy), None)
            if victim is None or (victim.essential and not essential):
                self.dropped_droppable += 1
                return 0
            del self._held[victim.key]
            if victim.essential:
                self.dropped_essential += 1
            else:
                self.dropped_droppable += 1
        self._held_seq += 1
        key = -self._held_seq
        self._held[key] = _Held(key, topic, payload, qos, retain, essential, alert)
        self.unpersisted += 1
        return key

    def _write_failed(self, what: str, exc: sqlite3.Error) -> None:
        if self._failing is None:
            log.error(
                "%s: cannot %s (%s): holding messages in memory and publishing them directly (QoS 1); "
                "retrying the database every %g s",
                self.path,
                what,
                exc,
                self.retry_s,
            )
        self._failing = str(exc)

    def _retry_writes(self) -> None:
        """Write held messages, and delete acknowledged rows, that the disk refused before (every ``retry_s``)."""
        if not (self._held or self._undeleted or not self._ready):
            return
        now = time.monotonic()
        if now < self._next_retry:
            return
        self._next_retry = now + self.retry_s
        if not self._ready:
            self._ready = self._setup()
            if not self._ready:
                return
        if self._undeleted:
            self._delete(sorted(self._undeleted))
        busy = {key for key, _ in self._inflight.values()}
        for key, held in list(self._held.items()):
            if key in busy:
                continue
            try:
                self._insert(held.topic, held.payload, held.qos, held.retain, held.essential, held.mark)
            except sqlite3.OperationalError as exc:
                self._write_failed("queue a message", exc)
                return
            del self._held[key]
        if self._failing is not None and not self._undeleted:
            log.warning("%s: the database takes writes again (it failed with: %s)", self.path, self._failing)
            self._failing = None

    # -- sending -----------------------------------------------------------------------------------

    def pump(self, transport: Transport) -> int:
        """Apply the transport's acknowledgements, then publish queued rows in order; return how many.

        Never blocks on the network. Does nothing but bookkeeping while the transport is disconnected.
        """
        with self._lock:
            self._apply_acks(transport)
            self._retry_writes()
            if not transport.connected or self.depth == 0:
                return 0
            generation = transport.generation
            if any(gen < generation for _, gen in self._inflight.values()):
                return 0  # paho is re-sending older messages after a reconnect; keep the order
            published = 0
            delivered_qos0: list[int] = []
            while self._ready and len(self._inflight) < self.window:
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
            published += self._publish_held(transport, generation)
            self.sent += published
            return published

    def _publish_held(self, transport: Transport, generation: int) -> int:
        """Publish held messages (after every row, which is older) directly at QoS 1."""
        if not self._held:
            return 0
        busy = {key for key, _ in self._inflight.values()}
        published = 0
        for key, held in list(self._held.items()):
            if len(self._inflight) >= self.window:
                break
            if key in busy:
                continue
            handle = transport.publish(held.topic, held.payload, 1, held.retain)
            if not handle.accepted or handle.rc == RC_QUEUE_SIZE:
                break
            self._inflight[handle.mid] = (key, generation)
            published += 1
        return published

    def _apply_acks(self, transport: Transport) -> None:
        acked = []
        for ack in transport.take_acks():
            entry = self._inflight.pop(ack.mid, None)
            if entry is None:
                continue  # not ours (status, discovery, score stream)
            key = entry[0]
            if not ack.ok:
                self._refused(key, ack.reason)
            elif key < 0:
                self._held.pop(key, None)
            else:
                acked.append(key)
        self._delete(acked)

    def _refused(self, key: int, reason: str) -> None:
        self.rejected += 1
        if key < 0:
            held = self._held.pop(key, None)
            topic = held.topic if held is not None else "?"
            log.error("broker refused a message for %s: %s; it was held in memory and is dropped", topic, reason)
            return
        log.error(
            "broker refused outbox message %d: %s; moved to the dead_letter table of %s (retrying would hold "
            "back every later message; inspect it there and re-send once the broker allows it)",
            key,
            reason,
            self.path,
        )
        try:
            bury(self._db, key, reason)
            self._count -= 1
        except sqlite3.OperationalError as exc:
            self._write_failed("move a refused message to the dead letters", exc)
            self._undeleted.add(key)

    def _delete(self, row_ids: list[int]) -> None:
        if not row_ids:
            return
        deleted = 0
        try:
            self._db.execute("BEGIN")
            for row_id in row_ids:
                deleted += self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,)).rowcount
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:  # the disk refuses even a delete: retried later
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._write_failed("delete acknowledged messages", exc)
            self._undeleted.update(row_ids)
            return
        self._undeleted.difference_update(row_ids)
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
        """Messages waiting (queued or in flight, in the database or held in memory)."""
        return self._count - len(self._undeleted) + len(self._held)

    @property
    def held(self) -> int:
        """Messages held in memory because the database refused them."""
        return len(self._held)

    @property
    def busy(self) -> bool:
        """True when a prompt :meth:`pump` would make progress (rows waiting or acks expected)."""
        return self.depth > 0

    def pending(self) -> list[OutboxRow]:
        """All rows in the database in order (for tests and ``edgewatch`` diagnostics)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, retain, essential FROM outbox ORDER BY id"
            ).fetchall()
        gone = self._undeleted
        return [OutboxRow(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), bool(r[5])) for r in rows if r[0] not in gone]

    def alert_marks(self) -> dict[str, AlertMark]:
        """Per device, the alert state its last queued alert message left (see :class:`AlertMark`)."""
        with self._lock:
            marks = read_marks(self._db) if self._ready else {}
            for held in self._held.values():
                if held.mark is not None:
                    marks[held.mark.device] = held.mark
            return marks

    @property
    def writable(self) -> bool:
        """False while the database cannot even be set up (e.g. a full disk at start)."""
        return self._ready

    def check_integrity(self) -> None:
        """``sqlite3.DatabaseError`` unless SQLite's quick check finds the database sound (skipped while it
        cannot be set up)."""
        with self._lock:
            if not self._ready:
                return
            rows = self._db.execute("PRAGMA quick_check").fetchall()
        if rows != [("ok",)]:
            raise sqlite3.DatabaseError("integrity check failed: " + "; ".join(str(r[0]) for r in rows[:3]))

    def dead_letters(self) -> list[DeadLetter]:
        """The messages the broker refused, oldest first."""
        with self._lock:
            return read_dead_letters(self._db) if self._ready else []

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
