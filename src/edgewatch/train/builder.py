"""From a recording of normal operation to a verified bundle: the training half of edgewatch.

``build_bundle(recording, options, out_dir)``:

1. drops labelled-anomalous rows, refuses unusable data;
2. splits each file in time order (the last ``validation_fraction`` of its rows are held out);
3. fits the scaler and the per-feature statistics on training rows;
4. trains the model and exports its files (:mod:`edgewatch.train.models`), INT8 calibrated on
   ``calibration_rows`` scaled normal rows spread evenly over the training period plus the rows at each
   feature's range ends (:mod:`edgewatch.train.representative`);
5. scores the held-out rows with the *edge runtimes* (LiteRT, ONNX Runtime) and calibrates each model's
   thresholds on its own scores (:mod:`edgewatch.train.calibration`), scores the probe, and runs the
   fidelity gate (INT8 vs FP32);
6. chooses each runtime's default model — INT8 where it passed the gate, else the faithful FP32 model, unless
   told to keep an unfaithful INT8 model or to refuse it (:mod:`edgewatch.train.defaults`);
7. constructs the :class:`~edgewatch.bundle.Manifest`, writes the bundle and loads it back to verify.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from edgewatch import __version__
from edgewatch.bundle import (
    MODEL_KINDS,
    SCHEMA_VERSION,
    SCORE_KINDS,
    Bundle,
    FeatureStats,
    FidelityBars,
    Manifest,
    ModelSpec,
    RunIndicator,
    Scaler,
    ThresholdRule,
    TrainingInfo,
    file_entries,
    write_bundle,
)
from edgewatch.bundle.manifest import ModelKind
from edgewatch.core.sustained import DEFAULT_FAST_TAU_S, DEFAULT_TAU_S
from edgewatch.core.timestamps import iso_utc
from edgewatch.data.recording import Recording
from edgewatch.data.windows import make_windows, window_ends
from edgewatch.errors import DataError
from edgewatch.runtime import probe
from edgewatch.train.calibration import Calibration, calibrate
from edgewatch.train.data import check_trainable, drop_labelled
from edgewatch.train.defaults import DefaultChoice, Policy, choose_defaults
from edgewatch.train.fit import FitSettings
from edgewatch.train.models import ModelFiles, build_autoencoder, build_iforest
from edgewatch.train.representative import representative_rows
from edgewatch.train.run_state import detect_run_indicator

log = logging.getLogger(__name__)


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
    calibration_fault_level: float = 0.0  # ... plus fault-sized rows, one feature at a time at +-this; 0: none
    precision: str = "int8"
    threshold: ThresholdRule = field(default_factory=ThresholdRule)
    bars: FidelityBars = field(default_factory=FidelityBars)
    allow_low_fidelity: bool = False  # an INT8 model that fails the gate stays the default (train/defaults.py)
    require_int8: bool = False  # ... is an error (FidelityError); neither: the FP32 model becomes the default
    fit: FitSettings = field(default_factory=FitSettings)
    representative_override: np.ndarray | None = None  # tests only: a deliberately bad calibration set
    run_state: bool = True  # look for the machine's run indicator in the training rows (train/run_state.py)

    @property
    def on_gate_failure(self) -> Policy:
        """What the build does with an INT8 model that fails the fidelity gate (:mod:`edgewatch.train.defaults`)."""
        if self.require_int8:
            return "require-int8"
        return "keep-int8" if self.allow_low_fidelity else "fallback-fp32"


@dataclass
class BuildReport:
    """What happened, for the command line to print (the figures themselves are in the bundle's manifest)."""

    bundle: Bundle
    excluded_labelled: int
    train_rows: int
    validation_rows: int
    fidelity_failures: list[str]
    fell_back: dict[str, str]  # runtime -> its INT8 artifact that failed the gate; FP32 is that runtime's default
    sizes: dict[str, int]
    seconds: dict[str, float]  # wall-clock time of the build stages (model fit + conversions, verification)


@dataclass(frozen=True)
class _Split:
    """The training and held-out rows of a recording, and the model inputs made of them."""

    train_segments: list[tuple[int, int]]
    val_segments: list[tuple[int, int]]
    train_rows: int
    val_rows: int
    scaler: Scaler
    stats: tuple[FeatureStats, ...]
    train_inputs: np.ndarray
    val_inputs: np.ndarray
    window: int


def build_bundle(
    recording: Recording,
    options: TrainOptions,
    out_dir: str | os.PathLike[str],
    *,
    say: Callable[[str], None] = lambda _msg: None,
) -> BuildReport:
    """Train, quantize, verify and write a bundle. Raises DataError on unusable data or contradicting options,
    FidelityError when an INT8 model fails the gate under ``require_int8``."""
    if options.model not in MODEL_KINDS:
        raise DataError(f"unknown model kind {options.model!r}; choose one of {', '.join(MODEL_KINDS)}")
    if options.score not in SCORE_KINDS:
        raise DataError(f"unknown score {options.score!r}; choose one of {', '.join(SCORE_KINDS)}")
    if options.require_int8 and (options.allow_low_fidelity or options.precision != "int8"):
        other = "--allow-low-fidelity" if options.allow_low_fidelity else f"--precision {options.precision}"
        raise DataError(f"--require-int8 contradicts {other}")
    if options.require_int8 and options.model == "iforest":
        raise DataError("--require-int8: an isolation forest has no INT8 model")
    recording, excluded = drop_labelled(recording)
    if excluded:
        say(f"excluded {excluded} rows labelled anomalous from training")
    check_trainable(recording)
    indicator = (
        detect_run_indicator(recording.values, recording.features, recording.timestamps) if options.run_state else None
    )
    window = options.window if options.model == "conv-ae" else 1
    split = _split(recording, options, window)
    say(f"training {options.model} on {split.train_rows} rows, validating on {split.val_rows} held-out rows")
    if options.representative_override is not None:
        representative = np.asarray(options.representative_override, dtype=np.float32)
    else:
        representative = representative_rows(
            split.train_inputs,
            options.calibration_rows,
            cover_range=options.calibration_range,
            held_out=split.val_inputs,
            fault_level=options.calibration_fault_level,
        )
    started = time.perf_counter()
    if options.model == "iforest":
        model = build_iforest(split.train_inputs, options)
    else:
        model = build_autoencoder(split.train_inputs, split.val_inputs, representative, options, window)
    trained = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgewatch-build-") as staging:
        held_out = (recording, split.val_segments, split.val_inputs)
        calibration = calibrate(model, held_out, window, Path(staging), options)
    say(calibration.scoring.sustained_note)
    files = {**model.files, probe.PROBE_FILE: probe.to_bytes(calibration.probe_inputs)}
    choice = choose_defaults(
        calibration.artifacts, calibration.gate, precision=options.precision, policy=options.on_gate_failure
    )
    manifest = _manifest(
        recording, options, model, split, calibration, choice, indicator, files, len(representative), excluded
    )
    bundle = write_bundle(out_dir, manifest, files)
    finished = time.perf_counter()
    return BuildReport(
        bundle=bundle,
        excluded_labelled=excluded,
        train_rows=split.train_rows,
        validation_rows=split.val_rows,
        fidelity_failures=list(calibration.failures),
        fell_back=dict(choice.fell_back),
        sizes={name: len(content) for name, content in model.files.items()},
        seconds={
            "train_and_convert": trained - started,
            "verify_and_write": finished - trained,
            "total": finished - started,
        },
    )


def _split(recording: Recording, options: TrainOptions, window: int) -> _Split:
    """Per source file, the first rows for training and the last ``validation_fraction`` held out (time
    order); the scaler and statistics of the training rows; the scaled model inputs (n, window, F)."""
    train_segments, val_segments = [], []
    for start, end in recording.segments:
        cut = start + max(1, round((end - start) * (1.0 - options.validation_fraction)))
        train_segments.append((start, cut))
        val_segments.append((cut, end))
    train_idx, val_idx = _rows_of(train_segments), _rows_of(val_segments)
    train_raw = recording.values[train_idx]
    check_trainable(recording.take(np.isin(np.arange(recording.n_rows), train_idx)))
    scaler = Scaler.fit(train_raw)
    stats = tuple(FeatureStats.from_values(name, train_raw[:, j]) for j, name in enumerate(recording.features))
    scaled = scaler.transform(recording.values)
    if window == 1:
        train_inputs, val_inputs = scaled[train_idx][:, None, :], scaled[val_idx][:, None, :]
    else:
        train_inputs = make_windows(scaled, window_ends(train_segments, window), window)
        val_inputs = make_windows(scaled, window_ends(val_segments, window), window)
    if len(train_inputs) < 16 or len(val_inputs) < 8:
        raise DataError(
            f"too few rows for a {options.model} model with window {window}: "
            f"{len(train_inputs)} training and {len(val_inputs)} validation inputs"
        )
    return _Split(
        train_segments, val_segments, len(train_idx), len(val_idx), scaler, stats, train_inputs, val_inputs, window
    )


def _rows_of(segments: list[tuple[int, int]]) -> np.ndarray:
    return np.concatenate([np.arange(s, e) for s, e in segments]) if segments else np.empty(0, dtype=np.int64)


def _manifest(
    recording: Recording,
    options: TrainOptions,
    model: ModelFiles,
    split: _Split,
    calibration: Calibration,
    choice: DefaultChoice,
    indicator: RunIndicator | None,
    files: dict[str, bytes],
    calibration_rows: int,
    excluded: int,
) -> Manifest:
    artifacts, defaults = calibration.artifacts, choice.default_artifact
    primary = next(a for a in artifacts if a.name == (defaults.get("litert") or defaults["onnx"]))
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return Manifest(
        schema_version=SCHEMA_VERSION,
        edgewatch_version=__version__,
        model_id=f"{options.model}-{hashlib.sha256(files[primary.file]).hexdigest()[:8]}",
        created_at=iso_utc(int(epoch) if epoch else int(time.time())),
        model=ModelSpec(kind=cast(ModelKind, options.model), window=split.window, params=model.params),
        features=recording.features,
        scaler=split.scaler,
        feature_stats=split.stats,
        scoring=calibration.scoring,
        threshold_rule=options.threshold,
        artifacts=artifacts,
        default_artifact=defaults,
        probe=probe.record(len(calibration.probe_inputs)),
        training=TrainingInfo(
            rows=split.train_rows,
            validation_rows=split.val_rows,
            excluded_labelled_rows=excluded,
            validation_fraction=options.validation_fraction,
            calibration_rows=calibration_rows,
            calibration_range_rows=bool(options.calibration_range and options.representative_override is None),
            calibration_fault_level=options.calibration_fault_level if options.representative_override is None else 0.0,
            seed=options.seed,
            sources=tuple(Path(s.path).name for s in recording.sources),
            fit=model.fit,
            parameters=model.parameters,
            iforest_offset=model.iforest_offset,
        ),
        files=file_entries(files),
        fidelity=choice.gate,
        run_indicator=indicator,
    )
