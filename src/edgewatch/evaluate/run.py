"""The evaluation driver: labelled recordings → the agent's exact pipeline → metrics, table, JSON, report.

Two protocols:

* **one bundle** (:func:`evaluate_bundle`): every labelled file is replayed from its first row through
  :func:`edgewatch.core.replay.replay` — the code ``edgewatch replay`` and the agent run — with a fresh
  per-device state per file. Counts, events and false alarms are pooled over the files
  (:func:`edgewatch.evaluate.metrics.pool`).
* **per-file training** (:func:`evaluate_per_file_train`, the SKAB protocol): for each file a model is
  trained on its first ``head`` rows (rows labelled anomalous in the head are excluded from training, as
  ``edgewatch train --label-col`` does), written to a temporary bundle, and the *rest* of the file
  (rows ``head..end``) is replayed and scored with the bundle's default model, as a device would run it: the
  INT8 model where it passed the fidelity gate, else the FP32 one (:mod:`edgewatch.train.defaults`). The
  outcome of the gate is reported per file.

Scoring is causal only: every decision uses the readings up to and including the current one.
``flagged`` (alert active **or** sensor fault active) is the per-row decision compared with the labels;
the raw score (higher = more anomalous) feeds the ROC-AUC and PR-AUC. Each file also gets the alert
life-cycle figures (:mod:`edgewatch.evaluate.lifecycle`: false alarms before and after faults, alerts per
fault, chattering, time to clear), pooled like the rest. Files are named by their path relative to the
common parent of all inputs (:mod:`edgewatch.evaluate.names`); the text table and the HTML report are
:mod:`edgewatch.evaluate.output`.

This module is edge-safe (numpy + one runtime); only :func:`evaluate_per_file_train` imports the
training stack, lazily.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edgewatch.bundle import Artifact, Bundle, Manifest
from edgewatch.core.config import PipelineConfig
from edgewatch.core.replay import ReplayResult, replay
from edgewatch.data.recording import Recording
from edgewatch.errors import DataError
from edgewatch.evaluate.lifecycle import LifecycleResult, lifecycle, pool_lifecycle
from edgewatch.evaluate.metrics import EvaluationResult, evaluate_arrays, pool
from edgewatch.evaluate.names import display_names
from edgewatch.evaluate.report import ModelCard

__all__ = [
    "EvaluationRun",
    "FileOutcome",
    "evaluate_bundle",
    "evaluate_per_file_train",
    "evaluate_recording",
    "open_evaluated_backend",
    "read_labelled",
]


@dataclass
class FileOutcome:
    """One evaluated file: the rows scored, what the pipeline did, and the metrics. ``label`` names it in
    tables and reports (its path relative to the common parent of all inputs)."""

    path: str
    recording: Recording  # the rows that were evaluated (after any training head)
    replay: ReplayResult
    result: EvaluationResult
    lifecycle: LifecycleResult
    label: str = ""
    first_row: int = 0  # 0-based index in the file of the first evaluated row
    model_id: str = ""
    artifact: str = ""
    fidelity_passed: bool | None = None
    fidelity_failures: list[str] = field(default_factory=list)
    train_rows: int | None = None
    excluded_labelled: int | None = None

    @property
    def name(self) -> str:
        return self.label or Path(self.path).name

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "name": self.name,
            "first_row": self.first_row,
            "rows": self.recording.n_rows,
            "model_id": self.model_id,
            "artifact": self.artifact,
            "status_counts": _status_counts(self.replay),
            "alerts_raised": sum(1 for _, e in self.replay.alert_events() if e.state == "raised"),
            "metrics": {**self.result.to_json(), "lifecycle": self.lifecycle.to_json()},
        }
        if self.fidelity_passed is not None:
            out["training"] = {
                "rows": self.train_rows,
                "excluded_labelled_rows": self.excluded_labelled,
                "fidelity_passed": self.fidelity_passed,
                "fidelity_failures": list(self.fidelity_failures),
            }
        return out


@dataclass
class EvaluationRun:
    """Every file and the pooled result."""

    protocol: str  # "bundle" or "per-file-train"
    files: list[FileOutcome]
    pooled: EvaluationResult
    runtime: str
    config: PipelineConfig
    model_card: ModelCard  # of the (first) bundle
    feature_names: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def lifecycle(self) -> LifecycleResult:
        """The alert life-cycle figures pooled over the files."""
        return pool_lifecycle([f.lifecycle for f in self.files])

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "runtime": self.runtime,
            "model_id": self.model_card.model_id,
            "options": self.options,
            "configs": self.config.to_json(),
            "pooled": {**self.pooled.to_json(), "lifecycle": self.lifecycle.to_json()},
            "files": [f.to_json() for f in self.files],
        }


def _status_counts(replay: ReplayResult) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in replay.status:
        counts[s] = counts.get(s, 0) + 1
    return dict(sorted(counts.items()))


# ---------------------------------------------------------------------------------------------------
# reading


def read_labelled(
    path: str | Path,
    features: Sequence[str],
    *,
    label_col: str | None = None,
    time_col: str | None = None,
    sep: str | None = None,
) -> Recording:
    """Read a labelled recording in the bundle's feature order (with the per-row fault types when the file
    has a ``fault`` column).

    Empty cells are allowed (the pipeline reports them as missing values, as on the device). Refuses a
    file without a label column, or without one of the bundle's features, naming the file.
    """
    from edgewatch.data.read import read_recording

    return read_recording(
        path,
        features=features,
        time_col=time_col,
        label_col=label_col,
        sep=sep,
        allow_missing=True,
        require_label=True,
    )


# ---------------------------------------------------------------------------------------------------
# evaluating


def evaluate_recording(
    recording: Recording,
    backend: Any,
    manifest: Any,
    *,
    config: PipelineConfig | None = None,
    tolerance_s: float = 0.0,
    source: str = "",
) -> tuple[ReplayResult, EvaluationResult]:
    """Replay one labelled recording through the agent's pipeline and compute its metrics."""
    labels = recording.labels
    if labels is None:
        raise DataError("no label column found; name it with --label-col", path=recording.path)
    replayed = replay(
        recording,
        backend,
        manifest,
        device=Path(recording.path).stem or "replay",
        config=config,
    )
    types = None
    if recording.faults is not None:
        types = [t if lab else "" for t, lab in zip(recording.faults.tolist(), labels.tolist(), strict=True)]
    result = evaluate_arrays(
        labels,
        replayed.flagged,
        replayed.score,
        recording.timestamps,
        types,
        tolerance_s=tolerance_s,
        source=source or Path(recording.path).name,
        channels=(replayed.alert_active, replayed.sensor_fault_active),
    )
    return replayed, result


