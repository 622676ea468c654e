"""The outbox database's tables besides the queue itself, and the statements that touch them.

* ``alert_state``: per device, the alert its last queued alert message left open (``alert_id``, ``severity``;
  both NULL after ``cleared``). It is written in the same transaction as that message's row, so after a
  ``kill -9`` it says exactly which alerts the outside world was told are open -- the saved device state
  (written every few minutes) may be older. A restart re-opens those alerts in the pipeline, so the next
  normal readings send their ``cleared`` (:func:`edgewatch.core.restore.reopen_alerts`).
* ``dead_letter``: messages the broker refused with a failure reason code (MQTT 5 PUBACK >= 0x80, e.g. "Not
  authorized"), with the reason. The broker would refuse them again, and retrying would hold back every
  later message, so they leave the queue -- but are kept (the newest :data:`DEAD_LETTER_KEEP`) for an
  operator to inspect and re-send once the broker's ACL is fixed:
  ``sqlite3 outbox.sqlite3 'SELECT * FROM dead_letter'``.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

DEAD_LETTER_KEEP = 1000

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        qos INTEGER NOT NULL,
        retain INTEGER NOT NULL,
        essential INTEGER NOT NULL,
        created REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS alert_state (
        device TEXT PRIMARY KEY,
        alert_id TEXT,
        severity TEXT,
        updated REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS dead_letter (
        id INTEGER PRIMARY KEY,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        qos INTEGER NOT NULL,
        retain INTEGER NOT NULL,
        created REAL NOT NULL,
        refused REAL NOT NULL,
        reason TEXT NOT NULL
    )""",
)


@dataclass(frozen=True)
class AlertMark:
    """The alert state of ``device`` as of one queued alert message; ``alert_id`` None: no open alert."""

    device: str
    alert_id: str | None
    severity: str | None


@dataclass(frozen=True)
class DeadLetter:
    """A message the broker refused, and why."""

    id: int
    topic: str
    payload: bytes
    refused: float
    reason: str


def write_mark(db: sqlite3.Connection, mark: AlertMark) -> None:
    db.execute(
        "INSERT INTO alert_state (device, alert_id, severity, updated) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(device) DO UPDATE SET alert_id = excluded.alert_id, severity = excluded.severity, "
        "updated = excluded.updated",
        (mark.device, mark.alert_id, mark.severity, time.time()),
    )


def read_marks(db: sqlite3.Connection) -> dict[str, AlertMark]:
    rows = db.execute("SELECT device, alert_id, severity FROM alert_state ORDER BY device").fetchall()
    return {device: AlertMark(device, alert_id, severity) for device, alert_id, severity in rows}


def bury(db: sqlite3.Connection, row_id: int, reason: str) -> None:
    """Move queue row ``row_id`` to the dead letters (one transaction), keeping the newest ones only."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "INSERT OR REPLACE INTO dead_letter (id, topic, payload, qos, retain, created, refused, reason) "
            "SELECT id, topic, payload, qos, retain, created, ?, ? FROM outbox WHERE id = ?",
            (time.time(), reason, row_id),
        )
        db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
        db.execute(
            "DELETE FROM dead_letter WHERE id NOT IN (SELECT id FROM dead_letter ORDER BY id DESC LIMIT ?)",
            (DEAD_LETTER_KEEP,),
        )
        db.execute("COMMIT")
    except sqlite3.Error:
        db.execute("ROLLBACK")
        raise


def read_dead_letters(db: sqlite3.Connection) -> list[DeadLetter]:
    rows = db.execute("SELECT id, topic, payload, refused, reason FROM dead_letter ORDER BY id").fetchall()
    return [DeadLetter(r[0], r[1], bytes(r[2]), r[3], r[4]) for r in rows]
