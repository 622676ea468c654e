"""Every fault type: labelled rows, the affected sensors change, the rest does not."""

from __future__ import annotations

import numpy as np
import pytest

from edgewatch.errors import ConfigError
from edgewatch.sim import FAULT_TYPES, Recording, parse_faults, simulate, simulate_normal
from edgewatch.sim.pump import SENSOR_BY_NAME

from .conftest import DAY

SENSOR_FAULTS = ("sensor_drift", "sensor_offset", "spike", "stuck_sensor", "dropout")


def test_fault_names() -> None:
    assert FAULT_TYPES == (
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
    assert parse_faults("all") == FAULT_TYPES
    assert parse_faults("none") == parse_faults(None) == parse_faults("") == ()
    assert parse_faults(" spike, dropout,spike ") == ("spike", "dropout")
    assert parse_faults(["cavitation"]) == ("cavitation",)


def test_unknown_fault_name_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError) as info:
        simulate(n_rows=1000, faults="spike,bearing_waer")
    message = str(info.value)
    assert "'bearing_waer'" in message and "bearing_wear" in message and "correlation_break" in message
    assert info.value.field == "faults"


def _one(fault: str, n_features: int = 10, seed: int = 11) -> tuple[Recording, Recording]:
    # without the recovery tail (tests/sim/test_recovery.py), so that only the fault's rows differ
    faulty = simulate(**DAY, seed=seed, faults=fault, n_features=n_features, recovery=False)
    clean = simulate(**DAY, seed=seed, n_features=n_features)
    return faulty, clean


@pytest.mark.parametrize("n_features", [10, 16])
@pytest.mark.parametrize("fault", FAULT_TYPES)
def test_each_fault_is_labelled_and_changes_its_sensors(fault: str, n_features: int) -> None:
    faulty, clean = _one(fault, n_features)
    assert len(faulty.events) == 1
    ev = faulty.events[0]
    assert ev.type == fault and ev.n_rows >= 3 and ev.sensors
    inside = np.zeros(len(faulty), dtype=bool)
    inside[ev.start_row : ev.end_row] = True
    assert np.array_equal(faulty.labels, inside.astype(np.int8))
    assert set(faulty.faults[inside].tolist()) == {fault} and set(faulty.faults[~inside].tolist()) == {""}
    assert ev.start_ts == faulty.timestamps[ev.start_row]
    assert ev.end_ts == pytest.approx(faulty.timestamps[ev.start_row] + ev.n_rows / faulty.rate_hz)
    # outside the fault the readings are exactly those of the same seed without faults
    assert np.array_equal(faulty.values[~inside], clean.values[~inside])
    # inside, every affected sensor changes; the others do not
    for j, name in enumerate(faulty.features):
        got, ref = faulty.values[inside, j], clean.values[inside, j]
        if name not in ev.sensors:
            assert np.array_equal(got, ref), f"{fault} changed {name}"
            continue
        if fault == "dropout":
            assert np.isnan(got).all()
            continue
        if fault == "stuck_sensor":  # frozen: differs from what the sensor would have read
            assert np.mean(got != ref) > 0.9 and np.ptp(got) == 0
            continue
        diff = np.abs(got - ref)
        scale = SENSOR_BY_NAME[name].scale
        assert diff.max() >= scale, f"{fault}: {name} changed by only {diff.max():.3g}"
    primary = ev.sensors[0]
    if fault not in ("dropout", "stuck_sensor"):
        j = faulty.features.index(primary)
        biggest = np.abs(faulty.values[inside, j] - clean.values[inside, j]).max()
        assert biggest >= 4 * SENSOR_BY_NAME[primary].scale, f"{fault}: {primary} only {biggest:.3g}"
    if fault in SENSOR_FAULTS:
        assert len(ev.sensors) == 1


