"""From a recording of normal operation to a verified bundle: the training half of edgewatch.

``build_bundle(recording, options, out_dir)``:

1. drops labelled-anomalous rows, refuses unusable data;
2. splits each file in time order (the last ``validation_fraction`` of its rows are held out);
3. fits the scaler and the per-feature statistics on training rows;
4. trains the model (dense-ae, conv-ae or iforest);
5. exports FP32 and full-integer INT8 TFLite, FP32 and INT8 ONNX (autoencoders) or float ONNX (iforest),
   INT8 calibrated on ``calibration_rows`` scaled normal rows spread evenly over the training period plus
   the rows at each feature's range ends (:mod:`edgewatch.train.representative`);
6. scores the held-out rows with the *edge runtimes* (LiteRT, ONNX Runtime), calibrates one threshold per
   artifact on its own scores, and runs the fidelity gate (INT8 vs FP32);
7. writes the bundle (manifest + files with sha256) and loads it back to verify.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch import __version__
from edgewatch.bundle import SCHEMA_VERSION, Bundle, FeatureStats, Scaler, write_bundle
from edgewatch.core.sustained import DEFAULT_FAST_TAU_S, DEFAULT_TAU_S, sustained_levels
from edgewatch.core.timestamps import iso_utc
from edgewatch.data.recording import Recording
from edgewatch.data.windows import make_windows, window_ends
from edgewatch.errors import DataError
from edgewatch.export import fidelity
from edgewatch.runtime import probe
from edgewatch.runtime.base import ScoreBatch
from edgewatch.runtime.scoring import SCORE_KINDS, Scoring, feature_weights
from edgewatch.train.calibrate import ThresholdRule
from edgewatch.train.data import check_trainable, drop_labelled
from edgewatch.train.fit import FitSettings
from edgewatch.train.representative import representative_rows
from edgewatch.train.run_state import detect_run_indicator

log = logging.getLogger(__name__)

MODEL_KINDS = ("dense-ae", "conv-ae", "iforest")
SUSTAINED_MIN_TAUS = 10  # it is calibrated only on at least this many time constants of warm held-out rows


@dataclass(frozen=True)
class TrainOptions:
    """Everything ``edgewatch train`` can be told. Defaults are the shipped defaults."""

    model: str = "dense-ae"
    layers: tuple[int, ...] = (64, 32, 64)
    window: int = 16
    filters: tuple[int, ...] = (32, 16)
    noise: float = 0.4
    hidden_noise: float = 0.15
    score: str = "max-z"  # autoencoders: a key of SCORE_KINDS (docs/evaluation.md)
    sustained_tau_s: float = DEFAULT_TAU_S  # autoencoders: sustained-deviation channel; 0 = none
    sustained_fast_tau_s: float = DEFAULT_FAST_TAU_S  # ... and its fast average, which ends a shift promptly
    n_estimators: int = 100
    seed: int = 0
    validation_fraction: float = 0.2
    calibration_rows: int = 200  # INT8 representative rows spread evenly over the training period ...
    calibration_range: bool = True  # ... plus the rows at each feature's range ends (train/representative.py)
    precision: str = "int8"
    threshold: ThresholdRule = field(default_factory=ThresholdRule)
    bars: fidelity.FidelityBars = field(default_factory=fidelity.FidelityBars)
    allow_low_fidelity: bool = False
    fit: FitSettings = field(default_factory=FitSettings)
    representative_override: np.ndarray | None = None  # tests only: a deliberately bad calibration set
    run_state: bool = True  # look for the machine's run indicator in the training rows (train/run_state.py)


@dataclass
class BuildReport:
    """What happened, for the command line to print."""

    bundle: Bundle
    excluded_labelled: int
    train_rows: int
    validation_rows: int
    fidelity: dict[str, Any] | None
    fidelity_failures: list[str]
    sizes: dict[str, int]
    seconds: dict[str, float]  # wall-clock time of the build stages (model fit + conversions, verification)


def _split(recording: Recording, fraction: float) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Per source file: ([start, cut) for training, [cut, end) for validation), in time order."""
    train, validation = [], []
    for start, end in recording.segments:
        n = end - start
        cut = start + max(1, round(n * (1.0 - fraction)))
        train.append((start, cut))
        validation.append((cut, end))
    return train, validation


