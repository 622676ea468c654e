"""What follows a fault: slow sensors lag back, and the operating point stays a little changed.

A real machine does not snap back to its training rows when a fault ends. Two effects, both labelled
**normal** (``labels`` 0): they are what a detector must learn to accept, and what lets an evaluation of a
simulated recording measure whether alerts clear.

* **Thermal lag.** A slow sensor (:data:`SLOW_SENSORS`, temperatures) that a process fault left warmer or
  cooler than the fault-free machine returns with a first-order lag of time constant
  :data:`RECOVERY_TAU_S`: ``excess · exp(-(row - last fault row) · dt / τ)``, continuing from the fault's
  last row. In the fault library that is the bearing temperature after ``bearing_wear`` (up to +10 °C ×
  severity, so about half an hour above its normal spread). Fast sensors (vibration, pressure, flow,
  current) return at once, and a sensor fault (a bad instrument) leaves no excess.
* **Lasting shift, as after a repair.** Each fault (of any type) moves 2–3 sensors of
  :data:`SHIFT_SENSORS` lastingly, each by ±0.3–0.8 × the sensor's ``scale`` (its spread not explained by
  the other sensors, :class:`edgewatch.sim.pump.Sensor`), measured from the fault-free machine: a later
  fault that shifts the same sensor sets a new level instead of adding to the old one, so a sensor is
  never more than 0.8 × scale off however many faults came before. Shifts apply while the pump runs
  (scaled by the run factor, 0 in a planned stop: a stopped pump still reads no flow); a slow sensor's
  shift, like its heat, follows the run factor with the lag ``τ``.

Everything is drawn per fault from the seed on its own random stream (:data:`STREAM_RECOVERY`), so turning
recovery off (``simulate(recovery=False)``, ``edgewatch simulate --no-recovery``) gives exactly the
recording without it, and the rows before the first fault's end are the same either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from edgewatch.sim.pump import SENSOR_BY_NAME, SPEED_MIN, PumpTrace, lowpass

RECOVERY_TAU_S = 15 * 60.0  # thermal time constant of the return to normal (bearing: 15 min in the pump model)
SLOW_SENSORS = ("bearing_temp", "motor_temp", "discharge_temp", "winding_temp")
# Sensors a repair can move: the machine's own condition. Left out: speed (the drive's set-point), voltage
# (the grid) and ambient temperature (the weather), which no repair of the pump changes.
SHIFT_SENSORS = (
    "vibration_x_rms",
    "vibration_y_rms",
    "vibration_z_rms",
    "bearing_temp",
    "motor_temp",
    "winding_temp",
    "discharge_temp",
    "motor_current",
    "power_kw",
    "pressure",
    "flow",
    "suction_pressure",
    "oil_pressure",
)
SHIFT_SCALE = (0.3, 0.8)  # size of one lasting shift, in units of the sensor's scale
SHIFTED_PER_FAULT = (2, 3)  # how many sensors one fault shifts (inclusive range)
STREAM_RECOVERY = 7  # np.random.default_rng([seed, STREAM_RECOVERY, fault index]); never renumber


@dataclass(frozen=True)
class Recovery:
    """What follows one fault that ends at row ``end_row`` (the first row after it).

    ``excess``: slow sensor → how far the fault left its noise-free value from the fault-free machine at
    the fault's last row (sensor units; decays with :data:`RECOVERY_TAU_S`). ``shift``: sensor → lasting
    change of the running machine from ``end_row`` on (sensor units).
    """

    end_row: int
    excess: Mapping[str, float]
    shift: Mapping[str, float]


def plan_recovery(
    index: int,
    *,
    seed: int,
    trace: PumpTrace,
    start_row: int,
    end_row: int,
    faulted: Mapping[str, np.ndarray],
) -> Recovery:
    """The recovery after fault number ``index`` (its place in the simulator's fault list), over rows
    ``[start_row, end_row)``. ``faulted`` holds the noise-free values with the process faults applied;
    ``trace.true`` the fault-free ones. Deterministic in ``seed`` and ``index``."""
    excess: dict[str, float] = {}
    if end_row > start_row:
        last = end_row - 1
        for name in SLOW_SENSORS:
            if name in trace.true:
                delta = float(faulted[name][last] - trace.true[name][last])
                if delta != 0.0:
                    excess[name] = delta
    rng = np.random.default_rng([seed, STREAM_RECOVERY, index])
    candidates = [name for name in SHIFT_SENSORS if name in trace.names]
    lo, hi = SHIFTED_PER_FAULT
    k = min(int(rng.integers(lo, hi + 1)), len(candidates))
    picked = sorted(rng.choice(len(candidates), size=k, replace=False).tolist())
    shift: dict[str, float] = {}
    for i in picked:
        name = candidates[i]
        size = float(rng.uniform(*SHIFT_SCALE)) * SENSOR_BY_NAME[name].scale
        shift[name] = size if rng.random() < 0.5 else -size
    return Recovery(end_row=end_row, excess=excess, shift=shift)


def apply_recovery(trace: PumpTrace, true: dict[str, np.ndarray], plans: Sequence[Recovery]) -> None:
    """Add every plan's lag and lasting shift to the noise-free values ``true`` (edited in place), rows
    from each plan's ``end_row`` on. Rows before the earliest ``end_row`` are left untouched."""
    n = trace.n_rows
    plans = [p for p in plans if p.end_row < n and (p.excess or p.shift)]
    if not plans:
        return
    dt = 1.0 / trace.rate_hz
    run = np.clip(trace.speed / SPEED_MIN, 0.0, 1.0)
    rows = np.arange(n, dtype=np.float64)
    names = sorted({name for p in plans for name in (*p.excess, *p.shift)})
    for name in names:
        step = np.zeros(n)
        for p in sorted(plans, key=lambda p: p.end_row):  # a later repair sets a new level
            if name in p.shift:
                step[p.end_row :] = p.shift[name]
        offset = step * run
        if name in SLOW_SENSORS:
            first = min(p.end_row for p in plans if name in p.shift or name in p.excess)
            offset[:first] = 0.0
            offset[first:] = lowpass(offset[first:], dt, RECOVERY_TAU_S, y0=0.0)
            for p in plans:
                if name in p.excess:
                    age = rows[p.end_row :] - (p.end_row - 1)
                    offset[p.end_row :] += p.excess[name] * np.exp(-age * dt / RECOVERY_TAU_S)
        true[name] += offset
