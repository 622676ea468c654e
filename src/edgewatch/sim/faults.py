"""The fault library: what each fault type does to the pump, and the labelled event it produces.

Each fault occupies the half-open row range ``[start_row, end_row)`` and knows the sensors it changes.
Two kinds:

* **process faults** change the machine (``bearing_wear``, ``cavitation``, ``misalignment``,
  ``correlation_break``): they edit the noise-free values before measurement noise is added, so they
  show through every affected sensor physically (vibration scales with speed, ...);
* **sensor faults** change one instrument's reading (``sensor_drift``, ``sensor_offset``, ``spike``,
  ``stuck_sensor``, ``dropout``): they edit the quantised readings of one sensor.

Process-fault magnitudes are physical (mm/s, °C, %); sensor-fault magnitudes are the larger of a multiple
of the sensor's ``scale`` (its spread not explained by the other sensors at the same instant) and a share
of its ``span`` (normal operating range), see :class:`edgewatch.sim.pump.Sensor`. Every magnitude is
multiplied by ``severity`` (1.0: clearly detectable at full development). Gradual faults start from zero
and reach their full size at the end of the event (see :data:`FAULTS` for the numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edgewatch.errors import ConfigError
from edgewatch.sim.pump import NOMINAL_FLOW, SENSOR_BY_NAME, SPEED_MAX, SPEED_MIN, PumpTrace, quantise

FAULT_TYPES: tuple[str, ...] = (
    "bearing_wear",
    "cavitation",
    "misalignment",
    "sensor_drift",
    "sensor_offset",
    "spike",
    "stuck_sensor",
    "dropout",
    "correlation_break",
)

VIBRATION_AXES = ("vibration_x_rms", "vibration_y_rms", "vibration_z_rms")
# Sensors whose reading a per-reading model can check against the others (drift/offset targets).
# voltage and ambient_temp are left out: they are driven by the grid and the weather, so a slow drift or
# an offset on them is physically indistinguishable from a real change.
CHECKABLE_SENSORS = (
    "vibration_x_rms",
    "vibration_y_rms",
    "bearing_temp",
    "motor_temp",
    "motor_current",
    "pressure",
    "flow",
    "speed_rpm",
    "power_kw",
    "vibration_z_rms",
    "discharge_temp",
    "suction_pressure",
    "oil_pressure",
    "winding_temp",
)

# Sensor-fault sizes: max(k × scale, share × span), times severity.
DRIFT_SIZE = (8.0, 0.35)  # sensor_drift: reached at the end of the event (linear)
OFFSET_SIZE = (6.0, 0.25)  # sensor_offset: constant
SPIKE_SIZE = (12.0, 0.5)  # spike: each spike 1.0–1.6 × this, 1 row long
# A frozen value is only recognisable after a run of identical readings (the edge pipeline's default
# stuck check needs 30), so a stuck sensor keeps at least this many rows when faults are shrunk.
STUCK_MIN_ROWS = 60


@dataclass
class Injection:
    """What one fault function gets: the event's rows, its own random stream and the data to edit.

    Process faults edit ``true`` (noise-free values, before measurement); sensor faults edit ``values``
    (readings, shape ``(n, F)``, columns in ``trace.names``). ``sensors`` is filled by ``pick``.
    """

    rng: np.random.Generator
    trace: PumpTrace
    start: int
    end: int
    sensors: tuple[str, ...] = ()
    severity: float = 1.0
    true: dict[str, np.ndarray] | None = None
    values: np.ndarray | None = None

    @property
    def rows(self) -> slice:
        return slice(self.start, self.end)

    def progress(self) -> np.ndarray:
        """Fraction of the event elapsed at each row, in (0, 1)."""
        n = self.end - self.start
        return (np.arange(n, dtype=np.float64) + 0.5) / n

    def onset(self, share: float) -> np.ndarray:
        """0 → 1 smoothstep over the first ``share`` of the event, then 1."""
        x = np.clip(self.progress() / share, 0.0, 1.0)
        return x * x * (3.0 - 2.0 * x)

    def column(self, name: str) -> int:
        return self.trace.names.index(name)

    def size(self, name: str, rule: tuple[float, float]) -> float:
        """A sensor-fault magnitude: ``max(k * scale, share * span) * severity`` for ``rule = (k, share)``."""
        sensor = SENSOR_BY_NAME[name]
        return max(rule[0] * sensor.scale, rule[1] * sensor.span) * self.severity


@dataclass(frozen=True)
class FaultKind:
    """A fault type: how long it lasts (seconds, before fitting to the recording), which sensors it picks
    and how it changes the data. ``min_rows`` is the length it keeps when faults are shrunk to fit a
    short recording, unless even that does not fit."""

    name: str
    process: bool
    duration_s: tuple[float, float]
    pick: Callable[[Injection], tuple[str, ...]]
    apply: Callable[[Injection], None]
    description: str
    min_rows: int = 5


def _present(inj: Injection, names: Sequence[str]) -> tuple[str, ...]:
    return tuple(n for n in names if n in inj.trace.names)


def _one_of(inj: Injection, names: Sequence[str]) -> tuple[str, ...]:
    candidates = _present(inj, names)
    return (candidates[int(inj.rng.integers(len(candidates)))],)


def _smooth_noise(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """Zero-mean, unit-std noise correlated over about ``width`` rows."""
    raw = rng.standard_normal(n + width)
    kernel = np.ones(max(width, 1)) / max(width, 1)
    smooth = np.convolve(raw, kernel, mode="valid")[:n]
    std = float(smooth.std())
    return (smooth - smooth.mean()) / std if std > 0 else smooth


# --- process faults ---------------------------------------------------------------------------------


def _bearing_wear(inj: Injection) -> None:
    """Vibration on every axis and bearing temperature rise, accelerating (g = u^1.5)."""
    assert inj.true is not None
    g = inj.severity * inj.progress() ** 1.5
    s = inj.trace.speed[inj.rows]
    adds = {"vibration_x_rms": 2.0, "vibration_y_rms": 1.6, "vibration_z_rms": 1.0}  # mm/s at full speed
    for name in inj.sensors:
        if name in adds:
            inj.true[name][inj.rows] += adds[name] * g * (0.3 + 0.7 * s)
    if "bearing_temp" in inj.sensors:
        inj.true["bearing_temp"][inj.rows] += 10.0 * g  # °C


def _cavitation(inj: Injection) -> None:
    """Pressure drop, flow dip with fluctuation, noisy broadband vibration, suction pressure drop."""
    assert inj.true is not None
    n = inj.end - inj.start
    rate = inj.trace.rate_hz
    g = inj.severity * inj.onset(0.15)
    s = inj.trace.speed[inj.rows]
    bursts = _smooth_noise(inj.rng, n, max(1, round(3 * rate)))  # intermittent collapse of vapour bubbles
    true, rows = inj.true, inj.rows
    true["pressure"][rows] *= 1.0 - g * (0.07 + 0.02 * np.clip(bursts, -1.5, 1.5))
    true["flow"][rows] *= 1.0 - g * (0.04 + 0.025 * bursts)
    for name in _present(inj, VIBRATION_AXES):
        crackle = np.abs(_smooth_noise(inj.rng, n, max(1, round(2 * rate))))
        true[name][rows] += g * (0.4 + 0.6 * crackle) * s**2
    if "suction_pressure" in inj.sensors:
        true["suction_pressure"][rows] -= 0.25 * g


def _misalignment(inj: Injection) -> None:
    """A 2x-running-speed vibration component (force ∝ speed²) on one axis, less on the others; adds in
    quadrature to the RMS. Motor current +4 % at full development (linear)."""
    assert inj.true is not None
    g = inj.severity * inj.progress()
    s = inj.trace.speed[inj.rows]
    primary = inj.sensors[0]
    component = 4.0 * g * s**2  # mm/s RMS of the 2x component on the primary axis at full development
    for name in _present(inj, VIBRATION_AXES):
        share = 1.0 if name == primary else 0.35
        base = inj.true[name][inj.rows]
        inj.true[name][inj.rows] = np.sqrt(base**2 + (share * component) ** 2)
    inj.true["motor_current"][inj.rows] *= 1.0 + 0.04 * g


def _pick_misalignment(inj: Injection) -> tuple[str, ...]:
    primary = _one_of(inj, VIBRATION_AXES)
    others = tuple(a for a in _present(inj, VIBRATION_AXES) if a != primary[0])
    return (*primary, *others, "motor_current")


def _correlation_break(inj: Injection) -> None:
    """Flow stops following speed/pressure: it behaves as if the speed were 0.3–0.4 of nominal off, towards
    the far end of the speeds this recording runs at and clipped to them, so flow stays inside the range
    it shows in normal operation (onset over the first 10 %)."""
    assert inj.true is not None
    rows = inj.rows
    s, v = inj.trace.speed[rows], inj.trace.valve[rows]
    running = inj.trace.speed[inj.trace.speed >= SPEED_MIN]
    lo, hi = np.quantile(running, [0.02, 0.98]) if running.size else (SPEED_MIN, SPEED_MAX)
    shift = inj.rng.uniform(0.3, 0.4) * inj.severity
    shift = shift if float(s.mean()) < 0.5 * (lo + hi) else -shift
    s_alt = np.clip(s + shift, lo, hi)
    g = inj.onset(0.1)
    flow = inj.true["flow"][rows]
    inj.true["flow"][rows] = (1.0 - g) * flow + g * NOMINAL_FLOW * s_alt * v


# --- sensor faults ----------------------------------------------------------------------------------


def _sign(inj: Injection) -> float:
    return 1.0 if inj.rng.random() < 0.5 else -1.0


def _edit(inj: Injection, delta: np.ndarray | float) -> None:
    assert inj.values is not None
    name = inj.sensors[0]
    j = inj.column(name)
    inj.values[inj.rows, j] = quantise(inj.values[inj.rows, j] + delta, SENSOR_BY_NAME[name].decimals)


def _sensor_drift(inj: Injection) -> None:
    _edit(inj, _sign(inj) * inj.size(inj.sensors[0], DRIFT_SIZE) * inj.progress())


def _sensor_offset(inj: Injection) -> None:
    _edit(inj, _sign(inj) * inj.size(inj.sensors[0], OFFSET_SIZE))


def _spike(inj: Injection) -> None:
    """1-row spikes on about a quarter of the rows, always on the first and the last row of the event."""
    n = inj.end - inj.start
    hit = inj.rng.random(n) < 0.25
    hit[0] = hit[-1] = True
    name = inj.sensors[0]
    size = inj.rng.uniform(1.0, 1.6, size=n) * inj.size(name, SPIKE_SIZE)
    if name.startswith("vibration_") or name == "motor_current":  # magnitudes spike upwards
        sign = np.ones(n)
    else:
        sign = np.where(inj.rng.random(n) < 0.5, -1.0, 1.0)
    _edit(inj, np.where(hit, sign * size, 0.0))


def _stuck_sensor(inj: Injection) -> None:
    """The reading freezes at its last value before the event (exactly)."""
    assert inj.values is not None
    j = inj.column(inj.sensors[0])
    inj.values[inj.rows, j] = inj.values[max(inj.start - 1, 0), j]


def _dropout(inj: Injection) -> None:
    assert inj.values is not None
    inj.values[inj.rows, inj.column(inj.sensors[0])] = np.nan


def _pick_checkable(inj: Injection) -> tuple[str, ...]:
    return _one_of(inj, CHECKABLE_SENSORS)


def _pick_any(inj: Injection) -> tuple[str, ...]:
    return _one_of(inj, inj.trace.names)


MIN = 60.0
HOUR = 3600.0

FAULTS: dict[str, FaultKind] = {
    k.name: k
    for k in (
        FaultKind(
            "bearing_wear",
            True,
            (2 * HOUR, 4 * HOUR),
            lambda inj: _present(inj, (*VIBRATION_AXES, "bearing_temp")),
            _bearing_wear,
            "vibration +2.0/+1.6/+1.0 mm/s (x/y/z, at full speed) and bearing +10 °C at the end; g = u^1.5",
        ),
        FaultKind(
            "cavitation",
            True,
            (20 * MIN, 60 * MIN),
            lambda inj: _present(inj, ("pressure", "flow", *VIBRATION_AXES, "suction_pressure")),
            _cavitation,
            "pressure −7 % ± 2 %, flow −4 % ± 2.5 % fluctuating, vibration +0.4–1 mm/s·s² noisy, "
            "suction −0.25 bar; onset over the first 15 %",
        ),
        FaultKind(
            "misalignment",
            True,
            (1 * HOUR, 2 * HOUR),
            _pick_misalignment,
            _misalignment,
            "2x component 4 mm/s·s² on one axis (35 % on the others, in quadrature), current +4 %; linear",
        ),
        FaultKind(
            "sensor_drift",
            False,
            (1.5 * HOUR, 3 * HOUR),
            _pick_checkable,
            _sensor_drift,
            "one sensor drifts linearly to ±max(8 scale, 35 % span)",
        ),
        FaultKind(
            "sensor_offset",
            False,
            (20 * MIN, 60 * MIN),
            _pick_checkable,
            _sensor_offset,
            "one sensor jumps by ±max(6 scale, 25 % span)",
        ),
        FaultKind(
            "spike",
            False,
            (30.0, 120.0),
            _pick_any,
            _spike,
            "1-row spikes of ±1–1.6 × max(12 scale, 50 % span) on ~25 % of the rows",
        ),
        FaultKind(
            "stuck_sensor",
            False,
            (10 * MIN, 30 * MIN),
            _pick_any,
            _stuck_sensor,
            "one sensor freezes",
            min_rows=STUCK_MIN_ROWS,
        ),
        FaultKind("dropout", False, (5 * MIN, 20 * MIN), _pick_any, _dropout, "one sensor reads NaN"),
        FaultKind(
            "correlation_break",
            True,
            (20 * MIN, 60 * MIN),
            lambda inj: ("flow",),
            _correlation_break,
            "flow follows a speed 0.3–0.4 (of nominal) off the real one, clipped to the speeds run at",
        ),
    )
}
assert tuple(FAULTS) == FAULT_TYPES


def parse_faults(spec: Sequence[str] | str | None) -> tuple[str, ...]:
    """Normalise a fault selection: ``"all"``, ``"none"``/``""``/``None``, ``"a,b"`` or a list of names.

    Returns the distinct fault types in the order given. Raises :class:`ConfigError` (field ``faults``)
    naming an unknown type and listing the valid ones.
    """
    if spec is None:
        return ()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for item in items:
        name = str(item).strip()
        if name == "" or name.lower() == "none":
            continue
        if name.lower() == "all":
            names.extend(FAULT_TYPES)
            continue
        if name not in FAULTS:
            raise ConfigError(
                f"unknown fault type {name!r}; valid: all, none, {', '.join(FAULT_TYPES)}", field="faults"
            )
        names.append(name)
    return tuple(dict.fromkeys(names))
