"""The inbox between a transport's network thread and the agent's loop."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from edgewatch.transports.inbox import Inbox


def test_take_returns_what_is_there_oldest_first_up_to_a_maximum() -> None:
    inbox: Inbox[int] = Inbox(10)
    for i in range(5):
        inbox.put_nowait(i)
    assert inbox.take(3, timeout=0) == [0, 1, 2]
    assert inbox.qsize() == 2
    assert inbox.take(10, timeout=0) == [3, 4]
    assert inbox.empty()


def test_a_full_inbox_refuses_like_a_queue() -> None:
    inbox: Inbox[int] = Inbox(2)
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    with pytest.raises(queue.Full):
        inbox.put_nowait(3)
    assert inbox.get_nowait() == 1
    assert inbox.get(timeout=0.01) == 2
    with pytest.raises(queue.Empty):
        inbox.get_nowait()
    with pytest.raises(queue.Empty):
        inbox.get(timeout=0.01)


def test_take_waits_for_the_first_item_and_times_out_empty() -> None:
    inbox: Inbox[str] = Inbox(10)
    started = time.monotonic()
    assert inbox.take(5, timeout=0.05) == []
    assert time.monotonic() - started >= 0.04
    threading.Timer(0.05, inbox.put_nowait, args=("late",)).start()
    assert inbox.take(5, timeout=5) == ["late"]


def test_nothing_is_lost_or_reordered_between_two_threads() -> None:
    inbox: Inbox[int] = Inbox(1_000_000)
    n = 50_000

    def produce() -> None:
        for i in range(n):
            inbox.put_nowait(i)
            if i % 1000 == 0:
                time.sleep(0.001)

    producer = threading.Thread(target=produce)
    producer.start()
    got: list[int] = []
    deadline = time.monotonic() + 30
    while len(got) < n and time.monotonic() < deadline:
        got += inbox.take(256, timeout=0.5)
    producer.join()
    assert got == list(range(n))


def test_put_many_adds_in_order_as_far_as_there_is_room_and_counts_the_rest() -> None:
    inbox: Inbox[int] = Inbox(5)
    assert inbox.put_many([0, 1, 2]) == 0
    assert inbox.put_many([3, 4, 5, 6]) == 2  # 5 and 6 did not fit
    assert inbox.take(10, timeout=0) == [0, 1, 2, 3, 4]
    assert inbox.put_many([]) == 0 and inbox.empty()


def test_put_many_wakes_a_waiting_consumer() -> None:
    inbox: Inbox[int] = Inbox(5)
    threading.Timer(0.05, lambda: inbox.put_many([7, 8])).start()
    started = time.monotonic()
    assert inbox.take(10, timeout=5) == [7, 8]
    assert time.monotonic() - started < 2