def _created_at() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return iso_utc(int(epoch) if epoch else int(time.time()))


def _rows_of(segments: list[tuple[int, int]]) -> np.ndarray:
    return np.concatenate([np.arange(s, e) for s, e in segments]) if segments else np.empty(0, dtype=np.int64)


def build_bundle(
    recording: Recording,
    options: TrainOptions,
    out_dir: str | os.PathLike[str],
    *,
    say: Callable[[str], None] = lambda _msg: None,
) -> BuildReport:
    """Train, quantize, verify and write a bundle. Raises DataError or FidelityError on refusal."""
    if options.model not in MODEL_KINDS:
        raise DataError(f"unknown model kind {options.model!r}; choose one of {', '.join(MODEL_KINDS)}")
    if options.score not in SCORE_KINDS:
        raise DataError(f"unknown score {options.score!r}; choose one of {', '.join(SCORE_KINDS)}")
    recording, excluded = drop_labelled(recording)
    if excluded:
        say(f"excluded {excluded} rows labelled anomalous from training")
    check_trainable(recording)
    indicator = (
        detect_run_indicator(recording.values, recording.features, recording.timestamps) if options.run_state else None
    )
    train_segments, val_segments = _split(recording, options.validation_fraction)
    train_idx, val_idx = _rows_of(train_segments), _rows_of(val_segments)
    train_raw = recording.values[train_idx]
    check_trainable(recording.take(np.isin(np.arange(recording.n_rows), train_idx)))

    center = train_raw.mean(axis=0)
    scale = train_raw.std(axis=0)
    scaler = Scaler(center=center, scale=scale)
    stats = [FeatureStats.from_values(name, train_raw[:, j]) for j, name in enumerate(recording.features)]
    scaled = scaler.transform(recording.values)

    window = options.window if options.model == "conv-ae" else 1
    train_inputs, val_inputs = _inputs(scaled, train_segments, val_segments, window)
    if len(train_inputs) < 16 or len(val_inputs) < 8:
        raise DataError(
            f"too few rows for a {options.model} model with window {window}: "
            f"{len(train_inputs)} training and {len(val_inputs)} validation inputs"
        )
    say(f"training {options.model} on {len(train_idx)} rows, validating on {len(val_idx)} held-out rows")

    if options.representative_override is not None:
        representative = np.asarray(options.representative_override, dtype=np.float32)
    else:
        representative = representative_rows(
            train_inputs, options.calibration_rows, cover_range=options.calibration_range, held_out=val_inputs
        )

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgewatch-build-") as staging:
        if options.model == "iforest":
            files, artifacts, model_params, training_info = _build_iforest(train_inputs, options, Path(staging))
        else:
            files, artifacts, model_params, training_info = _build_autoencoder(
                train_inputs, val_inputs, representative, options, window
            )
        trained = time.perf_counter()
        plain, scoring = _score_artifacts(
            files, artifacts, val_inputs, window, len(recording.features), Path(staging), options
        )
        scores = _artifact_scores(plain, scoring, options)

    thresholds = {name: options.threshold.fit(s) for name, s in scores.items()}
    for name, entry in artifacts.items():
        entry["threshold"] = thresholds[name]
        entry["threshold_params"] = {"validation_median": float(np.median(scores[name]))}
    sustained, sustained_note = _sustained_thresholds(recording, val_segments, window, plain, scoring, options)
    for name, value in sustained.items():
        artifacts[name]["sustained_threshold"] = value
    say(sustained_note)

    stressed = fidelity.stress_set(val_inputs, options.seed)
    probe_inputs = _probe(artifacts, files, val_inputs, stressed, scoring, options)
    fidelity_figures, failures = _fidelity(artifacts, scores, plain, thresholds, stressed, scoring, options)
    default_artifact = _default_artifacts(options, artifacts)
    primary = default_artifact.get("litert") or default_artifact["onnx"]
    primary_file = artifacts[primary]["file"]
    model_id = f"{options.model}-{hashlib.sha256(files[primary_file]).hexdigest()[:8]}"

    manifest_data = {
        "schema_version": SCHEMA_VERSION,
        "edgewatch_version": __version__,
        "model_id": model_id,
        "created_at": _created_at(),
        "model": {"kind": options.model, "window": window, "params": model_params},
        "features": list(recording.features),
        "scaler": scaler.to_json(),
        "feature_stats": [s.to_json() for s in stats],
        "score": {
            "definition": _score_definition(options),
            "higher_is_more_anomalous": True,
            "aggregate": scoring.aggregate,
            **({"feature_weights": scoring.weights.tolist()} if scoring.weights is not None else {}),
            **(
                {"sustained_tau_s": options.sustained_tau_s, "sustained_fast_tau_s": options.sustained_fast_tau_s}
                if sustained
                else {}
            ),
            "sustained": sustained_note,
            "feature_errors": (
                "squared reconstruction error per feature"
                if options.model != "iforest"
                else "squared standardised deviation of the reading per feature"
            ),
        },
        "artifacts": artifacts,
        "default_artifact": default_artifact,
        "threshold": {
            "value": thresholds[primary],
            "rule": "quantile",
            "params": options.threshold.params(scores[primary]),
            "calibrated_on": primary,
            **({"sustained": sustained[primary]} if sustained else {}),
        },
        "fidelity": fidelity_figures,
        "probe": probe.section(len(probe_inputs)),
        **({"run_state": indicator.to_json()} if indicator is not None else {}),
        "training": {
            **training_info,
            "rows": len(train_idx),
            "validation_rows": len(val_idx),
            "excluded_labelled_rows": excluded,
            "validation_fraction": options.validation_fraction,
            "calibration_rows": len(representative),
            "calibration_range_rows": bool(options.calibration_range and options.representative_override is None),
            "seed": options.seed,
            "sources": [Path(s.path).name for s in recording.sources],
        },
    }
    fidelity.enforce(failures, allow_low_fidelity=options.allow_low_fidelity)
    bundle = write_bundle(out_dir, manifest_data, files)
    finished = time.perf_counter()
    return BuildReport(
        bundle=bundle,
        excluded_labelled=excluded,
        train_rows=len(train_idx),
        validation_rows=len(val_idx),
        fidelity=fidelity_figures,
        fidelity_failures=failures,
        sizes={name: len(content) for name, content in files.items()},
        seconds={
            "train_and_convert": trained - started,
            "verify_and_write": finished - trained,
            "total": finished - started,
        },
    )


