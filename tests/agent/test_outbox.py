"""The durable outbox: order, ack-then-delete, reconnect order, overflow policy, kill -9 survival."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edgewatch.agent.outbox import AlertMark, Outbox
from edgewatch.transports.mqtt import MqttTransport
from tests.transports.memory import MemoryTransport


def _connected(**kwargs) -> MemoryTransport:  # type: ignore[no-untyped-def]
    t = MemoryTransport(**kwargs)
    t.start()
    return t


def test_wal_mode_and_synchronous_setting(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as box:
        assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    with Outbox(tmp_path / "f.db", synchronous="full") as box:
        assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_put_is_durable_before_any_publish(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.put("edgewatch/d/alert", b"1")
    # another connection (another process would see the same) finds the committed row
    rows = sqlite3.connect(tmp_path / "o.db").execute("SELECT topic, payload FROM outbox").fetchall()
    assert rows == [("edgewatch/d/alert", b"1")]
    box.close()


def test_messages_publish_in_order_and_delete_only_after_ack(tmp_path: Path) -> None:
    t = _connected(auto_ack=False)
    box = Outbox(tmp_path / "o.db")
    for i in range(5):
        box.put("edgewatch/d/alert", str(i).encode())
    assert box.pump(t) == 5
    assert [m.payload for m in t.sent] == [b"0", b"1", b"2", b"3", b"4"]
    assert box.depth == 5  # sent, not acknowledged: nothing deleted
    assert box.pump(t) == 0  # and nothing sent twice
    t.ack(t.unacked[1])  # acknowledge "1" only
    box.pump(t)
    assert [r.payload for r in box.pending()] == [b"0", b"2", b"3", b"4"]
    t.ack_all()
    box.pump(t)
    assert box.depth == 0 and box.sent == 5


def test_queues_while_disconnected_then_sends_in_order(tmp_path: Path) -> None:
    t = _connected()
    t.set_online(False)
    box = Outbox(tmp_path / "o.db")
    for i in range(3):
        box.put("edgewatch/d/alert", str(i).encode())
        assert box.pump(t) == 0
    assert t.sent == [] and box.depth == 3
    t.set_online(True)
    box.pump(t)
    box.pump(t)
    assert [m.payload for m in t.sent] == [b"0", b"1", b"2"]
    assert box.depth == 0


def test_reconnect_keeps_order_behind_resent_in_flight_messages(tmp_path: Path) -> None:
    t = _connected(auto_ack=False)
    box = Outbox(tmp_path / "o.db", window=2)
    for i in range(4):
        box.put("edgewatch/d/alert", str(i).encode())
    box.pump(t)  # 0 and 1 in flight (window 2)
    t.set_online(False)  # connection lost before their PUBACKs
    box.put("edgewatch/d/alert", b"4")
    t.auto_ack = True
    t.set_online(True)  # the transport re-sends 0 and 1 (dup) itself, as paho does
    for _ in range(5):
        box.pump(t)
    first_copies = []
    for m in t.sent:
        if m.payload not in first_copies:
            first_copies.append(m.payload)
    assert first_copies == [b"0", b"1", b"2", b"3", b"4"]
    assert [m.dup for m in t.sent[2:4]] == [True, True]
    assert box.depth == 0


def test_refused_by_broker_is_dead_lettered_and_counted(tmp_path: Path, caplog) -> None:
    """A PUBACK with a failure reason code (MQTT 5, e.g. an ACL denial) moves the row to the dead_letter
    table: the broker will refuse it again, and retrying it would hold back every later message; kept there,
    an operator can see and re-send it once the ACL is fixed (issue 13, defect 5)."""
    t = _connected(auto_ack=False)
    box = Outbox(tmp_path / "o.db")
    box.put("edgewatch/d/alert", b"x")
    box.put("edgewatch/d/alert", b"y")
    box.pump(t)
    first, second = t.unacked
    t.ack(first, ok=False, reason="Not authorized")
    t.ack(second)
    box.pump(t)
    assert box.depth == 0 and box.rejected == 1
    dead = [(r.topic, r.payload, r.reason) for r in box.dead_letters()]
    assert dead == [("edgewatch/d/alert", b"x", "Not authorized")]
    assert "refused" in caplog.text and "Not authorized" in caplog.text


def test_qos0_rows_are_deleted_once_handed_to_a_live_connection(tmp_path: Path) -> None:
    t = _connected()
    box = Outbox(tmp_path / "o.db")
    box.put("edgewatch/d/score", b"s", qos=0, essential=False)
    assert box.pump(t) == 1 and box.depth == 0


def test_overflow_drops_oldest_droppable_first(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_messages=10)
    box.put("a", b"raised", essential=True)
    for i in range(8):
        box.put("a", f"update{i}".encode(), essential=False)
    box.put("a", b"cleared", essential=True)
    assert box.depth == 10
    box.put("a", b"raised2", essential=True)  # full: the oldest update goes
    payloads = [r.payload for r in box.pending()]
    assert payloads[0] == b"raised" and b"update0" not in payloads and payloads[-1] == b"raised2"
    assert box.depth == 10 and box.dropped_droppable == 1 and box.dropped_essential == 0


def test_overflow_refuses_droppable_when_only_essential_rows_remain(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_messages=10)
    for i in range(10):
        box.put("a", f"e{i}".encode(), essential=True)
    assert box.put("a", b"update", essential=False) == 0
    assert box.dropped_droppable == 1
    assert [r.payload for r in box.pending()] == [f"e{i}".encode() for i in range(10)]


def test_overflow_of_essentials_drops_the_oldest_and_counts_it(tmp_path: Path, caplog) -> None:
    box = Outbox(tmp_path / "o.db", max_messages=10)
    for i in range(12):
        box.put("a", f"e{i}".encode(), essential=True)
    assert [r.payload for r in box.pending()] == [f"e{i}".encode() for i in range(2, 12)]
    assert box.dropped_essential == 2
    assert "outbox full" in caplog.text


def test_overflow_never_evicts_messages_in_flight(tmp_path: Path) -> None:
    t = _connected(auto_ack=False)
    box = Outbox(tmp_path / "o.db", max_messages=10, window=3)
    for i in range(10):
        box.put("a", f"e{i}".encode(), essential=True)
    box.pump(t)  # e0..e2 in flight
    box.put("a", b"new", essential=True)
    payloads = [r.payload for r in box.pending()]
    assert payloads[:3] == [b"e0", b"e1", b"e2"] and b"e3" not in payloads


def test_restart_resends_pending_in_order(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = Outbox(path)
    t = _connected(auto_ack=False)
    for i in range(4):
        box.put("edgewatch/d/alert", str(i).encode())
    box.pump(t)
    t.ack(t.unacked[0])
    box.pump(t)
    box.close()  # "0" acknowledged; 1..3 sent but never acknowledged
    again = Outbox(path)
    t2 = _connected()
    again.pump(t2)
    again.pump(t2)
    assert [m.payload for m in t2.sent] == [b"1", b"2", b"3"]
    assert again.depth == 0


_WRITER = textwrap.dedent(
    """
    import sys, time
    from edgewatch.agent.outbox import AlertMark, Outbox
    box = Outbox(sys.argv[1])
    for i in range(int(sys.argv[2])):
        box.put("edgewatch/pump-1/alert", f'{{"n": {i}}}'.encode(), 1, True)
    print("written", flush=True)
    time.sleep(60)
    """
)


def _write_then_kill(path: Path, n: int) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(n)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "written"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()


def test_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    _write_then_kill(path, 50)
    box = Outbox(path)
    assert box.depth == 50
    t = _connected()
    box.flush(t, timeout=2)
    assert [m.payload for m in t.sent] == [f'{{"n": {i}}}'.encode() for i in range(50)]
    assert box.depth == 0


@pytest.mark.mqtt
def test_sigkilled_pending_messages_reach_a_real_broker_in_order(tmp_path: Path, broker, listen) -> None:
    path = tmp_path / "outbox.sqlite3"
    _write_then_kill(path, 20)
    alerts = listen("edgewatch/+/alert")
    t = MqttTransport(broker.host, broker.port, client_id="outbox-restart")
    t.start()
    try:
        assert t.wait_connected(5)
        box = Outbox(path)
        assert box.flush(t, timeout=5), "outbox did not drain: PUBACKs missing"
        got = alerts.wait_for(lambda ms: len(ms) >= 20)
        assert [p for _, p, _ in got] == [f'{{"n": {i}}}'.encode() for i in range(20)]
        box.close()
        assert Outbox(path).depth == 0
    finally:
        t.stop()


@pytest.mark.mqtt
def test_outbox_drains_after_broker_restart(tmp_path: Path, broker, listen) -> None:
    t = MqttTransport(broker.host, broker.port, client_id="outbox-reconnect", reconnect_max_s=1)
    t.start()
    assert t.wait_connected(5)
    box = Outbox(tmp_path / "o.db")
    try:
        broker.stop()
        while t.connected:
            time.sleep(0.01)
        for i in range(5):
            box.put("edgewatch/d/alert", str(i).encode())
            box.pump(t)
        assert box.depth == 5
        broker.start()
        alerts = listen("edgewatch/+/alert")
        assert t.wait_connected(10)
        assert box.flush(t, timeout=5)
        got = alerts.wait_for(lambda ms: len(ms) >= 5)
        assert [p for _, p, _ in got] == [str(i).encode() for i in range(5)]
    finally:
        box.close()
        t.stop()


# ---------------------------------------------------------------- issue 13: a full disk, a corrupt file, open alerts
class FullDisk:
    """Stands in for the outbox's SQLite connection: while ``full``, every write fails as SQLite reports a
    full disk (the injected variant of the real full-filesystem test below, for machines without root)."""

    WRITES = ("INSERT", "DELETE", "UPDATE", "CREATE")

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.full = True

    def execute(self, sql: str, *args):  # type: ignore[no-untyped-def]
        if self.full and sql.lstrip().split()[0].upper() in self.WRITES:
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.db, name)


def _full_disk_round(box: Outbox, t, make_room) -> None:  # type: ignore[no-untyped-def]
    """With the disk full: a put neither raises nor loses the message -- it is held in memory, published
    directly at QoS 1 and counted; once there is room again the held messages are written and the order
    kept."""
    assert box.put("edgewatch/d/alert", b"raised") < 0  # held in memory, not a row
    assert box.unpersisted == 1 and box.depth == 1
    box.pump(t)
    assert [(m.payload, m.qos) for m in t.sent] == [(b"raised", 1)]
    box.put("edgewatch/d/alert", b"update", essential=False)  # after a held message: held too, in order
    make_room()
    t.ack(t.unacked[0])
    box.pump(t)  # "raised" acknowledged; "update" written to the database, then published from there
    assert [m.payload for m in t.sent] == [b"raised", b"update"]
    assert [r.payload for r in box.pending()] == [b"update"]
    t.ack_all()
    box.pump(t)
    assert box.depth == 0 and box.unpersisted == 2
    box.put("edgewatch/d/alert", b"cleared")
    assert [r.payload for r in box.pending()] == [b"cleared"]  # durable again


def test_a_full_disk_degrades_to_direct_publishing_instead_of_crashing(tmp_path: Path, caplog) -> None:
    t = _connected(auto_ack=False)
    box = Outbox(tmp_path / "o.db", retry_s=0.0)
    disk = FullDisk(box._db)
    box._db = disk  # type: ignore[assignment]

    def make_room() -> None:
        disk.full = False

    _full_disk_round(box, t, make_room)
    assert "disk is full" in caplog.text


def test_a_really_full_filesystem_degrades_and_recovers(tmp_path: Path) -> None:
    from edgewatch.rig.tinyfs import TinyFilesystem, unavailable

    if unavailable():
        pytest.skip(f"{unavailable()}; the injected variant above covers the logic")
    with TinyFilesystem(256) as fs:
        box = Outbox(fs.path / "outbox.sqlite3", retry_s=0.0)
        box.put("edgewatch/d/alert", b"warm-up")  # the WAL and shared-memory files exist
        assert box.flush(_connected(auto_ack=True), timeout=2)
        fs.fill()
        t = _connected(auto_ack=False)
        _full_disk_round(box, t, fs.free)
        box.close()


def test_a_database_that_cannot_be_created_is_retried(tmp_path: Path) -> None:
    """A full disk at start (the outbox file cannot even be created): the agent still starts, holding
    messages in memory until the database can be written."""
    from edgewatch.rig.tinyfs import TinyFilesystem, unavailable

    if unavailable():
        pytest.skip(str(unavailable()))
    with TinyFilesystem(256) as fs:
        fs.fill()
        box = Outbox(fs.path / "outbox.sqlite3", retry_s=0.0)
        t = _connected()
        assert box.put("edgewatch/d/alert", b"raised") < 0
        assert box.flush(t, timeout=2)
        assert [m.payload for m in t.sent] == [b"raised"] and not box.writable
        fs.free()
        box.put("edgewatch/d/alert", b"cleared")
        assert box.flush(t, timeout=2) and box.writable
        assert [m.payload for m in t.sent] == [b"raised", b"cleared"]
        box.close()


@pytest.mark.parametrize("damage", ["not-a-database", "torn-page"])
def test_a_corrupt_outbox_is_moved_aside_and_a_fresh_one_opened(tmp_path: Path, damage: str, caplog) -> None:
    from edgewatch.agent.recovery import open_outbox

    path = tmp_path / "outbox.sqlite3"
    if damage == "not-a-database":
        path.write_bytes(b"this is not SQLite " * 500)
    else:
        with Outbox(path) as box:
            for i in range(200):
                box.put("edgewatch/d/alert", b"x" * 200 + str(i).encode())
        data = bytearray(path.read_bytes())
        data[4096 : 4096 + 2000] = b"\xff" * 2000  # scribble over the queue table's root page
        path.write_bytes(bytes(data))
    damaged = path.read_bytes()
    box, recovery = open_outbox(path)
    try:
        assert recovery is not None and recovery.moved_to.read_bytes() == damaged  # kept for inspection
        assert recovery.moved_to.name.startswith("outbox.sqlite3.corrupt-")
        assert box.depth == 0 and box.put("edgewatch/d/alert", b"new") > 0
        assert "corrupt" in caplog.text and str(recovery.moved_to) in caplog.text
    finally:
        box.close()
    box, again = open_outbox(path)
    assert again is None and box.depth == 1
    box.close()


def test_alert_marks_are_written_in_the_same_transaction_as_the_alert(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with Outbox(path) as box:
        box.put("edgewatch/d/alert", b"raised", alert=AlertMark("d", "d-1", "minor"))
        box.put("edgewatch/e/alert", b"raised", alert=AlertMark("e", "e-1", "major"))
        box.put("edgewatch/d/alert", b"cleared", alert=AlertMark("d", None, None))
    with Outbox(path) as box:
        assert box.alert_marks() == {"d": AlertMark("d", None, None), "e": AlertMark("e", "e-1", "major")}