def evaluate_bundle(
    bundle_path: str | Path,
    paths: Sequence[str | Path],
    *,
    label_col: str | None = None,
    time_col: str | None = None,
    sep: str | None = None,
    runtime: str | None = None,
    artifact: str | None = None,
    config: PipelineConfig | None = None,
    tolerance_s: float = 0.0,
    skip_rows: int = 0,
) -> EvaluationRun:
    """Evaluate one bundle on every labelled file, pooled. Each file is replayed from row ``skip_rows``
    (0-based; e.g. the rows after the head the bundle was trained on) with a fresh device state."""
    from edgewatch.bundle import load_bundle

    if not paths:
        raise DataError("no labelled files given")
    bundle = load_bundle(bundle_path)
    manifest = bundle.manifest
    backend = open_evaluated_backend(bundle, runtime, artifact)
    files = []
    for path, label in zip(paths, display_names(paths), strict=True):
        recording = read_labelled(path, manifest.features, label_col=label_col, time_col=time_col, sep=sep)
        if skip_rows:
            if recording.n_rows <= skip_rows:
                message = f"has {recording.n_rows} rows, nothing left after skipping {skip_rows}"
                raise DataError(message, path=str(path))
            recording = recording.slice(skip_rows)
        files.append(_outcome(path, label, recording, backend, manifest, skip_rows, config, tolerance_s))
    return EvaluationRun(
        protocol="bundle",
        files=files,
        pooled=pool([f.result for f in files]),
        runtime=backend.artifact.runtime,
        config=config or PipelineConfig(),
        model_card=model_card(manifest, backend.artifact),
        feature_names=tuple(manifest.features),
        options={
            "bundle": str(bundle_path),
            "artifact": backend.artifact.name,
            "tolerance_s": tolerance_s,
            "skip_rows": skip_rows,
        },
    )


