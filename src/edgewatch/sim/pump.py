"""Physics of a motor-driven centrifugal pump: operating state → noise-free sensor values → readings.

The model is deliberately simple but physically consistent, so that a detector has real structure to
learn (every relation below holds in normal operation, including planned stops)::

    speed  s = n / 1480 rpm           set-points held 10–45 min in [0.6, 1.0], linear VFD ramps between them;
                                      planned stops ramp to 0, hold, ramp back (normal operation)
    system v ≈ 1 ± 0.02               valve / system-curve wander (Ornstein–Uhlenbeck, τ = 20 min)
    flow      Q = 120 · s · v                     m³/h   (affinity law: Q ∝ n)
    pressure  P = 0.3 + 5.0 · s² · (1 − 0.8 (v − 1))  bar    (H ∝ n², opening the valve lowers head)
    power     P_el = Q · P / 36 / (0.75 · 0.93) + 0.5 + 0.8 s   kW while running, 0 when stopped
    current   I = P_el / (√3 · U_grid · pf(load))             A
    voltage   U = U_grid − 0.06 · I                           V   (grid wander + load drop)
    ambient   21 + 2.5 sin(2π (hour − 9) / 24) + weather        °C  (peak at 15:00 UTC)
    temps     room-lagged ambient + first-order lag of the load's heat (τ = 6…45 min)
    vibration RMS ≈ floor + a · s + b · s² + off-design hydraulic term     mm/s

Readings are the noise-free values plus Gaussian measurement noise (additive + proportional part,
vibration axes share a common component), quantised to each sensor's resolution. Speed, current and
vibration are magnitudes and read ``|true + noise|``, so no sensor ever sits on an exactly constant value
in normal operation — an exactly repeated value run is therefore always a (stuck sensor) fault.

Every random stream is derived from the seed and a fixed stream number, so the same seed gives the same
plant whatever faults are injected later and whichever subset of sensors is reported.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from edgewatch.errors import ConfigError

NOMINAL_RPM = 1480.0
SPEED_MIN, SPEED_MAX = 0.6, 1.0  # running set-points, fraction of nominal speed
SETPOINT_BINS = 6
NOMINAL_FLOW = 120.0  # m³/h at nominal speed and v = 1
NOMINAL_CURRENT = 44.0  # A, roughly the current at full load
MIN_FEATURES, BASE_FEATURES, MAX_FEATURES = 8, 10, 16
DEFAULT_STOPS_PER_DAY = 3.0

# Stream numbers for np.random.default_rng([seed, STREAM, ...]); never renumber (it changes every dataset).
STREAM_SETPOINT, STREAM_STOPS, STREAM_ENV, STREAM_NOISE = 1, 2, 3, 4


@dataclass(frozen=True)
class Sensor:
    """One sensor of the pump.

    ``noise`` and ``rel_noise`` define the measurement noise sigma ``noise + rel_noise * |true|``.
    ``scale`` is the typical spread of the sensor that is *not* explained by the other sensors at the same
    instant (residual std of a quadratic regression on the others, normal data); ``span`` is its normal
    operating range while running (0.5–99.5 % quantiles). Sensor-fault magnitudes are given in both.
    ``decimals`` is the resolution the reading is quantised to.
    """

    name: str
    unit: str
    noise: float
    rel_noise: float
    scale: float
    span: float
    decimals: int
    description: str


# The first BASE_FEATURES are the default columns (in this order); the rest are optional extras.
SENSORS: tuple[Sensor, ...] = (
    Sensor("vibration_x_rms", "mm/s", 0.02, 0.04, 0.10, 1.9, 3, "drive-end bearing housing, horizontal"),
    Sensor("vibration_y_rms", "mm/s", 0.02, 0.04, 0.065, 1.4, 3, "drive-end bearing housing, vertical"),
    Sensor("bearing_temp", "°C", 0.15, 0.0, 0.57, 14.0, 2, "drive-end bearing temperature"),
    Sensor("motor_temp", "°C", 0.2, 0.0, 1.5, 28.0, 2, "motor frame temperature"),
    Sensor("motor_current", "A", 0.2, 0.005, 0.39, 27.0, 2, "motor phase current (RMS)"),
    Sensor("voltage", "V", 0.8, 0.0, 2.2, 13.0, 1, "supply line-to-line voltage"),
    Sensor("pressure", "bar", 0.02, 0.005, 0.05, 3.2, 3, "discharge pressure"),
    Sensor("flow", "m3/h", 0.6, 0.01, 1.9, 52.0, 2, "volumetric flow"),
    Sensor("speed_rpm", "rpm", 2.5, 0.0, 6.5, 580.0, 1, "shaft speed"),
    Sensor("ambient_temp", "°C", 0.15, 0.0, 0.76, 7.0, 2, "machine-room air temperature"),
    Sensor("power_kw", "kW", 0.05, 0.005, 0.16, 19.5, 2, "motor electrical power"),
    Sensor("vibration_z_rms", "mm/s", 0.02, 0.04, 0.068, 1.4, 3, "drive-end bearing housing, axial"),
    Sensor("discharge_temp", "°C", 0.1, 0.0, 0.36, 2.4, 2, "pumped-fluid temperature"),
    Sensor("suction_pressure", "bar", 0.012, 0.0, 0.05, 0.34, 3, "suction (inlet) pressure"),
    Sensor("oil_pressure", "bar", 0.03, 0.0, 0.03, 0.91, 3, "bearing lubrication oil pressure"),
    Sensor("winding_temp", "°C", 0.25, 0.0, 2.5, 50.0, 2, "motor stator winding temperature"),
)
SENSOR_BY_NAME: dict[str, Sensor] = {s.name: s for s in SENSORS}


def feature_names(n_features: int = BASE_FEATURES) -> tuple[str, ...]:
    """The column names for ``n_features`` sensors (8–16): the first ``n_features`` of :data:`SENSORS`."""
    if isinstance(n_features, bool) or not isinstance(n_features, int | np.integer):
        raise ConfigError(f"must be an integer, got {n_features!r}", field="n_features")
    if not MIN_FEATURES <= n_features <= MAX_FEATURES:
        raise ConfigError(f"must be between {MIN_FEATURES} and {MAX_FEATURES}, got {n_features}", field="n_features")
    return tuple(s.name for s in SENSORS[: int(n_features)])


@dataclass
class PumpTrace:
    """The latent state of one simulated run and the noise-free value of every reported sensor.

    ``speed`` is the true shaft speed as a fraction of nominal (0 while stopped), ``valve`` the system
    factor v, ``stops`` the planned stops as half-open row ranges ``[start, end)`` (ramps included).
    ``true`` maps every name in ``names`` to its noise-free values; faults of the process kind edit these
    arrays before :func:`measure`. ``z`` holds the standard-normal measurement-noise draws per sensor.
    """

    t: np.ndarray
    rate_hz: float
    speed: np.ndarray
    valve: np.ndarray
    stops: list[tuple[int, int]]
    names: tuple[str, ...]
    true: dict[str, np.ndarray]
    z: dict[str, np.ndarray]

    @property
    def n_rows(self) -> int:
        return int(self.t.shape[0])


def lowpass(x: np.ndarray, dt: float, tau: float | np.ndarray, y0: float | None = None) -> np.ndarray:
    """First-order lag ``τ dy/dt = x − y`` sampled every ``dt`` s (exact for a held input).

    ``tau`` may vary per row. The output starts at ``y0`` (default: ``x[0]``, i.e. in equilibrium).
    """
    n = x.shape[0]
    if n == 0:
        return x.astype(np.float64)
    alpha = 1.0 - np.exp(-dt / np.asarray(tau, dtype=np.float64))
    alphas = np.broadcast_to(alpha, (n,)).tolist()
    xs = x.tolist()
    y = float(xs[0] if y0 is None else y0)
    out = [0.0] * n
    for i in range(n):
        y += alphas[i] * (xs[i] - y)
        out[i] = y
    return np.asarray(out, dtype=np.float64)


def ornstein_uhlenbeck(rng: np.random.Generator, t: np.ndarray, *, tau: float, sigma: float, step: float) -> np.ndarray:
    """A stationary OU process (std ``sigma``, correlation time ``tau`` s) on knots ``step`` s apart,
    linearly interpolated at times ``t`` (seconds from 0)."""
    span = float(t[-1]) if t.shape[0] else 0.0
    k = math.ceil(span / step) + 2
    a = math.exp(-step / tau)
    shocks = rng.standard_normal(k) * sigma * math.sqrt(1.0 - a * a)
    knots = [0.0] * k
    y = float(rng.standard_normal() * sigma)
    for i in range(k):
        knots[i] = y
        y = a * y + float(shocks[i])
    return np.interp(t, np.arange(k) * step, knots)


def _setpoint(seed: int, t: np.ndarray, span: float) -> np.ndarray:
    """Load set-point (fraction of nominal speed): held levels with linear ramps between them.

    Levels are stratified like a production schedule: every block of :data:`SETPOINT_BINS` holds visits
    each band of the operating range once, in random order, so a few hours of data span the whole range
    (a short training head then covers what follows).
    """
    rng = np.random.default_rng([seed, STREAM_SETPOINT])
    width = (SPEED_MAX - SPEED_MIN) / SETPOINT_BINS

    def levels() -> Iterator[float]:
        while True:
            for b in rng.permutation(SETPOINT_BINS):
                yield SPEED_MIN + (b + rng.uniform(0.0, 1.0)) * width

    source = levels()
    level = next(source)
    kt, kv = [0.0], [level]
    now = 0.0
    while now <= span:
        now += rng.uniform(10 * 60, 45 * 60)  # hold
        new = next(source)
        ramp = rng.uniform(60, 300)
        kt += [now, now + ramp]
        kv += [level, new]
        now += ramp
        level = new
    return np.interp(t, kt, kv)


def _stops(
    seed: int, t: np.ndarray, span: float, rate_hz: float, stops_per_day: float
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Run factor (1 running, 0 stopped, linear ramps) and the planned stops as row ranges."""
    run = np.ones_like(t)
    rows: list[tuple[int, int]] = []
    if stops_per_day <= 0:
        return run, rows
    rng = np.random.default_rng([seed, STREAM_STOPS])
    period = 86400.0 / stops_per_day
    start = rng.uniform(0.15, 0.5) * period  # so that a short training head sees a stop
    kt: list[float] = [0.0]
    kv: list[float] = [1.0]
    while start < span:
        ramp_down, hold, ramp_up = rng.uniform(30, 60), rng.uniform(5 * 60, 20 * 60), rng.uniform(30, 60)
        end = start + ramp_down + hold + ramp_up
        kt += [start, start + ramp_down, start + ramp_down + hold, end]
        kv += [1.0, 0.0, 0.0, 1.0]
        a, b = math.ceil(start * rate_hz), min(math.ceil(end * rate_hz), t.shape[0])
        if b > a:
            rows.append((a, b))
        start = end + max(period * rng.uniform(0.7, 1.3) - (end - start), 3600.0)
    run = np.interp(t, kt, kv)
    return run, rows