def _inputs(
    scaled: np.ndarray,
    train_segments: list[tuple[int, int]],
    val_segments: list[tuple[int, int]],
    window: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs of shape (n, window, F) for training and validation."""
    if window == 1:
        return scaled[_rows_of(train_segments)][:, None, :], scaled[_rows_of(val_segments)][:, None, :]
    return (
        make_windows(scaled, window_ends(train_segments, window), window),
        make_windows(scaled, window_ends(val_segments, window), window),
    )


def _build_autoencoder(
    train_inputs: np.ndarray,
    val_inputs: np.ndarray,
    representative: np.ndarray,
    options: TrainOptions,
    window: int,
) -> tuple[dict[str, bytes], dict[str, dict[str, Any]], dict[str, Any], dict[str, Any]]:
    from edgewatch.export.keras_env import seed_everything
    from edgewatch.export.onnx import keras_to_onnx, quantize_onnx_int8
    from edgewatch.export.tflite import io_quantization, to_tflite
    from edgewatch.train.autoencoders import build_conv_ae, build_dense_ae
    from edgewatch.train.fit import fit_autoencoder

    seed_everything(options.seed)
    n_features = train_inputs.shape[2]
    if window == 1:
        model = build_dense_ae(n_features, options.layers, noise=options.noise, hidden_noise=options.hidden_noise)
        x_train, x_val, rep = (
            train_inputs[:, 0, :],
            val_inputs[:, 0, :],
            representative.reshape(-1, n_features),
        )
        params: dict[str, Any] = {
            "layers": list(options.layers),
            "noise": options.noise,
            "hidden_noise": options.hidden_noise,
        }
        input_shape: tuple[int, ...] = (n_features,)
    else:
        model = build_conv_ae(n_features, window, options.filters, noise=options.noise)
        x_train, x_val, rep = train_inputs, val_inputs, representative
        params = {"filters": list(options.filters), "noise": options.noise, "kernel": 3}
        input_shape = (window, n_features)
    report = fit_autoencoder(model, x_train, x_val, options.fit)
    files = {
        "model.fp32.tflite": to_tflite(model, representative=None),
        "model.int8.tflite": to_tflite(model, representative=rep),
    }
    onnx_fp32 = keras_to_onnx(model, input_shape)
    files["model.fp32.onnx"] = onnx_fp32
    files["model.int8.onnx"] = quantize_onnx_int8(onnx_fp32, rep)
    artifacts: dict[str, dict[str, Any]] = {
        "litert-int8": {
            "file": "model.int8.tflite",
            "runtime": "litert",
            "precision": "int8",
            "output": "reconstruction",
            **io_quantization(files["model.int8.tflite"]),
        },
        "litert-fp32": {
            "file": "model.fp32.tflite",
            "runtime": "litert",
            "precision": "fp32",
            "output": "reconstruction",
            **io_quantization(files["model.fp32.tflite"]),
        },
        "onnx-int8": {
            "file": "model.int8.onnx",
            "runtime": "onnx",
            "precision": "int8",
            "output": "reconstruction",
        },
        "onnx-fp32": {
            "file": "model.fp32.onnx",
            "runtime": "onnx",
            "precision": "fp32",
            "output": "reconstruction",
        },
    }
    training = {"fit": asdict(report), "parameters": int(model.count_params())}
    return files, artifacts, params, training


def _build_iforest(
    train_inputs: np.ndarray, options: TrainOptions, staging: Path
) -> tuple[dict[str, bytes], dict[str, dict[str, Any]], dict[str, Any], dict[str, Any]]:
    from edgewatch.train.iforest import fit_iforest, iforest_to_onnx

    rows = train_inputs[:, 0, :]
    model = fit_iforest(rows, seed=options.seed, n_estimators=options.n_estimators)
    files = {"model.onnx": iforest_to_onnx(model, rows.shape[1])}
    artifacts = {"onnx-fp32": {"file": "model.onnx", "runtime": "onnx", "precision": "fp32", "output": "score"}}
    params = {"n_estimators": options.n_estimators, "max_samples": int(model.max_samples_)}
    return files, artifacts, params, {"offset": float(model.offset_)}


def _score_artifacts(
    files: dict[str, bytes],
    artifacts: dict[str, dict[str, Any]],
    inputs: np.ndarray,
    window: int,
    n_features: int,
    staging: Path,
    options: TrainOptions,
) -> tuple[dict[str, ScoreBatch], Scoring]:
    """Every artifact's plain (unweighted) per-feature errors on ``inputs``, computed with the edge runtime
    the device will use (each model loaded and run once; the backend is kept in ``entry["_backend"]``), and
    the bundle's scoring (z-score weights from the FP32 model's errors on these held-out inputs)."""
    from edgewatch.runtime.litert import LiteRTBackend
    from edgewatch.runtime.onnx import OnnxBackend

    plain: dict[str, ScoreBatch] = {}
    for name, entry in artifacts.items():
        path = staging / entry["file"]
        path.write_bytes(files[entry["file"]])
        if entry["runtime"] == "litert":
            backend: Any = LiteRTBackend(path, artifact=name, window=window, n_features=n_features)
        else:
            backend = OnnxBackend(path, artifact=name, window=window, n_features=n_features, output=entry["output"])
        plain[name] = backend.score_batch(inputs)
        entry["_backend"] = backend
    if options.model == "iforest":
        return plain, Scoring()
    normalize, aggregate = SCORE_KINDS[options.score]
    weights = feature_weights(plain["litert-fp32"].feature_errors) if normalize else None
    return plain, Scoring(weights, aggregate)


def _artifact_scores(plain: dict[str, ScoreBatch], scoring: Scoring, options: TrainOptions) -> dict[str, np.ndarray]:
    """The bundle's scores from the plain errors (an isolation forest's model output is its score)."""
    if options.model == "iforest":
        return {name: batch.scores for name, batch in plain.items()}
    return {name: scoring.from_errors(batch.feature_errors).scores for name, batch in plain.items()}


def _sustained_thresholds(
    recording: Recording,
    val_segments: list[tuple[int, int]],
    window: int,
    plain: dict[str, ScoreBatch],
    scoring: Scoring,
    options: TrainOptions,
) -> tuple[dict[str, float], str]:
    """Per artifact, the threshold of the sustained-deviation level (:mod:`edgewatch.core.sustained`) by the
    same rule as the per-reading threshold, on the levels of the same held-out rows once warm; and a note
    for the manifest saying what was done. Empty when the channel is off, the model has no per-feature
    reconstruction (isolation forest) or the held-out rows span too little time to calibrate it."""
    tau = options.sustained_tau_s
    if options.model == "iforest" or not tau > 0:
        return {}, "off" if options.model != "iforest" else "not available for an isolation forest"
    # held-out inputs in order, per file: their end rows and timestamps
    ends = [window_ends([seg], window) for seg in val_segments]
    bounds = np.cumsum([0, *(len(e) for e in ends)])
    times = [recording.timestamps[e] for e in ends]
    warm_s = sum(float(t[-1] - t[0]) - tau for t in times if len(t) > 1 and t[-1] - t[0] > tau)
    if warm_s < SUSTAINED_MIN_TAUS * tau:
        return {}, (
            f"off: the held-out rows hold {warm_s:.0f} s of readings past the first {tau:.0f} s of each "
            f"file, fewer than the {SUSTAINED_MIN_TAUS * tau:.0f} s needed to calibrate it"
        )
    thresholds = {}
    for name, batch in plain.items():
        errors = scoring.from_errors(batch.feature_errors).feature_errors
        levels = np.concatenate(
            [
                sustained_levels(errors[a:b], t, tau, options.sustained_fast_tau_s)
                for a, b, t in zip(bounds[:-1], bounds[1:], times, strict=True)
            ]
        )
        thresholds[name] = options.threshold.fit(levels[np.isfinite(levels)])
    return thresholds, (
        f"on: per feature the smaller of two exponential moving averages of its error (time constants "
        f"{tau:.0f} s and {options.sustained_fast_tau_s:.0f} s), maximum over features, judged against "
        f"threshold.sustained once {tau:.0f} s of readings are averaged; calibrated on {warm_s:.0f} s of warm "
        f"held-out rows"
    )


def _score_definition(options: TrainOptions) -> str:
    if options.model == "iforest":
        return "negated scikit-learn IsolationForest decision_function (positive = outlier)"
    per_feature = "squared reconstruction error in scaled units, averaged over the window"
    weighted = "times feature_weights (1 / that feature's mean error on normal held-out rows, mean 1)"
    if options.score == "max-z":
        return f"maximum over features of the {per_feature}, {weighted}"
    if options.score == "mean-z":
        return f"mean over features of the {per_feature}, {weighted}"
    return f"mean over features of the {per_feature}"


def _probe(
    artifacts: dict[str, dict[str, Any]],
    files: dict[str, bytes],
    val_inputs: np.ndarray,
    stressed: np.ndarray,
    scoring: Scoring,
    options: TrainOptions,
) -> np.ndarray:
    """Pick the probe inputs (held-out rows and the same rows ``stressed``, :mod:`edgewatch.runtime.probe`),
    add them to ``files`` and each artifact's scores of them — scored as one batch, as the device will, by this
    machine's runtimes — to its entry."""
    inputs = probe.probe_inputs(val_inputs, stressed)
    batches = {name: entry["_backend"].score_batch(inputs) for name, entry in artifacts.items()}
    for name, scores in _artifact_scores(batches, scoring, options).items():
        artifacts[name]["probe_scores"] = [float(v) for v in scores]
    files[probe.PROBE_FILE] = probe.to_bytes(inputs)
    return inputs


