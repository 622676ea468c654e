"""The evaluation driver: labelled recordings → the agent's exact pipeline → metrics, table, JSON, report.

Two protocols:

* **one bundle** (:func:`evaluate_bundle`): every labelled file is replayed from its first row through
  :func:`edgewatch.core.replay.replay` — the code ``edgewatch replay`` and the agent run — with a fresh
  per-device state per file. Counts, events and false alarms are pooled over the files
  (:func:`edgewatch.evaluate.metrics.pool`).
* **per-file training** (:func:`evaluate_per_file_train`, the SKAB protocol): for each file a model is
  trained on its first ``head`` rows (rows labelled anomalous in the head are excluded from training, as
  ``edgewatch train --label-col`` does), written to a temporary bundle, and the *rest* of the file
  (rows ``head..end``) is replayed and scored. A failing INT8 fidelity gate does not abort the run: the
  bundle is built with ``allow_low_fidelity=True`` and the outcome of the gate is reported per file.

Scoring is causal only: every decision uses the readings up to and including the current one.
``flagged`` (alert active **or** sensor fault active) is the per-row decision compared with the labels;
the raw score (higher = more anomalous) feeds the ROC-AUC and PR-AUC.

This module is edge-safe (numpy + one runtime); only :func:`evaluate_per_file_train` imports the
training stack, lazily.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.bundle import Artifact, Manifest
from edgewatch.core.config import PipelineConfig
from edgewatch.core.replay import ReplayResult, replay
from edgewatch.data.recording import Recording
from edgewatch.errors import DataError
from edgewatch.evaluate.metrics import EvaluationResult, evaluate_arrays, pool
from edgewatch.evaluate.report import ModelCard

__all__ = [
    "EvaluationRun",
    "FileOutcome",
    "evaluate_bundle",
    "evaluate_per_file_train",
    "evaluate_recording",
    "format_table",
    "read_labelled",
    "render_run_report",
]


@dataclass
class FileOutcome:
    """One evaluated file: the rows scored, what the pipeline did, and the metrics."""

    path: str
    recording: Recording  # the rows that were evaluated (after any training head)
    replay: ReplayResult
    result: EvaluationResult
    first_row: int = 0  # 0-based index in the file of the first evaluated row
    model_id: str = ""
    artifact: str = ""
    fidelity_passed: bool | None = None
    fidelity_failures: list[str] = field(default_factory=list)
    train_rows: int | None = None
    excluded_labelled: int | None = None

    @property
    def name(self) -> str:
        return Path(self.path).name

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "first_row": self.first_row,
            "rows": self.recording.n_rows,
            "model_id": self.model_id,
            "artifact": self.artifact,
            "status_counts": _status_counts(self.replay),
            "alerts_raised": sum(1 for _, e in self.replay.alert_events() if e.state == "raised"),
            "metrics": self.result.to_json(),
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

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "runtime": self.runtime,
            "model_id": self.model_card.model_id,
            "options": self.options,
            "configs": self.config.to_json(),
            "pooled": self.pooled.to_json(),
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
    from edgewatch.runtime import open_backend

    if not paths:
        raise DataError("no labelled files given")
    bundle = load_bundle(bundle_path)
    manifest = bundle.manifest
    runtime = runtime or manifest.default_runtime
    backend = open_backend(bundle, runtime, artifact=artifact)
    files = []
    for path in paths:
        recording = read_labelled(path, manifest.features, label_col=label_col, time_col=time_col, sep=sep)
        if skip_rows:
            if recording.n_rows <= skip_rows:
                message = f"has {recording.n_rows} rows, nothing left after skipping {skip_rows}"
                raise DataError(message, path=str(path))
            recording = recording.slice(skip_rows)
        files.append(_outcome(path, recording, backend, manifest, skip_rows, config, tolerance_s))
    return EvaluationRun(
        protocol="bundle",
        files=files,
        pooled=pool([f.result for f in files]),
        runtime=runtime,
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
    config: PipelineConfig | None = None,
    tolerance_s: float = 0.0,
    keep_bundles: str | Path | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> EvaluationRun:
    """Per file: train on rows ``0..head`` (labelled rows excluded), score rows ``head..end``; pool.

    ``options`` are the :class:`~edgewatch.train.builder.TrainOptions` (default: the shipped defaults);
    ``allow_low_fidelity`` is forced on so that one file's INT8 gate failure is reported, not fatal.
    """
    from edgewatch.bundle import load_bundle
    from edgewatch.data.read import read_recordings
    from edgewatch.runtime import open_backend
    from edgewatch.train.builder import TrainOptions, build_bundle

    if not paths:
        raise DataError("no labelled files given")
    if head < 1:
        raise DataError("--per-file-train must be a positive number of rows")
    options = replace(options or TrainOptions(), allow_low_fidelity=True)
    files: list[FileOutcome] = []
    card = ModelCard()
    names: tuple[str, ...] = ()
    used_runtime = runtime or ""
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
            say(f"{Path(path).name}: training {options.model} on its first {head} rows")
            report = build_bundle(recording, options, out_dir)
            bundle = load_bundle(out_dir)
            manifest = bundle.manifest
            rt = runtime or manifest.default_runtime
            used_runtime = rt
            backend = open_backend(bundle, rt)
            outcome = _outcome(path, labelled.slice(head), backend, manifest, head, config, tolerance_s)
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
            "tolerance_s": tolerance_s,
        },
    )


def _outcome(
    path: str | Path,
    recording: Recording,
    backend: Any,
    manifest: Manifest,
    first_row: int,
    config: PipelineConfig | None,
    tolerance_s: float,
) -> FileOutcome:
    """The rows of ``path`` from ``first_row`` on, replayed through ``backend`` and evaluated."""
    replayed, result = evaluate_recording(
        recording, backend, manifest, config=config, tolerance_s=tolerance_s, source=Path(path).name
    )
    return FileOutcome(
        path=str(path),
        recording=recording,
        replay=replayed,
        result=result,
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


# ---------------------------------------------------------------------------------------------------
# output


def _pct(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _num(x: float, fmt: str = ".3f") -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, fmt)


def _dur(seconds: float) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def format_table(run: EvaluationRun) -> str:
    """A plain-text summary: one line per file, the pooled line, and the per-fault-type table."""
    header = (
        f"{'file':24s} {'rows':>7s} {'prec':>6s} {'recall':>6s} {'F1':>6s} {'FAR':>6s} {'MAR':>6s} "
        f"{'events':>7s} {'ev.rec':>6s} {'delay':>6s} {'FA/day':>7s} {'ROC':>6s} {'PR':>6s}"
    )
    if run.protocol == "per-file-train":
        header += "  INT8 gate"
    lines = [header, "-" * len(header)]

    def row(name: str, r: EvaluationResult, extra: str = "") -> str:
        return (
            f"{name[:24]:24s} {r.n_rows:7d} {_pct(r.precision):>6s} {_pct(r.recall):>6s} {_num(r.f1):>6s} "
            f"{_pct(r.false_alarm_rate):>6s} {_pct(r.missed_alarm_rate):>6s} "
            f"{f'{r.n_detected}/{r.n_events}':>7s} {_pct(r.event_recall):>6s} {_dur(r.median_delay_s):>6s} "
            f"{_num(r.false_alarms_per_day, '.2f'):>7s} {_num(r.roc_auc):>6s} {_num(r.pr_auc):>6s}{extra}"
        )

    for f in run.files:
        extra = ""
        if f.fidelity_passed is not None:
            extra = "  passed" if f.fidelity_passed else "  FAILED (" + "; ".join(f.fidelity_failures)[:60] + ")"
        lines.append(row(f.name, f.result, extra))
    if len(run.files) > 1:
        lines.append("-" * len(header))
        lines.append(row(f"pooled ({len(run.files)} files)", run.pooled))
    per_type = run.pooled.per_fault_type
    if per_type and not (len(per_type) == 1 and "unspecified" in per_type):
        lines.append("")
        lines.append(f"{'fault type':20s} {'events':>6s} {'caught':>6s} {'recall':>7s} {'median delay':>12s}")
        for name, s in per_type.items():
            lines.append(f"{name:20s} {s.events:6d} {s.detected:6d} {_pct(s.recall):>7s} {_dur(s.median_delay_s):>12s}")
    lines.append("")
    lines.append(
        "prec/recall/F1/FAR/MAR are point-wise (per row, FAR = FP/(FP+TN), MAR = FN/(FN+TP)); "
        "ev.rec = labelled fault events with a flagged row of an alert or sensor fault raised during an event "
        "(an alert raised before the fault is a false alarm); delay = median from fault start to first flag; "
        "FA/day = false alarm events per day of normal time; ROC/PR = AUCs of the raw score."
    )
    return "\n".join(lines)


def render_run_report(run: EvaluationRun, title: str | None = None) -> str:
    """The self-contained HTML report of an evaluation run."""
    from edgewatch.evaluate.report import ReportSeries, render_report

    series = [
        ReportSeries(
            name=f.name if not f.first_row else f"{f.name} (rows {f.first_row + 1}..)",
            timestamps=f.recording.timestamps,
            scores=f.replay.score,
            thresholds=f.replay.threshold,
            alert_active=f.replay.flagged,
            labels=f.recording.labels,
            fault_types=None if f.recording.faults is None else f.recording.faults.tolist(),
            feature_errors=np.where(
                np.asarray([s == "scored" for s in f.replay.status])[:, None], f.replay.feature_errors, np.nan
            ),
            sustained=f.replay.sustained,
        )
        for f in run.files
    ]
    card = dict(run.model_card.full)
    card["evaluation"] = {
        "protocol": run.protocol,
        "runtime": run.runtime,
        **{k: v for k, v in run.options.items()},
        "device_config": run.config.to_json(),
    }
    if run.protocol == "per-file-train":
        card["per_file_fidelity_gate"] = {
            f.name: ("passed" if f.fidelity_passed else "FAILED: " + "; ".join(f.fidelity_failures)) for f in run.files
        }
    return render_report(
        title=title or f"edgewatch evaluation — {run.model_card.model_id or run.protocol}",
        series=series,
        result=run.pooled,
        model_card=replace(run.model_card, full=card),
        feature_names=run.feature_names,
    )