def simulate_pump(
    n_rows: int,
    *,
    rate_hz: float = 1.0,
    names: tuple[str, ...] | None = None,
    seed: int = 0,
    start_epoch: float = 0.0,
    stops_per_day: float = DEFAULT_STOPS_PER_DAY,
) -> PumpTrace:
    """Simulate ``n_rows`` rows of normal operation at ``rate_hz``; return the noise-free trace.

    Deterministic in ``seed``; the plant (set-points, stops, weather, noise draws) does not depend on
    ``names``, so asking for fewer or more sensors never changes the shared ones.
    """
    names = feature_names() if names is None else tuple(names)
    dt = 1.0 / rate_hz
    t = np.arange(n_rows, dtype=np.float64) * dt
    span = float(t[-1]) + dt if n_rows else 0.0

    s_set = _setpoint(seed, t, span)
    run_factor, stops = _stops(seed, t, span, rate_hz, stops_per_day)
    s = s_set * run_factor
    running = s > 0.0

    env = np.random.default_rng([seed, STREAM_ENV])
    v = 1.0 + ornstein_uhlenbeck(env, t, tau=20 * 60, sigma=0.02, step=30)
    grid = 400.0 + ornstein_uhlenbeck(env, t, tau=20 * 60, sigma=2.5, step=30)
    weather = ornstein_uhlenbeck(env, t, tau=3600, sigma=0.5, step=120)
    level = ornstein_uhlenbeck(env, t, tau=30 * 60, sigma=0.06, step=60)

    hour = ((start_epoch + t) % 86400.0) / 3600.0
    ambient = 21.0 + 2.5 * np.sin(2 * np.pi * (hour - 9.0) / 24.0) + weather
    room = lowpass(ambient, dt, 20 * 60)

    flow = NOMINAL_FLOW * s * v
    pressure = 0.3 + 5.0 * s**2 * (1.0 - 0.8 * (v - 1.0))
    power = np.where(running, flow * pressure / 36.0 / (0.75 * 0.93) + 0.5 + 0.8 * s, 0.0)
    pf = 0.45 + 0.4 * np.clip(power / 26.0, 0.0, 1.1)
    current = np.where(running, power * 1000.0 / (math.sqrt(3.0) * grid * pf), 0.0)
    voltage = grid - 0.06 * current
    load = current / NOMINAL_CURRENT
    on = running.astype(np.float64)

    hydraulic = 0.3 * s**2 * np.clip(((v - 1.0) / 0.03) ** 2, 0.0, 4.0)  # off-design recirculation

    def heat(target: np.ndarray, tau_run: float, tau_stop: float) -> np.ndarray:
        return lowpass(target, dt, np.where(running, tau_run, tau_stop))

    builders = {
        "vibration_x_rms": lambda: 0.12 + 0.15 * s + 2.1 * s**2 + hydraulic,
        "vibration_y_rms": lambda: 0.10 + 0.12 * s + 1.6 * s**2 + 0.8 * hydraulic,
        "bearing_temp": lambda: room + heat(16.0 * s**1.5 + 3.0 * load, 15 * 60, 30 * 60),
        "motor_temp": lambda: room + heat(38.0 * load**2 + 5.0 * on, 25 * 60, 45 * 60),
        "motor_current": lambda: current,
        "voltage": lambda: voltage,
        "pressure": lambda: pressure,
        "flow": lambda: flow,
        "speed_rpm": lambda: NOMINAL_RPM * s,
        "ambient_temp": lambda: ambient,
        "power_kw": lambda: power,
        "vibration_z_rms": lambda: 0.08 + 0.10 * s + 1.0 * s**2 + 1.3 * hydraulic,
        "discharge_temp": lambda: 14.0 + 0.4 * (lowpass(ambient, dt, 3 * 3600) - 21.0) + 1.2 * s,
        "suction_pressure": lambda: 1.3 + level - 0.25 * (flow / NOMINAL_FLOW) ** 2,
        "oil_pressure": lambda: 0.15 + 2.2 * s,
        "winding_temp": lambda: room + heat(55.0 * load**2 + 6.0 * on, 6 * 60, 20 * 60),
    }
    true = {name: np.asarray(builders[name](), dtype=np.float64) for name in names}

    noise_rng = np.random.default_rng([seed, STREAM_NOISE])
    common_vibration = noise_rng.standard_normal(n_rows)
    z: dict[str, np.ndarray] = {}
    for i, sensor in enumerate(SENSORS):  # every sensor's draws, reported or not: stable per name
        own = np.random.default_rng([seed, STREAM_NOISE, i]).standard_normal(n_rows)
        if sensor.name.startswith("vibration_"):
            own = 0.6 * common_vibration + 0.8 * own
        if sensor.name in true:
            z[sensor.name] = own

    return PumpTrace(t=t, rate_hz=rate_hz, speed=s, valve=v, stops=stops, names=names, true=true, z=z)


MAGNITUDE_SENSORS = frozenset({"speed_rpm", "motor_current", "vibration_x_rms", "vibration_y_rms", "vibration_z_rms"})


def measure(trace: PumpTrace, true: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Turn noise-free values into readings: add noise, fold magnitudes, quantise. Shape ``(n, F)``."""
    true = trace.true if true is None else true
    out = np.empty((trace.n_rows, len(trace.names)), dtype=np.float64)
    for j, name in enumerate(trace.names):
        sensor = SENSOR_BY_NAME[name]
        x = true[name]
        reading = x + (sensor.noise + sensor.rel_noise * np.abs(x)) * trace.z[name]
        if name in MAGNITUDE_SENSORS:
            reading = np.abs(reading)
        out[:, j] = quantise(reading, sensor.decimals)
    return out


def quantise(x: np.ndarray, decimals: int) -> np.ndarray:
    """Round to ``decimals`` places so that each value is the double nearest its short decimal form."""
    factor = 10.0**decimals
    return np.rint(x * factor) / factor + 0.0  # + 0.0 turns -0.0 into 0.0
