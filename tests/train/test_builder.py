"""Real TensorFlow training, TFLite/ONNX conversion, the fidelity gate and the edge runtimes."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edgewatch.bundle import load_bundle
from edgewatch.data.read import read_recordings
from edgewatch.data.windows import evenly_spaced
from edgewatch.errors import DataError, FidelityError
from edgewatch.runtime import open_backend
from edgewatch.train.builder import TrainOptions, build_bundle
from edgewatch.train.weights import bounded_feature_weights
from tests.recordings import FAST_FIT, correlated_rows, write_csv


def test_int8_tflite_is_full_integer_and_small(dense_bundle: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    bundle = load_bundle(dense_bundle)
    int8 = Interpreter(model_path=str(dense_bundle / "model.int8.tflite"))
    assert int8.get_input_details()[0]["dtype"] == np.int8
    assert int8.get_output_details()[0]["dtype"] == np.int8
    weight_types = {
        d["dtype"]
        for d in int8.get_tensor_details()
        if d["name"].endswith(("MatMul", "kernel")) or "dense" in d["name"].lower()
    }
    assert np.float32 not in weight_types
    fp32 = Interpreter(model_path=str(dense_bundle / "model.fp32.tflite"))
    assert fp32.get_input_details()[0]["dtype"] == np.float32
    # the bar: the default 16-feature dense-ae INT8 model fits in 32 KB
    assert bundle.manifest.files["model.int8.tflite"].bytes <= 32 * 1024
    io = bundle.manifest.artifact("litert-int8").io
    assert io is not None and io.input.dtype == "int8" and io.input.scale > 0


def test_int8_onnx_is_statically_quantized(dense_bundle: Path) -> None:
    import onnx

    graph = onnx.load(str(dense_bundle / "model.int8.onnx")).graph
    ops = {node.op_type for node in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    int8_initializers = [i for i in graph.initializer if i.data_type == onnx.TensorProto.INT8]
    assert int8_initializers, "weights should be stored as int8"


def test_manifest_records_everything_the_device_needs(dense_bundle: Path) -> None:
    m = load_bundle(dense_bundle).manifest
    assert m.model_kind == "dense-ae" and m.window == 1 and m.model.params.layers == (64, 32, 64)
    assert len(m.features) == 16 and [s.name for s in m.feature_stats] == list(m.features)
    assert m.primary.name == "litert-int8" and m.model_id.startswith("dense-ae-")
    assert (m.threshold_rule.quantile, m.threshold_rule.margin) == (0.995, 2.0)
    for artifact in m.artifacts:
        limit = artifact.threshold
        assert limit.value > limit.validation_p99 > limit.validation_median > 0 and limit.validation_rows == 800
    assert m.fidelity is not None and m.fidelity.passed is True and m.fidelity.failures == ()
    for name in ("litert-int8", "onnx-int8"):
        fidelity = m.artifact(name).fidelity
        assert fidelity is not None and fidelity.reference == name.replace("int8", "fp32")
        held_out, with_stress = fidelity.held_out, fidelity.held_out_plus_stress
        assert held_out.alert_agreement >= 0.995 and (held_out.reconstruction_rank_correlation or 0) >= 0.99
        assert with_stress.rank_correlation >= 0.99
    assert m.artifact("litert-fp32").fidelity is None
    assert m.training.rows + m.training.validation_rows == 4000 and m.training.fit is not None
    assert all(len(entry.sha256) == 64 for entry in m.files.values())


def test_every_runtime_scores_like_keras_and_higher_means_anomalous(dense_bundle: Path) -> None:
    bundle = load_bundle(dense_bundle)
    m = bundle.manifest
    normal = m.scaler.transform(correlated_rows(200, seed=7))[:, None, :]
    faulty = normal.copy()
    faulty[:, 0, 3] += 5.0  # one sensor five standard deviations off
    for runtime, artifact in [
        ("litert", "litert-int8"),
        ("litert", "litert-fp32"),
        ("onnx", "onnx-int8"),
        ("onnx", "onnx-fp32"),
    ]:
        backend = open_backend(bundle, runtime, artifact=artifact)
        a, b = backend.score_batch(normal), backend.score_batch(faulty)
        assert np.median(b.scores) > 10 * np.median(a.scores), artifact
        assert (np.argmax(b.feature_errors, axis=1) == 3).mean() > 0.95, artifact
        assert np.allclose(a.feature_errors.max(axis=1), a.scores)  # the default score, max-z
    fp32_lite = open_backend(bundle, "litert", artifact="litert-fp32").score_batch(normal).scores
    fp32_onnx = open_backend(bundle, "onnx", artifact="onnx-fp32").score_batch(normal).scores
    assert np.allclose(fp32_lite, fp32_onnx, rtol=1e-3, atol=1e-6)


def test_batches_of_any_size_give_the_same_scores(dense_bundle: Path) -> None:
    bundle = load_bundle(dense_bundle)
    backend = open_backend(bundle, "litert")
    x = bundle.manifest.scaler.transform(correlated_rows(300, seed=3))[:, None, :]
    whole = backend.score_batch(x).scores
    pieces = np.concatenate([backend.score_batch(x[i : i + 7]).scores for i in range(0, 300, 7)])
    singles = np.array([backend.score_batch(x[i : i + 1]).scores[0] for i in range(20)])
    assert np.array_equal(whole, pieces)
    assert np.array_equal(whole[:20], singles)


def _small_recording(tmp_path: Path, n: int = 1500):  # type: ignore[no-untyped-def]
    return read_recordings([write_csv(tmp_path / "small.csv", correlated_rows(n, 8, seed=5))])


def test_five_row_representative_set_fails_the_gate_and_the_bundle_runs_fp32(tmp_path: Path) -> None:
    rec = _small_recording(tmp_path)
    options = TrainOptions(fit=FAST_FIT, calibration_rows=5, calibration_range=False)
    report = build_bundle(rec, options, tmp_path / "b")
    m = load_bundle(tmp_path / "b").manifest
    assert report.fidelity_failures and report.fell_back == {"litert": "litert-int8", "onnx": "onnx-int8"}
    assert m.default_artifact == {"litert": "litert-fp32", "onnx": "onnx-fp32"} and m.primary.name == "litert-fp32"
    assert m.fidelity is not None and m.fidelity.unfaithful == ("litert-int8", "onnx-int8")
    assert m.fidelity.on_failure == "fallback-fp32" and not m.fidelity.passed
    assert open_backend(load_bundle(tmp_path / "b"), "litert").artifact.name == "litert-fp32"
    with pytest.raises(FidelityError, match="--require-int8: the INT8 model would not make the same decisions"):
        build_bundle(rec, replace(options, require_int8=True), tmp_path / "refused")
    assert not (tmp_path / "refused").exists()


def test_int8_input_range_covers_a_rare_normal_regime(tmp_path: Path) -> None:
    """A few training readings far above the rest (a rare but normal regime) set the INT8 input range, so
    the device does not clip them; with evenly spread calibration rows alone they are clipped."""
    rows = correlated_rows(1500, 8, seed=5)
    spread = evenly_spaced(1200, 50)  # the calibration rows of the 1200 training rows with 50 spread rows
    start = int(spread[10]) + 3  # the regime sits between two of them
    rows[start : start + 4, 2] += 8 * rows[:, 2].std()
    rec = read_recordings([write_csv(tmp_path / "rare.csv", rows)])
    for cover_range in (True, False):
        out = tmp_path / f"range-{cover_range}"
        options = TrainOptions(
            fit=FAST_FIT, calibration_rows=50, calibration_range=cover_range, allow_low_fidelity=True
        )
        build_bundle(rec, options, out)
        bundle = load_bundle(out)
        assert bundle.manifest.training.calibration_range_rows is cover_range
        io = bundle.manifest.artifact("litert-int8").io  # what the converted model takes
        assert io is not None
        scale, zero = io.input.scale, io.input.zero_point
        highest_input = (127 - zero) * scale
        regime = float(bundle.manifest.scaler.transform(rows[start : start + 4])[:, 2].max())
        assert (highest_input >= 0.95 * regime) is cover_range, (cover_range, highest_input, regime)


def test_fault_level_calibration_covers_fault_sized_inputs_and_is_recorded(tmp_path: Path) -> None:
    """With fault-sized calibration rows the INT8 input range reaches the fault level, so a sensor 6 standard
    deviations off reaches the INT8 model unclipped; without them it is clipped near the normal range."""
    rec = _small_recording(tmp_path, 600)
    highest = {}
    for level in (0.0, 6.0):
        out = tmp_path / f"level-{level}"
        build_bundle(rec, TrainOptions(fit=FAST_FIT, calibration_fault_level=level), out)
        m = load_bundle(out).manifest
        assert m.training.calibration_fault_level == level
        io = m.artifact("litert-int8").io
        assert io is not None
        highest[level] = (127 - io.input.zero_point) * io.input.scale
    assert highest[0.0] < 5.0 <= 5.9 <= highest[6.0]


def test_wrongly_scaled_representative_set_is_refused(tmp_path: Path) -> None:
    rec = _small_recording(tmp_path)
    raw_rows = rec.values[:200, None, :]  # raw sensor units instead of scaled ones: a classic mistake
    options = TrainOptions(fit=FAST_FIT, representative_override=raw_rows, require_int8=True)
    with pytest.raises(FidelityError) as info:
        build_bundle(rec, options, tmp_path / "b")
    assert "rank correlation" in str(info.value) or "agreement" in str(info.value)


def test_allow_low_fidelity_writes_the_bundle_and_records_the_failure(tmp_path: Path) -> None:
    rec = _small_recording(tmp_path)
    options = TrainOptions(fit=FAST_FIT, calibration_rows=5, calibration_range=False, allow_low_fidelity=True)
    report = build_bundle(rec, options, tmp_path / "b")
    m = load_bundle(tmp_path / "b").manifest
    fid = m.fidelity
    assert report.fidelity_failures and fid is not None and fid.passed is False and fid.failures
    # told to keep INT8: it stays the default, and the manifest says it was kept knowingly
    assert m.default_artifact == {"litert": "litert-int8", "onnx": "onnx-int8"} and report.fell_back == {}
    assert fid.on_failure == "keep-int8" and fid.unfaithful == ("litert-int8", "onnx-int8")


def test_contradicting_gate_options_are_refused(tmp_path: Path) -> None:
    rec = _small_recording(tmp_path, 200)
    for options, message in [
        (TrainOptions(require_int8=True, allow_low_fidelity=True), "--require-int8 contradicts --allow-low-fidelity"),
        (TrainOptions(require_int8=True, precision="fp32"), "--require-int8 contradicts --precision fp32"),
        (TrainOptions(require_int8=True, model="iforest"), "an isolation forest has no INT8 model"),
    ]:
        with pytest.raises(DataError, match=message):
            build_bundle(rec, options, tmp_path / "b")


def test_fixed_seed_gives_a_byte_identical_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    rec = _small_recording(tmp_path, 800)
    options = TrainOptions(fit=FAST_FIT, seed=11)
    build_bundle(rec, options, tmp_path / "one")
    build_bundle(rec, options, tmp_path / "two")
    names = sorted(os.listdir(tmp_path / "one"))
    assert names == sorted(os.listdir(tmp_path / "two"))
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    created = json.loads((tmp_path / "one" / "manifest.json").read_text())["created_at"]
    assert created == "2026-01-01T00:00:00Z"


def test_labelled_rows_are_excluded_and_counted(tmp_path: Path) -> None:
    rows = correlated_rows(900, 4, seed=2)
    labels = np.zeros(900, dtype=int)
    labels[400:450] = 1
    rows[400:450] += 100.0
    rec = read_recordings([write_csv(tmp_path / "l.csv", rows, labels=labels)])
    options = TrainOptions(
        fit=FAST_FIT, allow_low_fidelity=True
    )  # 4 features, 680 rows: INT8 fidelity is not the point
    report = build_bundle(rec, options, tmp_path / "b")
    assert report.excluded_labelled == 50
    assert report.bundle.manifest.training.excluded_labelled_rows == 50
    assert report.train_rows + report.validation_rows == 850


def test_conv_autoencoder_over_windows(tmp_path: Path) -> None:
    rec = _small_recording(tmp_path, 1200)
    report = build_bundle(
        rec, TrainOptions(model="conv-ae", window=8, fit=FAST_FIT, allow_low_fidelity=True), tmp_path / "conv"
    )
    m = report.bundle.manifest
    assert m.model_kind == "conv-ae" and m.window == 8
    backend = open_backend(report.bundle, "litert")
    windows = np.stack([m.scaler.transform(rec.values[i : i + 8]) for i in range(0, 400, 8)])
    faulty = windows.copy()
    faulty[:, -4:, 2] += 6.0
    assert np.median(backend.score_batch(faulty).scores) > 5 * np.median(backend.score_batch(windows).scores)
    onnx_scores = open_backend(report.bundle, "onnx").score_batch(windows).scores
    # two INT8 quantizers, normal windows only (noise-level scores): 0.94 here with the range rows, 0.995
    # without them, when the LiteRT model fails the gate on the held-out rows instead (0.9765)
    assert np.corrcoef(onnx_scores, backend.score_batch(windows).scores)[0, 1] > 0.9
    # edgewatch score over windows: the first 7 rows fill the window, row 8 onwards is scored
    import csv

    from edgewatch.cli import main

    data = write_csv(tmp_path / "conv.csv", rec.values[:40], names=list(m.features))
    assert main(["score", str(tmp_path / "conv"), str(data), "--out", str(tmp_path / "s.csv")]) == 0
    with open(tmp_path / "s.csv", newline="") as handle:
        statuses = [row["status"] for row in csv.DictReader(handle)]
    assert statuses == ["window"] * 7 + ["scored"] * 33


def test_isolation_forest_scores_outliers_higher(tmp_path: Path) -> None:
    rec = _small_recording(tmp_path, 1200)
    report = build_bundle(rec, TrainOptions(model="iforest", n_estimators=50), tmp_path / "if")
    m = report.bundle.manifest
    assert m.default_artifact == {"onnx": "onnx-fp32"} and m.fidelity is None
    backend = open_backend(report.bundle, "onnx")
    normal = m.scaler.transform(rec.values[:300])[:, None, :]
    outliers = normal + 8.0
    assert np.median(backend.score_batch(outliers).scores) > np.quantile(backend.score_batch(normal).scores, 0.99)
    from edgewatch.errors import BundleError

    with pytest.raises(BundleError, match="no model for runtime 'litert'"):
        open_backend(report.bundle, "litert")


def test_unknown_model_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown model kind"):
        build_bundle(_small_recording(tmp_path, 200), TrainOptions(model="lstm"), tmp_path / "x")


def test_each_runtime_is_judged_against_its_own_calibrated_threshold(dense_bundle: Path) -> None:
    from edgewatch.core import Pipeline

    bundle = load_bundle(dense_bundle)
    m = bundle.manifest
    for runtime, artifact in [("litert", "litert-int8"), ("onnx", "onnx-int8"), ("litert", "litert-fp32")]:
        pipeline = Pipeline(m, open_backend(bundle, runtime, artifact=artifact))
        assert pipeline.calibrated == m.artifact(artifact).threshold, artifact
    assert m.artifact("onnx-int8").threshold.value != m.artifact("litert-fp32").threshold.value


def test_the_default_score_is_the_worst_sensor_in_units_of_its_normal_error(dense_bundle: Path) -> None:
    """max-z: per-feature errors weighted by 1 / normal error, score = their maximum (higher = more anomalous)."""
    bundle = load_bundle(dense_bundle)
    m = bundle.manifest
    assert m.scoring.aggregate == "max" and len(m.scoring.feature_weights or ()) == len(m.features)
    normal = m.scaler.transform(correlated_rows(200, seed=11))[:, None, :]
    for runtime in ("litert", "onnx"):
        batch = open_backend(bundle, runtime).score_batch(normal)
        assert np.allclose(batch.scores, batch.feature_errors.max(axis=1))


def test_score_mse_records_no_weights_and_averages(tmp_path: Path) -> None:
    rec = _small_recording(tmp_path, 1500)
    options = TrainOptions(fit=FAST_FIT, score="mse", allow_low_fidelity=True)
    bundle = build_bundle(rec, options, tmp_path / "mse").bundle
    assert bundle.manifest.scoring.aggregate == "mean" and bundle.manifest.scoring.feature_weights is None
    x = bundle.manifest.scaler.transform(rec.values[-50:])[:, None, :]
    batch = open_backend(bundle, "litert").score_batch(x)
    assert np.allclose(batch.scores, batch.feature_errors.mean(axis=1))


def test_unknown_score_kind_is_refused(tmp_path: Path) -> None:
    rec = _small_recording(tmp_path, 1500)
    with pytest.raises(DataError, match="unknown score 'median'"):
        build_bundle(rec, TrainOptions(fit=FAST_FIT, score="median"), tmp_path / "bad")


def test_normalized_feature_errors_are_recorded_and_applied_by_every_runtime(tmp_path: Path) -> None:
    rec = _small_recording(tmp_path, 1500)
    options = TrainOptions(fit=FAST_FIT, score="mean-z", allow_low_fidelity=True)
    bundle = build_bundle(rec, options, tmp_path / "norm").bundle
    weights = np.asarray(bundle.manifest.scoring.feature_weights)
    assert weights.shape == (8,) and np.isclose(weights.mean(), 1.0)
    x = bundle.manifest.scaler.transform(rec.values[-300:])[:, None, :]
    plain = open_backend(load_bundle(tmp_path / "norm"), "litert", artifact="litert-fp32")
    # the last 300 rows are the held-out rows the weights were fitted on (train/weights.py): the weights are
    # 1 / the autocorrelation-aware upper bound of each feature's plain mean error there
    batch = plain.score_batch(x)
    np.testing.assert_allclose(
        weights, bounded_feature_weights(batch.feature_errors / weights, batch.residuals), rtol=1e-3
    )
    onnx = open_backend(bundle, "onnx", artifact="onnx-fp32").score_batch(x)
    assert np.allclose(onnx.scores, plain.score_batch(x).scores, rtol=1e-3, atol=1e-6)
