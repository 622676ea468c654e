"""Benchmark ``quantization``: how faithful is the INT8 model to the FP32 one, per training variant?

The evidence behind docs/quantization.md. One simulated day of normal operation (``--rate`` readings per
second, 16 sensors) is the training recording; a second simulated day with every fault type (another seed)
is the labelled test recording. Each variant is built with ``build_bundle`` (``allow_low_fidelity=True`` so
that failing variants are still measured), and for each runtime (LiteRT, ONNX Runtime) the INT8 model is
compared with the FP32 model of the same bundle:

* on the held-out normal rows (the build's own fidelity figures, the same numbers the gate uses):
  Spearman rank correlation of the scores and alert agreement, each model at its own threshold
  (quantile 0.995 of its validation scores);
* on the faulty recording: the same two figures, and the ROC-AUC of FP32 and of INT8 against the labels.

Variants: plain 64-32-64 (no noise), input noise 0.3 or 0.5 alone, the shipped one (input noise 0.4 and
activation noise 0.15), the shipped one with normalised feature errors, a 64-8-64
bottleneck (noise 0), and the shipped model calibrated on 5 rows or on 200 raw (unscaled) rows instead of
200 evenly spread scaled rows. On the shipped variant the FP32 ONNX model is also re-quantized three ways
(with/without ``quant_pre_process`` fusion, per-channel/per-tensor weights) to measure those choices.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.bench import machine_info
from edgewatch.data.windows import evenly_spaced
from edgewatch.records import dump

VARIANTS: dict[str, dict[str, Any]] = {
    "plain-64-32-64": {"noise": 0.0, "hidden_noise": 0.0, "layers": (64, 32, 64)},
    "input-noise-0.3": {"noise": 0.3, "hidden_noise": 0.0, "layers": (64, 32, 64)},
    "shipped-noise-0.4-hidden-0.15": {"noise": 0.4, "hidden_noise": 0.15, "layers": (64, 32, 64)},
    "input-noise-0.5": {"noise": 0.5, "hidden_noise": 0.0, "layers": (64, 32, 64)},
    "bottleneck-64-8-64": {"noise": 0.0, "hidden_noise": 0.0, "layers": (64, 8, 64)},
    "score-mean-z": {"noise": 0.4, "hidden_noise": 0.15, "layers": (64, 32, 64), "score": "mean-z"},
    "score-mse": {"noise": 0.4, "hidden_noise": 0.15, "layers": (64, 32, 64), "score": "mse"},
    "calibration-evenly-spread-only": {
        "noise": 0.4,
        "hidden_noise": 0.15,
        "layers": (64, 32, 64),
        "calibration_range": False,
    },
    "calibration-5-rows": {
        "noise": 0.4,
        "hidden_noise": 0.15,
        "layers": (64, 32, 64),
        "calibration_rows": 5,
        "calibration_range": False,
    },
    "calibration-fault-level-6": {
        "noise": 0.4,
        "hidden_noise": 0.15,
        "layers": (64, 32, 64),
        "calibration_fault_level": 6.0,
    },
    "calibration-raw-rows": {"noise": 0.4, "hidden_noise": 0.15, "layers": (64, 32, 64), "raw_representative": True},
}
SHIPPED = "shipped-noise-0.4-hidden-0.15"


def run(
    *,
    days: float = 1.0,
    rate: float = 0.5,
    features: int = 16,
    seed: int = 0,
    max_epochs: int = 200,
    variants: list[str] | None = None,
    onnx_variants: bool = True,
    say: Any = lambda _msg: None,
) -> dict[str, Any]:
    from edgewatch.sim import simulate, simulate_normal
    from edgewatch.train.builder import TrainOptions
    from edgewatch.train.fit import FitSettings

    chosen = list(variants or VARIANTS)
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    started = time.perf_counter()
    duration = days * 86400.0
    normal = simulate_normal(duration_s=duration, rate_hz=rate, n_features=features, seed=seed)
    faulty = simulate(duration_s=duration, rate_hz=rate, n_features=features, faults="all", seed=seed + 1)
    training = normal
    complete = ~np.isnan(faulty.values).any(axis=1)
    test_raw = faulty.values[complete]
    assert faulty.labels is not None  # a simulated recording is labelled
    test_labels = faulty.labels[complete].astype(np.int64)
    say(
        f"training: {normal.n_rows} normal rows x {features}; test: {int(complete.sum())} rows "
        f"({int(test_labels.sum())} in faults, {int((~complete).sum())} incomplete rows skipped)"
    )
    base = TrainOptions(seed=seed, allow_low_fidelity=True, fit=FitSettings(max_epochs=max_epochs, progress=False))
    result: dict[str, Any] = {
        "benchmark": "quantization",
        "machine": machine_info(),
        "parameters": {
            "days": days,
            "rate_hz": rate,
            "features": features,
            "seed": seed,
            "test_seed": seed + 1,
            "max_epochs": max_epochs,
            "train_recording_rows": normal.n_rows,
            "test_rows": int(complete.sum()),
            "test_fault_rows": int(test_labels.sum()),
            "test_incomplete_rows_skipped": int((~complete).sum()),
            "threshold_rule": f"quantile {base.threshold.quantile} of each model's own validation scores "
            f"(margin {base.threshold.margin})",
        },
        "variants": {},
    }
    for name in chosen:
        spec = VARIANTS[name]
        options = replace(
            base,
            noise=spec["noise"],
            hidden_noise=spec["hidden_noise"],
            layers=tuple(spec["layers"]),
            score=str(spec.get("score", base.score)),
        )
        if "calibration_rows" in spec:
            options = replace(options, calibration_rows=spec["calibration_rows"])
        if "calibration_range" in spec:
            options = replace(options, calibration_range=spec["calibration_range"])
        if "calibration_fault_level" in spec:
            options = replace(options, calibration_fault_level=spec["calibration_fault_level"])
        if spec.get("raw_representative"):
            options = replace(options, representative_override=_raw_representative(training, base))
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="edgewatch-bench-q-") as tmp:
            report = _build(training, options, Path(tmp) / "bundle")
            entry = _measure(report, test_raw, test_labels)
            if name == SHIPPED and onnx_variants:
                entry["onnx_quantization_variants"] = _onnx_variants(report, training, base)
        entry["spec"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in spec.items()}
        entry["build_seconds"] = time.perf_counter() - t0
        result["variants"][name] = entry
        say(_summary_line(name, entry))
    result["total_seconds"] = time.perf_counter() - started
    return result


def _build(training: Any, options: Any, out: Path) -> Any:
    from edgewatch.train.builder import build_bundle

    return build_bundle(training, options, out)


def _raw_representative(training: Any, options: Any) -> np.ndarray:
    """200 raw (unscaled) training rows, evenly spread: the mistake of calibrating in the wrong units."""
    n = training.n_rows
    cut = max(1, round(n * (1.0 - options.validation_fraction)))
    return training.values[evenly_spaced(cut, options.calibration_rows)][:, None, :].astype(np.float32)


def _measure(report: Any, test_raw: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    from edgewatch.evaluate.metrics import roc_auc
    from edgewatch.export.fidelity import agreement, spearman
    from edgewatch.runtime import open_backend

    bundle = report.bundle
    manifest = bundle.manifest
    x = manifest.scaler.transform(test_raw)[:, None, :]
    entry: dict[str, Any] = {
        "fit": dump(manifest.training.fit),
        "int8_tflite_bytes": report.sizes.get("model.int8.tflite"),
        "gate_passed": not report.fidelity_failures,
        "gate_failures": list(report.fidelity_failures),
        "runtimes": {},
    }
    for runtime in ("litert", "onnx"):
        int8, fp32 = manifest.artifact(f"{runtime}-int8"), manifest.artifact(f"{runtime}-fp32")
        assert int8.fidelity is not None
        held, stress = int8.fidelity.held_out, int8.fidelity.held_out_plus_stress
        s_fp32 = open_backend(bundle, runtime, artifact=fp32.name).score_batch(x).scores
        s_int8 = open_backend(bundle, runtime, artifact=int8.name).score_batch(x).scores
        th_fp32, th_int8 = fp32.threshold.value, int8.threshold.value
        entry["runtimes"][runtime] = {
            "held_out_reconstruction_rank_correlation": held.reconstruction_rank_correlation,
            "held_out_rank_correlation": held.rank_correlation,
            "held_out_alert_agreement": held.alert_agreement,
            "held_out_rows": held.rows,
            "stress_rank_correlation": stress.rank_correlation,
            "stress_alert_agreement": stress.alert_agreement,
            "faulty_rank_correlation": spearman(s_fp32, s_int8),
            "faulty_alert_agreement": agreement(s_fp32, th_fp32, s_int8, th_int8),
            "faulty_auc_fp32": roc_auc(labels, s_fp32),
            "faulty_auc_int8": roc_auc(labels, s_int8),
            "threshold_fp32": th_fp32,
            "threshold_int8": th_int8,
        }
    return entry


def _onnx_variants(report: Any, training: Any, options: Any) -> dict[str, Any]:
    """Re-quantize the bundle's FP32 ONNX model with and without ``quant_pre_process`` and with per-tensor
    weights; score the held-out rows with each and compare with FP32 (rank correlation, agreement)."""
    from edgewatch.export.fidelity import compare
    from edgewatch.export.onnx import quantize_onnx_int8
    from edgewatch.runtime import Backend, load_model, open_backend
    from edgewatch.train.representative import representative_rows

    bundle = report.bundle
    manifest = bundle.manifest
    n = training.n_rows
    cut = max(1, round(n * (1.0 - options.validation_fraction)))
    scaled = manifest.scaler.transform(training.values)
    rep = representative_rows(
        scaled[:cut][:, None, :], options.calibration_rows, cover_range=options.calibration_range
    ).reshape(-1, manifest.n_features)
    val = scaled[cut:][:, None, :]
    fp32_bytes = bundle.file(manifest.artifact("onnx-fp32").file).read_bytes()
    s_fp32 = open_backend(bundle, "onnx", artifact="onnx-fp32").score_batch(val).scores
    th_fp32 = options.threshold.fit(s_fp32)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="edgewatch-bench-onnxq-") as tmp:
        for label, pre, per_channel in (
            ("pre_process+per_channel (shipped)", True, True),
            ("no_pre_process+per_channel", False, True),
            ("pre_process+per_tensor", True, False),
            ("no_pre_process+per_tensor", False, False),
        ):
            try:
                model = quantize_onnx_int8(fp32_bytes, rep, pre_process=pre, per_channel=per_channel)
            except Exception as exc:  # a variant that cannot be built is a result too
                out[label] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            path = Path(tmp) / f"{len(out)}.onnx"
            path.write_bytes(model)
            model_variant = load_model(path, "onnx", window=1, n_features=manifest.n_features)
            backend = Backend(manifest.artifact("onnx-int8"), model_variant, manifest.scoring)  # scored as the bundle's
            s = backend.score_batch(val).scores
            out[label] = dump(compare(s_fp32, th_fp32, s, options.threshold.fit(s)))
    return out


def _summary_line(name: str, entry: dict[str, Any]) -> str:
    parts = [f"{name}: {entry['build_seconds']:.0f} s, {entry['fit']['epochs_run']} epochs"]
    for runtime, r in entry["runtimes"].items():
        parts.append(
            f"{runtime}: recon rho {r['held_out_reconstruction_rank_correlation']:.4f} "
            f"rho {r['held_out_rank_correlation']:.4f} agree {r['held_out_alert_agreement']:.4f} "
            f"AUC fp32 {r['faulty_auc_fp32']:.3f} int8 {r['faulty_auc_int8']:.3f}"
        )
    return " | ".join(parts)
