"""After a fault: slow sensors lag back, a few sensors shift lastingly, and ``--no-recovery`` turns it off."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

from edgewatch.cli import main
from edgewatch.sim import Recording, simulate
from edgewatch.sim.pump import SENSOR_BY_NAME, PumpTrace, simulate_pump
from edgewatch.sim.recovery import (
    RECOVERY_TAU_S,
    SHIFT_SCALE,
    SHIFT_SENSORS,
    SLOW_SENSORS,
    Recovery,
    apply_recovery,
    plan_recovery,
)

from .conftest import DAY

# `edgewatch simulate --out X --duration 1d --rate 0.1 --seed 5 --features 12` as written before the
# recovery tail existed (commit add4210): --no-recovery must give these bytes.
OLD_CSV_SHA256 = "6c05764258cb92342617e040d75319d1b18201bfa51a08d51293db3e9215ada8"
OLD_EVENTS_SHA256 = "24db6edaba60677a2da9e2c453a1a074b6c4a415bc026aa3474da9ecce04f93b"


def _trace(n: int = 12_000, stops_per_day: float = 0.0) -> PumpTrace:
    return simulate_pump(n, rate_hz=1.0, names=tuple(SENSOR_BY_NAME), seed=3, stops_per_day=stops_per_day)


def _offsets(trace: PumpTrace, plans: list[Recovery]) -> dict[str, np.ndarray]:
    true = {name: arr.copy() for name, arr in trace.true.items()}
    apply_recovery(trace, true, plans)
    return {name: true[name] - trace.true[name] for name in true}


def test_a_slow_sensor_returns_with_a_first_order_lag() -> None:
    trace = _trace(4000)
    off = _offsets(trace, [Recovery(end_row=500, excess={"bearing_temp": 10.0}, shift={})])
    lag = off["bearing_temp"]
    assert np.all(lag[:500] == 0.0)
    k = np.arange(3500)
    np.testing.assert_allclose(lag[500:], 10.0 * np.exp(-(k + 1) / RECOVERY_TAU_S), rtol=1e-9)
    half_life = round(RECOVERY_TAU_S * math.log(2))  # about 10 min
    assert lag[499 + half_life] == pytest.approx(5.0, abs=0.01)
    assert all(np.all(off[name] == 0.0) for name in off if name != "bearing_temp")


def test_a_repair_sets_a_new_level_that_lasts_while_running() -> None:
    trace = _trace(12_000, stops_per_day=12.0)  # a planned stop every ~2 h
    running, stopped = trace.speed >= 0.6, trace.speed == 0.0
    assert stopped[3000:].any() and stopped[:1000].sum() == 0
    plans = [
        Recovery(end_row=100, excess={}, shift={"flow": 1.0, "motor_temp": 1.0}),
        Recovery(end_row=1000, excess={}, shift={"flow": -0.5}),
    ]
    off = _offsets(trace, plans)
    flow = off["flow"]
    assert np.all(flow[:100] == 0.0)
    np.testing.assert_allclose(flow[100:1000], 1.0)
    # the later repair replaces the level (it does not add to it), for the rest of the recording
    np.testing.assert_allclose(flow[1000:][running[1000:]], -0.5)
    assert np.all(flow[stopped] == 0.0)  # a stopped pump reads no extra flow
    # a temperature approaches its new level with the lag, and never overshoots it
    temp = off["motor_temp"]
    assert np.all(temp[:100] == 0.0) and np.all(temp <= 1.0)
    assert temp[99 + round(RECOVERY_TAU_S)] == pytest.approx(1 - math.exp(-1), abs=0.01)
    first_stop = next(a for a, b in trace.stops if a > 1000)
    restart = next(b for a, b in trace.stops if a == first_stop)
    assert temp[restart - 1] < 0.5 * temp[first_stop - 1]  # like the heat itself, it fades in a stop
    second_stop = next(a for a, b in trace.stops if a > restart)
    assert second_stop - restart > 4 * RECOVERY_TAU_S
    assert temp[second_stop - 1] == pytest.approx(1.0, abs=0.02)


def test_shifts_are_drawn_per_fault_from_the_seed_and_bounded() -> None:
    trace = _trace(2000)
    names = set(trace.names)
    plans = {}
    for seed in range(15):
        for index in range(9):
            plan = plan_recovery(index, seed=seed, trace=trace, start_row=100, end_row=200, faulted=trace.true)
            again = plan_recovery(index, seed=seed, trace=trace, start_row=100, end_row=200, faulted=trace.true)
            assert plan == again
            assert plan.excess == {}  # nothing changed the slow sensors
            assert 2 <= len(plan.shift) <= 3 and set(plan.shift) <= set(SHIFT_SENSORS) & names
            for name, value in plan.shift.items():
                scale = SENSOR_BY_NAME[name].scale
                assert SHIFT_SCALE[0] * scale <= abs(value) <= SHIFT_SCALE[1] * scale
            plans[seed, index] = plan
    assert len({tuple(sorted(p.shift)) for p in plans.values()}) > 10  # different faults move different sensors
    signs = [v > 0 for p in plans.values() for v in p.shift.values()]
    assert 0.3 < np.mean(signs) < 0.7


def test_the_excess_is_what_a_process_fault_left_on_a_slow_sensor() -> None:
    trace = _trace(2000)
    faulted = {name: arr.copy() for name, arr in trace.true.items()}
    faulted["bearing_temp"][100:200] += np.linspace(0.0, 8.0, 100)
    faulted["vibration_x_rms"][100:200] += 2.0  # fast sensors return at once
    plan = plan_recovery(0, seed=1, trace=trace, start_row=100, end_row=200, faulted=faulted)
    assert plan.excess == {"bearing_temp": pytest.approx(8.0)}


@pytest.fixture(scope="module")
def faulty_day_without_recovery() -> Recording:
    return simulate(**DAY, seed=7, faults="all", recovery=False)


def test_recovery_changes_only_normal_rows_after_a_fault(
    faulty_day: Recording, faulty_day_without_recovery: Recording
) -> None:
    on, off = faulty_day, faulty_day_without_recovery
    assert np.array_equal(on.labels, off.labels) and np.array_equal(on.faults, off.faults)
    assert on.events == off.events
    first_end = min(ev.end_row for ev in on.events)
    assert np.array_equal(on.values[:first_end], off.values[:first_end], equal_nan=True)
    assert not np.array_equal(on.values[first_end:], off.values[first_end:], equal_nan=True)
    again = simulate(**DAY, seed=7, faults="all")
    assert np.array_equal(again.values, on.values, equal_nan=True)
    other = simulate(**DAY, seed=8, faults="all")
    assert not np.array_equal(other.values, on.values, equal_nan=True)


def test_the_lasting_shift_stays_within_its_bound(
    faulty_day: Recording, faulty_day_without_recovery: Recording
) -> None:
    on, off = faulty_day, faulty_day_without_recovery
    normal = on.labels == 0
    wear = next(ev for ev in on.events if ev.type == "bearing_wear")
    after_wear = np.zeros(len(on), dtype=bool)
    after_wear[wear.end_row : wear.end_row + round(8 * RECOVERY_TAU_S * on.rate_hz)] = True
    moved = set()
    for j, name in enumerate(on.features):
        sensor = SENSOR_BY_NAME[name]
        rows = normal & ~after_wear if name in SLOW_SENSORS else normal
        diff = np.abs(on.values[rows, j] - off.values[rows, j])
        # the shift, what it does to the proportional noise (|z| < 6), and one step of the resolution
        bound = SHIFT_SCALE[1] * sensor.scale * (1 + 6 * sensor.rel_noise) + 1.01 * 10.0**-sensor.decimals
        assert np.nanmax(diff) <= bound, name
        if np.nanmax(diff) > SHIFT_SCALE[0] * sensor.scale * 0.9:
            moved.add(name)
        if name not in SHIFT_SENSORS:
            assert np.nanmax(diff) == 0.0, name
    assert len(moved) >= 3


def test_bearing_temperature_lags_back_after_bearing_wear() -> None:
    on = simulate(**DAY, seed=11, faults="bearing_wear")
    off = simulate(**DAY, seed=11, faults="bearing_wear", recovery=False)
    ev = on.events[0]
    j = on.features.index("bearing_temp")
    lag = on.values[ev.end_row :, j] - off.values[ev.end_row :, j]
    tau_rows = round(RECOVERY_TAU_S * on.rate_hz)
    excess = 10.0  # the fault's +10 °C at full development (severity 1)
    slack = SHIFT_SCALE[1] * SENSOR_BY_NAME["bearing_temp"].scale + 0.25  # a possible lasting shift
    assert lag[0] == pytest.approx(excess, abs=slack)
    assert lag[tau_rows - 1] == pytest.approx(excess / math.e, abs=slack)
    assert abs(lag[4 * tau_rows]) <= slack
    assert np.array_equal(on.values[: ev.end_row], off.values[: ev.end_row], equal_nan=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_no_recovery_reproduces_the_old_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--duration", "1d", "--rate", "0.1", "--seed", "5", "--features", "12"]
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    assert main(["simulate", "--out", str(old), *argv, "--no-recovery"]) == 0
    assert "back to normal at once" in capsys.readouterr().out
    assert _sha256(old) == OLD_CSV_SHA256
    assert _sha256(tmp_path / "old.csv.events.json") == OLD_EVENTS_SHA256
    assert main(["simulate", "--out", str(new), *argv]) == 0
    assert "lag back" in capsys.readouterr().out
    assert _sha256(new) != OLD_CSV_SHA256  # recovery is on by default
    assert _sha256(tmp_path / "new.csv.events.json") == OLD_EVENTS_SHA256  # the same faults and labels
