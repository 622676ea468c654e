"""Calibrating a trained model's files on the held-out rows, with the runtimes the device will use.

Every model file is loaded by its edge runtime (LiteRT, ONNX Runtime) and scores the held-out rows once.
From those scores come the bundle's scoring (autoencoders: per-feature weights from the FP32 model's
errors, so every sensor's normal error is about 1), each artifact's thresholds (by the bundle's
:class:`~edgewatch.bundle.ThresholdRule`, on the artifact's own scores; the sustained-deviation threshold
on the same rows' levels), the scores each artifact gives the probe, and the fidelity figures of each
INT8 model against its FP32 twin (:mod:`edgewatch.export.fidelity`). Higher score = more anomalous.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgewatch.bundle import Artifact, Fidelity, FidelityGate, Scoring, SustainedChannel, Threshold
from edgewatch.bundle.scoring import SCORE_KINDS
from edgewatch.core.sustained import sustained_levels
from edgewatch.data.recording import Recording
from edgewatch.data.windows import window_ends
from edgewatch.export import fidelity
from edgewatch.runtime import load_model, probe
from edgewatch.runtime.base import Model, ScoreBatch
from edgewatch.runtime.scoring import PLAIN, feature_weights, score_errors, score_model
from edgewatch.train.models import ArtifactSpec, ModelFiles
from edgewatch.train.weights import bounded_feature_weights

if TYPE_CHECKING:
    from edgewatch.train.builder import TrainOptions

SUSTAINED_MIN_TAUS = 10  # the channel is calibrated only on at least this many time constants of warm rows
HeldOut = tuple[Recording, list[tuple[int, int]], np.ndarray]  # the recording, its held-out rows, their inputs


@dataclass(frozen=True)
class Calibration:
    """What calibration gives the manifest: the artifacts, the scoring, the probe inputs and the gate."""

    artifacts: tuple[Artifact, ...]
    scoring: Scoring
    probe_inputs: np.ndarray
    gate: FidelityGate | None
    failures: tuple[str, ...]


def calibrate(model: ModelFiles, held_out: HeldOut, window: int, staging: Path, options: TrainOptions) -> Calibration:
    """Score the held-out inputs with every model file of ``model`` (written to ``staging`` to be loaded)."""
    recording, val_segments, val_inputs = held_out
    runners: dict[str, Model] = {}
    plain: dict[str, ScoreBatch] = {}
    for spec in model.artifacts:
        path = staging / spec.file
        path.write_bytes(model.files[spec.file])
        runners[spec.name] = load_model(path, spec.runtime, window=window, n_features=recording.n_features)
        plain[spec.name] = score_model(runners[spec.name], PLAIN, spec.output, val_inputs)
    weighted, aggregate = SCORE_KINDS[options.score] if options.model != "iforest" else (False, "mean")
    weights = None
    if weighted:
        fp32_held_out = plain["litert-fp32"]
        weights = (
            bounded_feature_weights(fp32_held_out.feature_errors, fp32_held_out.residuals)
            if fp32_held_out.residuals is not None
            else feature_weights(fp32_held_out.feature_errors)
        )
    scoring = Scoring(aggregate, None if weights is None else tuple(weights.tolist()))
    scores = {name: _scores(scoring, options, batch) for name, batch in plain.items()}
    sustained, note = sustained_thresholds(recording, val_segments, window, plain, scoring, options)
    scoring = Scoring(
        aggregate=scoring.aggregate,
        feature_weights=scoring.feature_weights,
        sustained=SustainedChannel(options.sustained_tau_s, options.sustained_fast_tau_s) if sustained else None,
        definition=_score_definition(options),
        feature_errors=(
            "squared reconstruction error per feature"
            if options.model != "iforest"
            else "squared standardised deviation of the reading per feature"
        ),
        sustained_note=note,
    )
    thresholds = {n: Threshold.calibrate(options.threshold, s, sustained.get(n)) for n, s in scores.items()}
    stressed = fidelity.stress_set(val_inputs, options.seed)
    probe_inputs = probe.probe_inputs(val_inputs, stressed)
    artifacts, failures = [], []
    for spec in model.artifacts:
        figures = None
        if spec.precision == "int8":
            reference = spec.name.replace("int8", "fp32")
            figures, failed = _fidelity(spec, reference, runners, plain, scores, thresholds, stressed, scoring, options)
            failures += failed
        probe_batch = score_model(runners[spec.name], PLAIN, spec.output, probe_inputs)
        artifacts.append(
            Artifact(
                name=spec.name,
                file=spec.file,
                runtime=spec.runtime,  # type: ignore[arg-type]
                precision=spec.precision,  # type: ignore[arg-type]
                output=spec.output,  # type: ignore[arg-type]
                threshold=thresholds[spec.name],
                probe_scores=tuple(float(v) for v in _scores(scoring, options, probe_batch)),
                io=spec.io,
                fidelity=figures,
            )
        )
    gate = None
    if any(a.fidelity is not None for a in artifacts):
        held = f"last {options.validation_fraction:.0%} of each file's normal rows (time order)"
        gate = FidelityGate(bars=options.bars, held_out=held, passed=not failures, failures=tuple(failures))
    return Calibration(tuple(artifacts), scoring, probe_inputs, gate, tuple(failures))


def _scores(scoring: Scoring, options: TrainOptions, plain: ScoreBatch) -> np.ndarray:
    """The bundle's scores from plain errors (an isolation forest's model output is its score)."""
    return plain.scores if options.model == "iforest" else score_errors(scoring, plain.feature_errors).scores


def _fidelity(
    spec: ArtifactSpec,
    reference: str,
    runners: dict[str, Model],
    plain: dict[str, ScoreBatch],
    scores: dict[str, np.ndarray],
    thresholds: dict[str, Threshold],
    stressed: np.ndarray,
    scoring: Scoring,
    options: TrainOptions,
) -> tuple[Fidelity, list[str]]:
    """The INT8 model ``spec`` against its FP32 ``reference`` on the held-out rows, and on them plus the
    stress set; the reasons it fails the gate (:func:`edgewatch.export.fidelity.check_gate`)."""
    t_fp32, t_int8 = thresholds[reference].value, thresholds[spec.name].value
    held_out = fidelity.compare(scores[reference], t_fp32, scores[spec.name], t_int8)
    held_out = fidelity.with_reconstruction(held_out, plain[reference].feature_errors, plain[spec.name].feature_errors)
    stress = {
        name: score_errors(scoring, score_model(runners[name], PLAIN, "reconstruction", stressed).feature_errors).scores
        for name in (reference, spec.name)
    }
    combined = fidelity.compare(
        np.concatenate([scores[reference], stress[reference]]),
        t_fp32,
        np.concatenate([scores[spec.name], stress[spec.name]]),
        t_int8,
    )
    failures = fidelity.check_gate(held_out, combined, options.bars, artifact=spec.name)
    record = Fidelity(reference=reference, held_out=held_out, held_out_plus_stress=combined, failures=tuple(failures))
    return record, failures


def sustained_thresholds(
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
        errors = score_errors(scoring, batch.feature_errors).feature_errors
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
        return "scikit-learn IsolationForest decision_function, negated once at export (positive = outlier)"
    per_feature = "squared reconstruction error in scaled units, averaged over the window"
    weighted = (
        "times feature_weights (1 / an upper 95% bound on that feature's mean error on normal held-out rows, "
        "its sample size discounted for autocorrelation; mean 1)"
    )
    if options.score == "max-z":
        return f"maximum over features of the {per_feature}, {weighted}"
    if options.score == "mean-z":
        return f"mean over features of the {per_feature}, {weighted}"
    return f"mean over features of the {per_feature}"
