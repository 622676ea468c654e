"""Normal operation: sensors, physical correlations, planned stops, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from edgewatch.errors import ConfigError
from edgewatch.sim import Recording, feature_names, simulate
from edgewatch.sim.pump import MAX_FEATURES, MIN_FEATURES

BASE = (
    "vibration_x_rms",
    "vibration_y_rms",
    "bearing_temp",
    "motor_temp",
    "motor_current",
    "voltage",
    "pressure",
    "flow",
    "speed_rpm",
    "ambient_temp",
)


def test_default_columns_in_order() -> None:
    assert feature_names() == BASE
    assert feature_names(8) == BASE[:8]
    names16 = feature_names(16)
    assert names16[:10] == BASE and len(set(names16)) == 16


@pytest.mark.parametrize("bad", [MIN_FEATURES - 1, MAX_FEATURES + 1, 10.0, True])
def test_feature_count_outside_8_to_16_is_refused(bad: object) -> None:
    with pytest.raises(ConfigError, match="n_features"):
        feature_names(bad)  # type: ignore[arg-type]


def test_recording_shapes_and_timestamps() -> None:
    rec = simulate(n_rows=500, rate_hz=2.0, seed=1)
    assert rec.values.shape == (500, 10) and rec.values.dtype == np.float64
    assert rec.labels.dtype == np.int8 and rec.labels.shape == (500,)
    assert rec.faults.shape == (500,) and set(rec.faults.tolist()) == {""}
    assert rec.events == ()
    assert rec.timestamps[0] == 1767225600.0  # 2026-01-01T00:00:00Z
    assert np.allclose(np.diff(rec.timestamps), 0.5)


def test_same_seed_same_data_other_seed_other_data() -> None:
    a = simulate(n_rows=3000, seed=3, faults="all")
    b = simulate(n_rows=3000, seed=3, faults="all")
    c = simulate(n_rows=3000, seed=4, faults="all")
    assert np.array_equal(a.values, b.values, equal_nan=True)
    assert np.array_equal(a.timestamps, b.timestamps)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.faults, b.faults)
    assert a.events == b.events
    assert not np.array_equal(a.values, c.values, equal_nan=True)


def test_more_sensors_do_not_change_the_shared_ones() -> None:
    ten = simulate(n_rows=2000, seed=5, n_features=10)
    sixteen = simulate(n_rows=2000, seed=5, n_features=16)
    eight = simulate(n_rows=2000, seed=5, n_features=8)
    assert np.array_equal(sixteen.values[:, :10], ten.values)
    assert np.array_equal(eight.values, ten.values[:, :8])


def _running(rec: Recording) -> np.ndarray:
    return rec.column("speed_rpm") > 0.5 * 1480


def test_physical_correlations(normal_day: Recording) -> None:
    rec = normal_day
    col = rec.column

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a, b)[0, 1])

    assert corr(col("flow"), col("speed_rpm")) > 0.8
    assert corr(col("pressure"), col("speed_rpm") ** 2) > 0.9
    assert corr(col("motor_current"), col("flow") * col("pressure")) > 0.9
    assert corr(col("vibration_x_rms"), col("speed_rpm")) > 0.8
    assert corr(col("vibration_x_rms"), col("vibration_y_rms")) > 0.8
    run = _running(rec)
    assert corr(col("flow")[run], col("speed_rpm")[run]) > 0.8  # not only because of the stops


def test_temperatures_follow_load_with_a_lag(normal_day: Recording) -> None:
    current, motor = normal_day.column("motor_current"), normal_day.column("motor_temp")
    lag = int(10 * 60 * normal_day.rate_hz)  # 10 minutes
    now = np.corrcoef(motor, current)[0, 1]
    lagged = np.corrcoef(motor[lag:], current[:-lag])[0, 1]
    assert lagged > now > 0.3


def test_daily_ambient_cycle(normal_day: Recording) -> None:
    hour = (normal_day.timestamps % 86400) / 3600
    ambient = normal_day.column("ambient_temp")
    assert ambient[(hour > 13) & (hour < 17)].mean() > ambient[(hour > 1) & (hour < 5)].mean() + 2.0


def test_planned_stops_are_normal_operation(faulty_day: Recording) -> None:
    rec = faulty_day
    assert len(rec.stops) >= 2  # 3 per day on average
    for a, b in rec.stops:
        assert rec.labels[a:b].sum() == 0 and set(rec.faults[a:b].tolist()) == {""}
        middle = slice((a + b) // 2 - 2, (a + b) // 2 + 3)
        assert np.all(rec.column("speed_rpm")[middle] < 20)
        assert np.all(np.abs(rec.column("flow")[middle]) < 5)
        assert np.all(rec.column("motor_current")[middle] < 2)
        assert np.all(rec.column("vibration_x_rms")[middle] < 0.3)
        assert rec.column("pressure")[middle].mean() < 0.5
        before = rec.column("speed_rpm")[a - 5 : a]
        assert np.all(before > 0.55 * 1480)  # it was running before: a planned stop ramps down
    stopped = np.zeros(len(rec), dtype=bool)
    for a, b in rec.stops:
        stopped[a:b] = True
    assert not np.any(stopped & (rec.labels == 1))


def test_no_stops_when_disabled() -> None:
    rec = simulate(duration_s=86400, rate_hz=0.1, seed=7, stops_per_day=0)
    assert rec.stops == () and rec.column("speed_rpm").min() > 0.55 * 1480


def test_normal_readings_never_repeat_for_long(normal_day: Recording) -> None:
    """Constant runs are the stuck-sensor signature: normal data has none longer than a few rows."""
    values = normal_day.values
    same = values[1:] == values[:-1]
    longest = 0
    run = np.zeros(values.shape[1], dtype=int)
    for row in same:
        run = np.where(row, run + 1, 0)
        longest = max(longest, int(run.max()))
    assert longest + 1 <= 6


def test_normal_data_has_no_missing_values(normal_day: Recording) -> None:
    assert np.isfinite(normal_day.values).all()


def test_hundred_thousand_rows_is_fast() -> None:
    import time

    t0 = time.perf_counter()
    rec = simulate(n_rows=100_000, faults="all", seed=0)
    assert time.perf_counter() - t0 < 3.0
    assert rec.values.shape == (100_000, 10)