def _fidelity(
    artifacts: dict[str, dict[str, Any]],
    scores: dict[str, np.ndarray],
    plain: dict[str, ScoreBatch],
    thresholds: dict[str, float],
    stressed: np.ndarray,
    scoring: Scoring,
    options: TrainOptions,
) -> tuple[dict[str, Any] | None, list[str]]:
    """INT8-vs-FP32 figures per INT8 artifact, on held-out rows and on held-out + ``stressed`` rows (the
    stress set of the held-out inputs); the gate is :func:`edgewatch.export.fidelity.check_gate`."""
    backends = {name: entry.pop("_backend") for name, entry in artifacts.items()}
    pairs = [(q, q.replace("int8", "fp32")) for q in artifacts if q.endswith("int8")]
    if not pairs:
        return None, []
    figures: dict[str, Any] = {
        "bars": asdict(options.bars),
        "held_out": f"last {options.validation_fraction:.0%} of each file's normal rows (time order)",
    }
    failures: list[str] = []
    for int8_name, fp32_name in pairs:
        held_out = fidelity.compare(scores[fp32_name], thresholds[fp32_name], scores[int8_name], thresholds[int8_name])
        # the plain mean squared reconstruction error, before the score's weighting and aggregation
        held_out["reconstruction_rank_correlation"] = fidelity.spearman(
            plain[fp32_name].feature_errors.mean(axis=1), plain[int8_name].feature_errors.mean(axis=1)
        )
        stress_fp32 = scoring.from_errors(backends[fp32_name].score_batch(stressed).feature_errors).scores
        stress_int8 = scoring.from_errors(backends[int8_name].score_batch(stressed).feature_errors).scores
        combined_fp32 = np.concatenate([scores[fp32_name], stress_fp32])
        combined_int8 = np.concatenate([scores[int8_name], stress_int8])
        stress = fidelity.compare(combined_fp32, thresholds[fp32_name], combined_int8, thresholds[int8_name])
        failures += fidelity.check_gate(held_out, stress, options.bars, artifact=int8_name)
        figures[int8_name] = {"reference": fp32_name, "held_out": held_out, "held_out_plus_stress": stress}
        artifacts[int8_name]["fidelity"] = {**held_out, "with_stress": stress}
    figures["passed"] = not failures
    figures["failures"] = failures
    return figures, failures


def _default_artifacts(options: TrainOptions, artifacts: dict[str, dict[str, Any]]) -> dict[str, str]:
    defaults = {}
    for runtime in ("litert", "onnx"):
        preferred = f"{runtime}-{options.precision}"
        if preferred in artifacts:
            defaults[runtime] = preferred
        elif f"{runtime}-fp32" in artifacts:
            defaults[runtime] = f"{runtime}-fp32"
    return defaults