def evaluate_per_file_train(
    paths: Sequence[str | Path],
    head: int,
    *,
    options: Any = None,  # edgewatch.train.builder.TrainOptions
    label_col: str | None = None,
    time_col: str | None = None,
    sep: str | None = None,
    features: Sequence[str] | None = None,
    runtime: str | None = None,
    artifact: str | None = None,
    config: PipelineConfig | None = None,
    tolerance_s: float = 0.0,
    keep_bundles: str | Path | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> EvaluationRun:
    """Per file: train on rows ``0..head`` (labelled rows excluded), score rows ``head..end``; pool.

    ``options`` are the :class:`~edgewatch.train.builder.TrainOptions` (default: the shipped defaults). Each
    file's bundle runs ``artifact`` / ``runtime`` as :func:`open_evaluated_backend` chooses (default: the
    artifact that bundle names as its default, which a device would run: its FP32 model when INT8 failed the
    fidelity gate, unless the options keep INT8; options that require INT8 stop the run with FidelityError).
    """
    from edgewatch.bundle import load_bundle
    from edgewatch.data.read import read_recordings
    from edgewatch.train.builder import TrainOptions, build_bundle

    if not paths:
        raise DataError("no labelled files given")
    if head < 1:
        raise DataError("--per-file-train must be a positive number of rows")
    options = options or TrainOptions()
    files: list[FileOutcome] = []
    card = ModelCard()
    names: tuple[str, ...] = ()
    used_runtime = runtime or ""
    labels = display_names(paths)
    with tempfile.TemporaryDirectory(prefix="edgewatch-eval-") as tmp:
        for i, path in enumerate(paths):
            # label column required up front, so a file without one is refused before training on it
            labelled = read_labelled(
                path,
                features or _file_features(path, label_col, time_col, sep),
                label_col=label_col,
                time_col=time_col,
                sep=sep,
            )
            if labelled.n_rows <= head:
                raise DataError(
                    f"has {labelled.n_rows} rows, nothing left to score after the first {head} training rows",
                    path=str(path),
                )
            recording = read_recordings(
                [path], features=labelled.features, time_col=time_col, label_col=label_col, sep=sep, head=head
            )
            out_dir = Path(keep_bundles) / f"{i:03d}-{Path(path).stem}" if keep_bundles else Path(tmp) / f"b{i}"
            say(f"{labels[i]}: training {options.model} on its first {head} rows")
            report = build_bundle(recording, options, out_dir)
            bundle = load_bundle(out_dir)
            manifest = bundle.manifest
            backend = open_evaluated_backend(bundle, runtime, artifact)
            used_runtime = backend.artifact.runtime
            outcome = _outcome(path, labels[i], labelled.slice(head), backend, manifest, head, config, tolerance_s)
            files.append(
                replace(
                    outcome,
                    fidelity_passed=not report.fidelity_failures,
                    fidelity_failures=list(report.fidelity_failures),
                    train_rows=report.train_rows,
                    excluded_labelled=report.excluded_labelled,
                )
            )
            if not card.full:
                card = model_card(manifest, backend.artifact)
                names = tuple(manifest.features)
    return EvaluationRun(
        protocol="per-file-train",
        files=files,
        pooled=pool([f.result for f in files]),
        runtime=used_runtime,
        config=config or PipelineConfig(),
        model_card=card,
        feature_names=names,
        options={
            "per_file_train": head,
            "model": options.model,
            "precision": options.precision,
            "threshold_quantile": options.threshold.quantile,
            "threshold_margin": options.threshold.margin,
            "artifact": artifact or "the bundle's default",
            "tolerance_s": tolerance_s,
        },
    )


def open_evaluated_backend(bundle: Bundle, runtime: str | None, artifact: str | None) -> Any:
    """The model an evaluation runs: ``artifact`` when given (on its own runtime unless ``runtime`` is given,
    and then the two must agree), else the bundle's default artifact for ``runtime`` (default: the bundle's
    default runtime) — the model a device would run. Raises :class:`BundleError` for an unknown artifact."""
    from edgewatch.runtime import open_backend

    if runtime is None:
        runtime = bundle.manifest.artifact(artifact).runtime if artifact else bundle.manifest.default_runtime
    return open_backend(bundle, runtime, artifact=artifact)


def _outcome(
    path: str | Path,
    label: str,
    recording: Recording,
    backend: Any,
    manifest: Manifest,
    first_row: int,
    config: PipelineConfig | None,
    tolerance_s: float,
) -> FileOutcome:
    """The rows of ``path`` (named ``label``) from ``first_row`` on, replayed through ``backend`` and evaluated."""
    replayed, result = evaluate_recording(
        recording, backend, manifest, config=config, tolerance_s=tolerance_s, source=label
    )
    assert recording.labels is not None  # evaluate_recording refuses a recording without labels
    cycle = lifecycle(
        recording.labels,
        replayed.flagged,
        replayed.alert_active,
        recording.timestamps,
        result.events,
        tolerance_s=tolerance_s,
        source=label,
    )
    return FileOutcome(
        path=str(path),
        recording=recording,
        replay=replayed,
        result=result,
        lifecycle=cycle,
        label=label,
        first_row=first_row,
        model_id=manifest.model_id,
        artifact=backend.artifact.name,
    )


def model_card(manifest: Manifest, artifact: Artifact) -> ModelCard:
    """The report's model card: the key facts of the bundle and of the model that ran, then the manifest with
    that model's threshold on top."""
    rule = manifest.threshold_rule.kind
    facts = (
        ("model kind", manifest.model.kind),
        ("model id", manifest.model_id),
        ("threshold", artifact.threshold.value),
        ("threshold rule", rule),
        ("calibrated on", artifact.name),
        ("window", manifest.model.window),
        ("training rows", manifest.training.rows),
        ("edgewatch version", manifest.edgewatch_version),
        ("created", manifest.created_at),
    )
    full: dict[str, Any] = manifest.to_json()
    full["threshold"] = {"value": artifact.threshold.value, "rule": rule, "calibrated_on": artifact.name}
    return ModelCard(facts=facts, full=full, model_id=manifest.model_id)


def _file_features(path: str | Path, label_col: str | None, time_col: str | None, sep: str | None) -> tuple[str, ...]:
    from edgewatch.data.read import read_recording

    return read_recording(path, time_col=time_col, label_col=label_col, sep=sep, head=200, require_label=True).features
