"""Finding the run indicator in training rows: a sensor that shows the whole machine stopping."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgewatch.bundle import load_bundle
from edgewatch.records import dump
from edgewatch.train.run_state import detect_run_indicator

FEATURES = ("speed", "current", "flow", "bearing_temp", "valve")


def machine(n: int = 20_000, stops: tuple[tuple[int, int], ...] = ((3000, 3600), (9000, 9900), (15000, 15400))):
    """1 Hz rows of a machine that stops (speed, current and flow fall to ~0, the temperature does not),
    with 30-row ramps, and a valve that closes on its own now and then."""
    rng = np.random.default_rng(0)
    run = np.ones(n)
    for a, b in stops:
        run[a:b] = 0.0
        run[a - 30 : a] = np.linspace(1, 0, 30)
        run[b : b + 30] = np.linspace(0, 1, 30)
    values = np.column_stack(
        [
            np.abs(1480 * run + rng.normal(0, 3, n)),
            np.abs(40 * run + rng.normal(0, 0.5, n)),
            np.abs(120 * run + rng.normal(0, 1, n)),
            45 + rng.normal(0, 0.3, n),
            np.where((np.arange(n) // 1500) % 5 == 2, 0.0, 100.0) + rng.normal(0, 0.5, n),
        ]
    )
    return values, np.arange(n, dtype=np.float64)


def test_a_machine_that_stops_has_a_run_indicator() -> None:
    values, ts = machine()
    found = detect_run_indicator(values, FEATURES, ts)
    assert found is not None
    assert found.feature in ("speed", "current", "flow") and found.stops == 3
    assert set(found.companions) == {"speed", "current", "flow"} - {found.feature}
    column = values[:, FEATURES.index(found.feature)]
    assert column.max() * 0.1 < found.below < column.max() * 0.4  # between stopped (~0) and running
    assert 0.09 < found.stopped_fraction < 0.11
    assert json.loads(json.dumps(dump(found)))["feature"] == found.feature


def test_a_machine_that_never_stops_has_none() -> None:
    values, ts = machine(stops=())
    assert detect_run_indicator(values, FEATURES, ts) is None


def test_a_single_stop_is_not_enough_evidence() -> None:
    values, ts = machine(stops=((9000, 9900),))
    assert detect_run_indicator(values, FEATURES, ts) is None


def test_short_dips_are_not_stops() -> None:
    # 20 dips of 30 s each: shorter than the 120 s a stop must last
    values, ts = machine(stops=tuple((1000 * k, 1000 * k + 30) for k in range(1, 20)))
    assert detect_run_indicator(values, FEATURES, ts) is None


def test_a_feature_that_drops_alone_is_not_a_run_indicator() -> None:
    # only the valve closes (the machine never stops): no other sensor goes down with it
    values, ts = machine(stops=())
    assert detect_run_indicator(values[:, [3, 4]], ("bearing_temp", "valve"), ts) is None


def test_rows_with_a_missing_value_are_ignored() -> None:
    values, ts = machine()
    values[::7, 3] = np.nan
    found = detect_run_indicator(values, FEATURES, ts)
    assert found is not None and found.stops == 3


# --- in a bundle ---------------------------------------------------------------------------------


def test_training_data_without_stops_gives_a_bundle_without_run_indicator(dense_bundle: Path) -> None:
    assert load_bundle(dense_bundle).manifest.run_indicator is None


@pytest.mark.slow
def test_train_finds_the_simulated_pumps_run_indicator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edgewatch.cli import main

    data = tmp_path / "pump.csv"
    simulate = ["simulate", "--out", str(data), "--duration", "8h", "--normal-lead", "28800", "--faults", "none"]
    assert main([*simulate, "--stops-per-day", "12", "--seed", "4"]) == 0
    bundle = tmp_path / "b"
    train = ["train", str(data), "--out", str(bundle), "--max-epochs", "3", "--no-progress", "--allow-low-fidelity"]
    assert main(train) == 0
    out = capsys.readouterr().out
    assert "run state: stopped while " in out, out
    found = load_bundle(bundle).manifest.run_indicator
    assert found is not None
    assert found.feature in {"speed_rpm", "motor_current", "flow", "pressure", "power_kw", "oil_pressure"}
    assert found.stops >= 2
    assert main(["info", str(bundle)]) == 0
    assert f"run state    stopped while {found.feature} < " in capsys.readouterr().out


def test_no_run_state_turns_the_search_off() -> None:
    import argparse

    from edgewatch.commands import train

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    assert train.options_from_args(parser.parse_args(["x.csv", "--out", "b", "--no-run-state"])).run_state is False
    assert train.options_from_args(parser.parse_args(["x.csv", "--out", "b"])).run_state is True


def test_the_command_line_defaults_are_the_shipped_defaults() -> None:
    """`edgewatch train` without options builds what TrainOptions() describes (its --sustained-fast-tau once
    said 120 s while the shipped default was 30 s, so every bundle trained from the command line missed it)."""
    import argparse
    import dataclasses

    from edgewatch.commands import train
    from edgewatch.train.builder import TrainOptions

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    from_cli = train.options_from_args(parser.parse_args(["x.csv", "--out", "b"]))
    shipped = TrainOptions()
    for field in dataclasses.fields(TrainOptions):
        if field.name == "fit":  # the command line turns the progress bar on; the epochs must agree
            assert from_cli.fit.max_epochs == shipped.fit.max_epochs
            continue
        assert getattr(from_cli, field.name) == getattr(shipped, field.name), field.name
