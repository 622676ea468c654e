"""The INT8 fidelity gate: which figures are gated (see edgewatch.export.fidelity)."""

from __future__ import annotations

from dataclasses import replace

from edgewatch.bundle import FidelityBars, FidelityFigures
from edgewatch.export.fidelity import check_gate

BARS = FidelityBars(min_rank_correlation=0.99, min_alert_agreement=0.995)
GOOD = FidelityFigures(rank_correlation=0.999, alert_agreement=0.999, threshold_ratio=1.0, rows=100)
HELD_OUT = replace(GOOD, reconstruction_rank_correlation=0.999)


def test_a_faithful_model_passes() -> None:
    assert check_gate(HELD_OUT, GOOD, BARS, artifact="litert-int8") == []


def test_reconstructing_differently_fails() -> None:
    """A carelessly calibrated INT8 model (5 calibration rows: 0.944 here) reconstructs unlike FP32."""
    held_out = replace(HELD_OUT, reconstruction_rank_correlation=0.944)
    [failure] = check_gate(held_out, GOOD, BARS, artifact="litert-int8")
    assert "reconstruction error rank correlation with FP32 on held-out rows 0.9440 < 0.99" in failure


def test_disagreeing_on_normal_rows_fails_and_names_the_row_set() -> None:
    held_out = replace(HELD_OUT, alert_agreement=0.99)
    [failure] = check_gate(held_out, GOOD, BARS, artifact="litert-int8")
    assert failure.startswith("litert-int8: alert agreement with FP32 on held-out rows 99.00% < 99.50%")


def test_ordering_faults_differently_fails() -> None:
    [failure] = check_gate(HELD_OUT, replace(GOOD, rank_correlation=0.98), BARS, artifact="onnx-int8")
    assert "rank correlation with FP32 on held-out + stress rows 0.9800 < 0.99" in failure
    [nan] = check_gate(HELD_OUT, replace(GOOD, rank_correlation=float("nan")), BARS, artifact="onnx-int8")
    assert "nan" in nan


def test_noise_level_reordering_and_near_threshold_flips_are_recorded_not_gated() -> None:
    held_out = replace(HELD_OUT, rank_correlation=0.98)  # the order among normal readings: noise under max-z
    stressed = replace(GOOD, alert_agreement=0.98)  # row-by-row flips around the threshold
    assert check_gate(held_out, stressed, BARS, artifact="litert-int8") == []


def test_a_threshold_far_from_the_fp32_models_fails() -> None:
    """An INT8 model that clips a regime of the held-out rows scores them high and calibrates a threshold
    several times the FP32 one (5.8x on one simulated pump): it would miss faults FP32 catches."""
    assert check_gate(replace(HELD_OUT, threshold_ratio=1.09), GOOD, BARS, artifact="litert-int8") == []
    [high] = check_gate(replace(HELD_OUT, threshold_ratio=5.79), GOOD, BARS, artifact="litert-int8")
    assert high.startswith("litert-int8: threshold 5.79x the FP32 model's, outside 1/1.2 to 1.2x")
    [low] = check_gate(replace(HELD_OUT, threshold_ratio=0.5), GOOD, BARS, artifact="onnx-int8")
    assert "threshold 0.50x" in low
    [nan] = check_gate(replace(HELD_OUT, threshold_ratio=float("nan")), GOOD, BARS, artifact="onnx-int8")
    assert "nan" in nan
    loose = FidelityBars(max_threshold_ratio=6.0)
    assert check_gate(replace(HELD_OUT, threshold_ratio=5.79), GOOD, loose, artifact="litert-int8") == []


def test_train_takes_the_threshold_ratio_bar_and_refuses_a_bar_below_one() -> None:
    import argparse

    import pytest

    from edgewatch.commands import train
    from edgewatch.errors import DataError

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    options = train.options_from_args(parser.parse_args(["x.csv", "--out", "b", "--max-threshold-ratio", "1.5"]))
    assert options.bars.max_threshold_ratio == 1.5
    assert train.options_from_args(parser.parse_args(["x.csv", "--out", "b"])).bars.max_threshold_ratio == 1.2
    with pytest.raises(DataError, match=r"--max-threshold-ratio must be a number >= 1, got 0\.5"):
        train.options_from_args(parser.parse_args(["x.csv", "--out", "b", "--max-threshold-ratio", "0.5"]))
