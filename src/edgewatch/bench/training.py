"""Benchmark ``training``: simulated rows → ``build_bundle`` with the shipped defaults, timed per stage.

Measured in one run:

* ``simulate`` — the simulator making the rows (not part of the target);
* ``import_tensorflow`` — importing TensorFlow/Keras (paid once per ``edgewatch train``);
* ``pipeline`` — ``build_bundle`` with the shipped defaults (dense-ae 64-32-64, noise 0.3, INT8), its own
  stages (``BuildReport.seconds``) and the wall time around it;
* ``baseline`` — the bare Keras ``model.fit`` of the same network on the same training rows, for the same
  number of epochs and batch size the pipeline's early stopping ended with, and, on that model, each export
  step on its own (FP32/INT8 TFLite, FP32 ONNX, INT8 ONNX) for a stage breakdown.

Targets: pipeline wall time ≤ 60 s, INT8 TFLite ≤ 32 KB (the reference deployment's model: 800 KB).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.bench import machine_info, target
from edgewatch.bundle import Manifest
from edgewatch.records import dump

TARGET_SECONDS = 60.0
TARGET_INT8_KB = 32.0
REFERENCE_MODEL_KB = 800.0


def run(
    *,
    rows: int = 20_000,
    features: int = 16,
    seed: int = 0,
    max_epochs: int = 200,
    baseline: bool = True,
    repeats: int = 2,
    say: Any = lambda _msg: None,
) -> dict[str, Any]:
    from edgewatch.export.keras_env import import_tf
    from edgewatch.sim import simulate_normal
    from edgewatch.train.builder import TrainOptions, build_bundle
    from edgewatch.train.fit import FitSettings

    result: dict[str, Any] = {
        "benchmark": "training",
        "machine": machine_info(),
        "parameters": {"rows": rows, "features": features, "seed": seed, "max_epochs": max_epochs, "repeats": repeats},
    }
    t0 = time.perf_counter()
    recording = simulate_normal(n_rows=rows, n_features=features, seed=seed)
    t1 = time.perf_counter()
    import_tf()
    t2 = time.perf_counter()
    result["simulate_seconds"] = t1 - t0
    result["import_tensorflow_seconds"] = t2 - t1
    say(f"simulated {rows} x {features} rows in {t1 - t0:.1f} s; TensorFlow imported in {t2 - t1:.1f} s")

    options = TrainOptions(seed=seed, fit=FitSettings(max_epochs=max_epochs, progress=False))
    walls: list[float] = []
    baselines: list[dict[str, Any]] = []
    report = None
    fit_info: dict[str, Any] = {}
    for i in range(max(1, repeats)):
        with tempfile.TemporaryDirectory(prefix="edgewatch-bench-") as tmp:
            start = time.perf_counter()
            rep = build_bundle(recording, options, Path(tmp) / "bundle")
            walls.append(time.perf_counter() - start)
            if report is None:
                report = rep
                fit_info = dump(rep.bundle.manifest.training.fit)
        say(f"build_bundle run {i + 1}: {walls[-1]:.1f} s ({fit_info['epochs_run']} epochs)")
        if baseline:
            baselines.append(_baseline(recording, options, fit_info, say))
    assert report is not None
    wall = min(walls)
    int8_kb = report.sizes["model.int8.tflite"] / 1024
    say(f"build_bundle: best {wall:.1f} s, INT8 TFLite {int8_kb:.1f} KB")
    result["pipeline"] = {
        "wall_seconds": wall,
        "wall_seconds_runs": walls,
        "stage_seconds_first_run": dict(report.seconds),
        "train_rows": report.train_rows,
        "validation_rows": report.validation_rows,
        "fit": fit_info,
        "sizes_bytes": dict(report.sizes),
        "sizes_kb": {k: round(v / 1024, 2) for k, v in report.sizes.items()},
        "fidelity": _fidelity_summary(report.bundle.manifest),
        "fidelity_passed": not report.fidelity_failures,
    }
    result["targets"] = {
        "pipeline_wall_seconds": target(round(wall, 2), TARGET_SECONDS, unit="s"),
        "pipeline_wall_seconds_with_tf_import": target(
            round(wall + result["import_tensorflow_seconds"], 2), TARGET_SECONDS, unit="s"
        ),
        "int8_tflite_kb": target(round(int8_kb, 2), TARGET_INT8_KB, unit="KB"),
    }
    result["reference_model_kb"] = REFERENCE_MODEL_KB
    result["int8_vs_reference_ratio"] = int8_kb / REFERENCE_MODEL_KB
    if baselines:
        fit_best = min(b["fit_seconds"] for b in baselines)
        exports_best = min(b["exports_total_seconds"] for b in baselines)
        result["baseline"] = {
            "what": baselines[0]["what"],
            "fit_seconds": fit_best,
            "exports_total_seconds": exports_best,
            "runs": [{k: v for k, v in b.items() if k != "what"} for b in baselines],
        }
        result["ratios"] = {
            "pipeline_over_bare_fit": wall / fit_best,
            "pipeline_over_bare_fit_plus_exports": wall / (fit_best + exports_best),
        }
    return result


def _fidelity_summary(manifest: Manifest) -> dict[str, Any]:
    out = {}
    for a in manifest.artifacts:
        if a.fidelity is not None:
            held, stress = a.fidelity.held_out, a.fidelity.held_out_plus_stress
            out[a.name] = {
                "rank_correlation": held.rank_correlation,
                "alert_agreement": held.alert_agreement,
                "rows": held.rows,
                "stress_rank_correlation": stress.rank_correlation,
                "stress_alert_agreement": stress.alert_agreement,
            }
    return out


def _baseline(recording: Any, options: Any, fit_info: dict[str, Any], say: Any) -> dict[str, Any]:
    """The bare ``model.fit`` of the same network on the same rows, same epochs and batch size; then each
    export step on that model, timed on its own."""
    from edgewatch.export.keras_env import import_tf, seed_everything
    from edgewatch.export.onnx import keras_to_onnx, quantize_onnx_int8
    from edgewatch.export.tflite import to_tflite
    from edgewatch.train.autoencoders import build_dense_ae
    from edgewatch.train.representative import representative_rows

    _, keras = import_tf()
    n = recording.n_rows
    cut = max(1, round(n * (1.0 - options.validation_fraction)))
    train_raw = recording.values[:cut]
    scaled = ((recording.values - train_raw.mean(axis=0)) / train_raw.std(axis=0)).astype(np.float32)
    x_train, x_val = scaled[:cut], scaled[cut:]
    seed_everything(options.seed)
    epochs = int(fit_info["epochs_run"])
    batch = int(fit_info["batch_size"])
    model = build_dense_ae(recording.values.shape[1], options.layers, noise=options.noise)
    model.compile(optimizer=keras.optimizers.Adam(options.fit.learning_rate), loss="mse")
    start = time.perf_counter()
    model.fit(
        x_train, x_train, epochs=epochs, batch_size=batch, validation_data=(x_val, x_val), shuffle=True, verbose=0
    )
    fit_seconds = time.perf_counter() - start
    say(f"bare model.fit: {epochs} epochs, batch {batch}: {fit_seconds:.1f} s")
    rep = representative_rows(
        x_train[:, None, :],
        options.calibration_rows,
        cover_range=options.calibration_range,
        fault_level=options.calibration_fault_level,
    )
    rep = rep.reshape(len(rep), -1)
    exports: dict[str, float] = {}
    t = time.perf_counter()
    to_tflite(model, representative=None)
    exports["tflite_fp32"] = time.perf_counter() - t
    t = time.perf_counter()
    to_tflite(model, representative=rep)
    exports["tflite_int8"] = time.perf_counter() - t
    t = time.perf_counter()
    onnx_fp32 = keras_to_onnx(model, (x_train.shape[1],))
    exports["onnx_fp32"] = time.perf_counter() - t
    t = time.perf_counter()
    quantize_onnx_int8(onnx_fp32, rep)
    exports["onnx_int8"] = time.perf_counter() - t
    say("exports on the bare model: " + ", ".join(f"{k} {v:.1f} s" for k, v in exports.items()))
    return {
        "what": "bare keras model.fit of the same network on the same training rows "
        "(same epochs and batch size as the pipeline's run), then each export step alone",
        "epochs": epochs,
        "batch_size": batch,
        "fit_seconds": fit_seconds,
        "fit_seconds_per_epoch": fit_seconds / max(epochs, 1),
        "export_seconds": exports,
        "exports_total_seconds": sum(exports.values()),
    }
