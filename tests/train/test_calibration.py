"""Calibrating the sustained-deviation threshold at training time (edgewatch.train.calibration)."""

from __future__ import annotations

import numpy as np
import pytest

from edgewatch.bundle import Scoring
from edgewatch.core.sustained import sustained_levels
from edgewatch.data.recording import Recording, Source
from edgewatch.runtime.base import ScoreBatch
from edgewatch.train.builder import TrainOptions
from edgewatch.train.calibration import sustained_thresholds

T0 = 1767225600.0


def recording(n: int, rate_hz: float = 1.0) -> Recording:
    ts = T0 + np.arange(n) / rate_hz
    return Recording(("a", "b"), np.zeros((n, 2)), ts, sources=(Source("f.csv", 0, n),))


def plain_errors(n: int) -> dict[str, ScoreBatch]:
    errors = np.random.default_rng(0).exponential(1.0, size=(n, 2))
    return {"litert-int8": ScoreBatch(errors.max(axis=1), errors)}


def test_the_threshold_follows_the_rule_on_warm_held_out_levels() -> None:
    rec = recording(40_000)
    val = [(20_000, 40_000)]  # 20 000 s held out: 22 time constants of 900 s
    plain = plain_errors(20_000)
    scoring = Scoring("max", (1.0, 1.0))
    thresholds, note = sustained_thresholds(rec, val, 1, plain, scoring, TrainOptions())
    levels = sustained_levels(plain["litert-int8"].feature_errors, rec.timestamps[20_000:], 900.0)
    expected = 2.0 * np.quantile(levels[np.isfinite(levels)], 0.995)
    assert thresholds == {"litert-int8": pytest.approx(expected)}
    assert note.startswith("on:") and "900 s" in note
    # the per-reading threshold of the same rows is far higher: averaging removes the noise
    assert expected < 2.0 * np.quantile(plain["litert-int8"].scores, 0.995) / 2


def test_too_short_held_out_rows_or_an_iforest_or_tau_0_leave_it_off() -> None:
    rec = recording(2_000)
    val = [(1_600, 2_000)]
    plain = plain_errors(400)
    scoring = Scoring("max")
    thresholds, note = sustained_thresholds(rec, val, 1, plain, scoring, TrainOptions())
    assert thresholds == {} and note.startswith("off: the held-out rows hold 0 s")
    assert sustained_thresholds(rec, val, 1, plain, scoring, TrainOptions(sustained_tau_s=0.0)) == ({}, "off")
    iforest = sustained_thresholds(rec, val, 1, plain, scoring, TrainOptions(model="iforest"))
    assert iforest == ({}, "not available for an isolation forest")


def _write_slow_csv(path, rows: np.ndarray, step_s: float) -> None:  # type: ignore[no-untyped-def]
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", *(f"sensor_{j}" for j in range(rows.shape[1]))])
        for i, row in enumerate(rows):
            writer.writerow([f"{T0 + i * step_s:.0f}", *(f"{v:.6f}" for v in row)])


def test_train_calibrates_the_channel_and_replay_reports_its_level(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import csv

    from edgewatch.bundle import load_bundle
    from edgewatch.cli import main
    from tests.recordings import correlated_rows

    # one reading every 10 s for 16.7 h: the held-out 20% spans 3.3 h, enough to calibrate a 900-s average
    data = tmp_path / "slow.csv"
    _write_slow_csv(data, correlated_rows(6000, 8, seed=5), 10.0)
    bundle = tmp_path / "b"
    args = ["train", str(data), "--out", str(bundle), "--max-epochs", "10", "--no-progress", "--allow-low-fidelity"]
    assert main(args) == 0
    manifest = load_bundle(bundle).manifest
    channel, threshold = manifest.scoring.sustained, manifest.primary.threshold
    assert channel is not None and (channel.tau_s, channel.fast_tau_s) == (900.0, 120.0)
    assert threshold.sustained is not None and 0 < threshold.sustained
    assert "sustained-deviation threshold" in capsys.readouterr().out
    assert main(["info", str(bundle)]) == 0
    assert "sustained    time constant 900 s, fast average 120 s" in capsys.readouterr().out

    live = tmp_path / "live.csv"
    _write_slow_csv(live, correlated_rows(200, 8, seed=6), 10.0)
    out = tmp_path / "events.csv"
    assert main(["replay", str(bundle), str(live), "--out", str(out)]) == 0
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert all(r["sustained"] == "" for r in rows[:90])  # not warm before 900 s of readings
    assert all(float(r["sustained"]) >= 0 for r in rows[90:])

    # too little held-out time (1 reading per second): trained without the channel, and the manifest says why
    short = tmp_path / "short.csv"
    _write_slow_csv(short, correlated_rows(3000, 8, seed=5), 1.0)
    assert (
        main(
            [
                "train",
                str(short),
                "--out",
                str(tmp_path / "s"),
                "--max-epochs",
                "5",
                "--no-progress",
                "--allow-low-fidelity",
            ]
        )
        == 0
    )
    plain = load_bundle(tmp_path / "s").manifest
    assert plain.scoring.sustained is None and plain.primary.threshold.sustained is None
    assert plain.scoring.sustained_note.startswith("off: the held-out rows hold")
