"""Silent devices (core/silence.py): the timeout learned from each device's own rhythm, or configured."""

from __future__ import annotations

import json

import pytest

from edgewatch.core.silence import MIN_GAPS, SilenceConfig, SilenceWatch
from edgewatch.core.state import SilenceState

T0 = 1_767_225_600.0
LEARNED = SilenceConfig()


def _watch(times: list[float], device: str = "d") -> SilenceWatch:
    watch = SilenceWatch()
    for t in times:
        assert watch.seen(device, t) is None
    return watch


def test_silent_after_factor_times_the_longest_learned_gap_then_recovered() -> None:
    watch = _watch([T0 + 10 * i for i in range(6)])  # every 10 s: timeout 5 x 10 = 50 s
    assert watch.timeout(LEARNED) == 50.0
    assert watch.check("d", T0 + 50 + 50, LEARNED) is None
    event = watch.check("d", T0 + 50 + 50.5, LEARNED)
    assert event is not None and event.to_json()["event"] == "device_silent"
    assert event.last_seen == T0 + 50 and event.timeout_s == pytest.approx(50.0, rel=1e-3)
    assert watch.check("d", T0 + 200, LEARNED) is None  # once
    back = watch.seen("d", T0 + 300)
    assert back is not None and back.to_json() | {"ts": 0} == {
        "event": "device_recovered",
        "device": "d",
        "state": "recovered",
        "ts": 0,
        "last_seen": T0 + 50,
        "silent_for_s": 250.0,
        "timeout_s": None,
    }
    assert watch.gap == pytest.approx(10.0, rel=0.03)  # the outage is not learned (only slowly forgotten)


def test_bursts_do_not_look_like_silence_and_the_minimum_holds() -> None:
    burst = [T0 + 60 * i + 0.01 * j for i in range(4) for j in range(6)]  # 6 messages a minute, in a burst
    watch = _watch(burst)
    assert watch.timeout(LEARNED) > 5 * 59
    fast = _watch([T0 + 0.1 * i for i in range(10)])
    assert fast.timeout(LEARNED) == 30.0  # min_timeout_s


def test_nothing_is_judged_before_the_rhythm_is_known_unless_a_timeout_is_set() -> None:
    watch = _watch([T0 + i for i in range(MIN_GAPS)])  # MIN_GAPS - 1 gaps
    assert watch.timeout(LEARNED) is None and watch.check("d", T0 + 1e6, LEARNED) is None
    fixed = SilenceConfig(timeout_s=20.0)
    assert _watch([T0]).check("d", T0 + 21, fixed) is not None


def test_a_long_gap_is_forgotten_slowly() -> None:
    watch = _watch([T0, T0 + 10, T0 + 20, T0 + 200])  # one 180 s gap among 10 s ones
    watch.check("d", T0 + 200, LEARNED)
    assert watch.timeout(LEARNED) == pytest.approx(900.0)
    for hour in range(1, 4):  # still sending every 10 s; checked every second
        for t in range(3600):
            now = T0 + 200 + 3600 * (hour - 1) + t + 1
            watch.seen("d", now) if t % 10 == 0 else None
            watch.check("d", now, LEARNED)
    assert 50.0 <= watch.timeout(LEARNED) < 900.0 * 0.6**3


def test_the_watch_survives_a_restart() -> None:
    watch = _watch([T0 + 10 * i for i in range(6)])
    watch.check("d", T0 + 200, LEARNED)
    saved = SilenceState(**json.loads(json.dumps(watch.snapshot().__dict__)))
    again = SilenceWatch.restore(saved)
    assert again.silent and again.timeout(LEARNED) == pytest.approx(50.0, rel=1e-3)
    assert again.seen("d", T0 + 400) is not None  # its recovered event after the restart