def test_process_faults_touch_extra_sensors_when_present() -> None:
    faulty, _ = _one("cavitation", 16)
    assert "suction_pressure" in faulty.events[0].sensors
    assert "vibration_z_rms" in faulty.events[0].sensors
    faulty, _ = _one("cavitation", 10)
    assert set(faulty.events[0].sensors) == {"pressure", "flow", "vibration_x_rms", "vibration_y_rms"}


def test_stuck_sensor_repeats_its_last_value_exactly() -> None:
    faulty, clean = _one("stuck_sensor")
    ev = faulty.events[0]
    column = faulty.column(ev.sensors[0])
    frozen = column[ev.start_row : ev.end_row]
    assert np.all(frozen == column[ev.start_row - 1])
    assert np.ptp(clean.column(ev.sensors[0])[ev.start_row : ev.end_row]) > 0  # it would have moved


def test_dropout_is_nan_only_inside_the_fault() -> None:
    faulty, _ = _one("dropout")
    ev = faulty.events[0]
    missing = np.isnan(faulty.values)
    assert missing[ev.start_row : ev.end_row, faulty.features.index(ev.sensors[0])].all()
    assert missing.sum() == ev.n_rows


def test_gradual_faults_develop_over_their_duration() -> None:
    for fault, name in (("bearing_wear", "bearing_temp"), ("sensor_drift", None)):
        faulty, clean = _one(fault)
        ev = faulty.events[0]
        name = name or ev.sensors[0]
        diff = np.abs(faulty.column(name) - clean.column(name))[ev.start_row : ev.end_row]
        tenth = max(ev.n_rows // 10, 1)
        assert diff[:tenth].mean() < 0.25 * diff[-tenth:].mean()


def test_correlation_break_keeps_flow_in_its_normal_range() -> None:
    faulty, clean = _one("correlation_break")
    ev = faulty.events[0]
    rows = slice(ev.start_row, ev.end_row)
    running_flow = clean.column("flow")[clean.column("speed_rpm") > 0.55 * 1480]
    lo, hi = running_flow.min(), running_flow.max()
    broken = faulty.column("flow")[rows]
    assert broken.min() >= lo - 5 and broken.max() <= hi + 5
    # ... but it no longer matches the speed: the flow/speed ratio moves far outside its normal spread
    ratio_normal = running_flow / clean.column("speed_rpm")[clean.column("speed_rpm") > 0.55 * 1480]
    ratio_fault = broken / faulty.column("speed_rpm")[rows]
    settled = ratio_fault[len(ratio_fault) // 5 :]
    spread = ratio_normal.std()
    assert np.median(np.abs(settled - np.median(ratio_normal))) > 3 * spread


def test_misalignment_raises_one_axis_most_and_current_a_little() -> None:
    faulty, clean = _one("misalignment")
    ev = faulty.events[0]
    rows = slice(ev.end_row - max(ev.n_rows // 5, 1), ev.end_row)  # fully developed
    primary, *others, current = ev.sensors
    assert current == "motor_current"

    def rise(name: str) -> float:
        return float(np.mean(faulty.column(name)[rows] / clean.column(name)[rows]))

    assert rise(primary) > 1.5 and all(rise(primary) > rise(o) > 1.0 for o in others)
    assert 1.005 < rise(current) < 1.1


def test_spikes_are_short() -> None:
    faulty, clean = _one("spike")
    ev = faulty.events[0]
    j = faulty.features.index(ev.sensors[0])
    changed = faulty.values[ev.start_row : ev.end_row, j] != clean.values[ev.start_row : ev.end_row, j]
    assert changed[0] and changed[-1] and 0 < changed.mean() < 0.7


def test_faults_are_spread_after_the_lead_with_gaps_and_clear_of_stops(faulty_day: Recording) -> None:
    rec = faulty_day
    assert [e.type for e in rec.events] != list(FAULT_TYPES)  # shuffled order
    assert sorted(e.type for e in rec.events) == sorted(FAULT_TYPES)
    lead = round(0.4 * len(rec))
    assert rec.events[0].start_row >= lead and rec.labels[:lead].sum() == 0
    for prev, nxt in zip(rec.events, rec.events[1:], strict=False):
        assert nxt.start_row > prev.end_row  # at least one normal row between: separate events
    for ev in rec.events:
        for a, b in rec.stops:
            assert ev.end_row <= a or ev.start_row >= b


def test_fault_count_cycles_through_the_chosen_types() -> None:
    rec = simulate(**DAY, seed=2, faults="spike,dropout", fault_count=12, normal_lead_rows=1000)
    types = [e.type for e in rec.events]
    assert len(types) == 12 and types.count("spike") == 6 and types.count("dropout") == 6
    assert rec.events[0].start_row >= 1000


def test_fault_count_without_types_draws_from_all() -> None:
    rec = simulate(**DAY, seed=2, fault_count=4)
    assert len(rec.events) == 4 and len({e.type for e in rec.events}) == 4
    assert simulate(**DAY, seed=2, faults="all", fault_count=0).events == ()
    with pytest.raises(ConfigError, match="fault_count"):
        simulate(**DAY, seed=2, faults="none", fault_count=3)


def test_too_short_for_its_faults_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="too short"):
        simulate(n_rows=60, faults="all", fault_count=30)


def test_short_recordings_shrink_the_faults_to_fit() -> None:
    rec = simulate(n_rows=2000, faults="all", seed=1)
    assert len(rec.events) == len(FAULT_TYPES)
    assert rec.events[0].start_row >= 800 and rec.events[-1].end_row <= 2000


def test_normal_head_and_simulate_normal(faulty_day: Recording) -> None:
    head = faulty_day.normal_head()
    assert len(head) == faulty_day.events[0].start_row and head.labels.sum() == 0 and head.events == ()
    assert len(faulty_day.normal_head(margin_rows=100)) == len(head) - 100
    clean = simulate_normal(**DAY, seed=7)
    assert clean.events == () and clean.labels.sum() == 0
    assert np.array_equal(clean.values[: len(head)], head.values)


def test_slice_clips_and_reindexes_events(faulty_day: Recording) -> None:
    ev = faulty_day.events[2]
    part = faulty_day.slice(ev.start_row + 1, ev.end_row + 10)
    assert len(part) == ev.n_rows + 9
    assert [(e.type, e.start_row, e.end_row) for e in part.events] == [(ev.type, 0, ev.n_rows - 1)]
    assert part.events[0].start_ts == faulty_day.timestamps[ev.start_row + 1]


def test_severity_scales_the_fault() -> None:
    strong = simulate(**DAY, seed=11, faults="sensor_offset")
    weak = simulate(**DAY, seed=11, faults="sensor_offset", severity=0.5)
    clean = simulate(**DAY, seed=11)
    ev = strong.events[0]
    j = strong.features.index(ev.sensors[0])
    rows = slice(ev.start_row, ev.end_row)
    big = np.abs(strong.values[rows, j] - clean.values[rows, j]).mean()
    small = np.abs(weak.values[rows, j] - clean.values[rows, j]).mean()
    assert small == pytest.approx(big / 2, rel=0.05)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_rows": 0}, "n_rows"),
        ({"n_rows": 10, "duration_s": 10.0}, "n_rows"),
        ({"duration_s": -1.0}, "duration_s"),
        ({"n_rows": 10, "recovery": "no"}, "recovery"),
        ({"n_rows": 10, "rate_hz": 0.0}, "rate_hz"),
        ({"n_rows": 10, "seed": -1}, "seed"),
        ({"n_rows": 10, "normal_lead_rows": 11}, "normal_lead_rows"),
        ({"n_rows": 10, "start_time": "yesterday"}, "start_time"),
        ({"n_rows": 10, "severity": -1.0}, "severity"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        simulate(**kwargs)
    assert info.value.field == field
