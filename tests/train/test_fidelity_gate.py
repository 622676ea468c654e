"""The INT8 fidelity gate: which figures are gated (see edgewatch.export.fidelity)."""

from __future__ import annotations

from edgewatch.export.fidelity import FidelityBars, check_gate

BARS = FidelityBars(min_rank_correlation=0.99, min_alert_agreement=0.995)
GOOD = {"rank_correlation": 0.999, "alert_agreement": 0.999, "rows": 100}
HELD_OUT = GOOD | {"reconstruction_rank_correlation": 0.999}


def test_a_faithful_model_passes() -> None:
    assert check_gate(HELD_OUT, GOOD, BARS, artifact="litert-int8") == []


def test_reconstructing_differently_fails() -> None:
    """A carelessly calibrated INT8 model (5 calibration rows: 0.944 here) reconstructs unlike FP32."""
    held_out = HELD_OUT | {"reconstruction_rank_correlation": 0.944}
    [failure] = check_gate(held_out, GOOD, BARS, artifact="litert-int8")
    assert "reconstruction error rank correlation with FP32 on held-out rows 0.9440 < 0.99" in failure


def test_disagreeing_on_normal_rows_fails_and_names_the_row_set() -> None:
    held_out = HELD_OUT | {"alert_agreement": 0.99}
    [failure] = check_gate(held_out, GOOD, BARS, artifact="litert-int8")
    assert failure.startswith("litert-int8: alert agreement with FP32 on held-out rows 99.00% < 99.50%")


def test_ordering_faults_differently_fails() -> None:
    [failure] = check_gate(HELD_OUT, GOOD | {"rank_correlation": 0.98}, BARS, artifact="onnx-int8")
    assert "rank correlation with FP32 on held-out + stress rows 0.9800 < 0.99" in failure
    [nan] = check_gate(HELD_OUT, GOOD | {"rank_correlation": float("nan")}, BARS, artifact="onnx-int8")
    assert "nan" in nan


def test_noise_level_reordering_and_near_threshold_flips_are_recorded_not_gated() -> None:
    held_out = HELD_OUT | {"rank_correlation": 0.98}  # the order among normal readings: noise under max-z
    stressed = GOOD | {"alert_agreement": 0.98}  # row-by-row flips around the threshold
    assert check_gate(held_out, stressed, BARS, artifact="litert-int8") == []
