"""The bundle manifest: ``manifest.json`` as frozen records, the only contract between training and the device.

``train`` constructs a :class:`Manifest` (:mod:`edgewatch.train.builder`), :func:`~edgewatch.bundle.store.
write_bundle` writes it as JSON (sorted keys, so identical inputs give identical bytes) and
:func:`~edgewatch.bundle.store.load_bundle` reads it back with the strict loader (:mod:`edgewatch.records`),
whose errors name the dotted field. Schema version 3 (3 added the fidelity gate's ``unfaithful`` artifacts and
``on_failure``); a bundle of another version is refused, naming both.

Scores: **higher = more anomalous** everywhere; ``score > threshold`` is an anomalous reading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from edgewatch.bundle.artifact import RUNTIMES, Artifact
from edgewatch.bundle.features import FeatureStats, Scaler
from edgewatch.bundle.scoring import Scoring, ThresholdRule
from edgewatch.errors import BundleError
from edgewatch.records import check, dump, load

SCHEMA_VERSION = 3
ModelKind = Literal["dense-ae", "conv-ae", "iforest"]
MODEL_KINDS: tuple[ModelKind, ...] = ("dense-ae", "conv-ae", "iforest")


@dataclass(frozen=True)
class ModelParams:
    """The hyper-parameters the model was built with (those of its kind; the others are None)."""

    layers: tuple[int, ...] | None = None  # dense-ae hidden sizes
    filters: tuple[int, ...] | None = None  # conv-ae
    kernel: int | None = None  # conv-ae
    noise: float | None = None  # autoencoders: denoising input noise in training, scaled units
    hidden_noise: float | None = None  # dense-ae: activation noise in training
    n_estimators: int | None = None  # iforest
    max_samples: int | None = None  # iforest

    def given(self) -> dict[str, Any]:
        """The parameters of the model's kind, as JSON."""
        return {k: v for k, v in dump(self).items() if v is not None}


@dataclass(frozen=True)
class ModelSpec:
    """The model: its kind, the readings it sees at once (``window``: 1, or W for a conv-ae) and its
    hyper-parameters."""

    kind: ModelKind
    window: int = field(metadata=check(lambda v: v >= 1, "an integer >= 1"))
    params: ModelParams = field(default_factory=ModelParams)


@dataclass(frozen=True)
class FileEntry:
    """A file of the bundle: its sha256 and size, verified on load."""

    sha256: str
    bytes: int


@dataclass(frozen=True)
class Probe:
    """The probe (:mod:`edgewatch.runtime.probe`): ``rows`` scaled model inputs in ``file``; a loaded model must
    give each within ``tolerance`` x max(|expected|, its threshold) of its artifact's ``probe_scores``."""

    file: str
    rows: int = field(metadata=check(lambda v: v >= 1, "a positive integer"))
    tolerance: float = field(metadata=check(lambda v: math.isfinite(v) and v > 0, "a positive number"))
    rule: str = ""


@dataclass(frozen=True)
class RunIndicator:
    """The feature that says the machine is stopped (``value < below``), found in the training rows by
    :mod:`edgewatch.train.run_state`, with the evidence: how many stops, the share of rows stopped, and
    the features that go down with it. ``found`` says where it came from."""

    feature: str
    below: float = field(metadata=check(math.isfinite, "a finite number"))
    stops: int
    stopped_fraction: float
    companions: tuple[str, ...]
    found: str = "in the training rows by edgewatch.train.run_state"


@dataclass(frozen=True)
class FitSummary:
    """How the autoencoder's training went: epochs run, the best (restored) epoch and its losses."""

    epochs_run: int
    best_epoch: int
    train_loss: float
    validation_loss: float
    batch_size: int


@dataclass(frozen=True)
class TrainingInfo:
    """What the model was trained on and how: rows, held-out rows, labelled rows left out, the INT8
    calibration set, the seed, the source files; ``fit`` and ``parameters`` for an autoencoder,
    ``iforest_offset`` (scikit-learn's ``offset_``) for an isolation forest."""

    rows: int
    validation_rows: int
    excluded_labelled_rows: int
    validation_fraction: float
    calibration_rows: int
    calibration_range_rows: bool
    seed: int
    calibration_fault_level: float = 0.0  # fault-sized calibration rows: one feature at a time at +-this (0: none)
    sources: tuple[str, ...] = ()
    fit: FitSummary | None = None
    parameters: int | None = None
    iforest_offset: float | None = None


@dataclass(frozen=True)
class FidelityBars:
    """The INT8 fidelity gate's bars (:mod:`edgewatch.export.fidelity`)."""

    min_rank_correlation: float = 0.99
    min_alert_agreement: float = 0.995
    max_threshold_ratio: float = 1.2


OnFailure = Literal["fallback-fp32", "keep-int8"]


@dataclass(frozen=True)
class FidelityGate:
    """The gate's verdict at build time: its ``bars``, which rows were held out, whether every INT8 model
    passed, why not (``failures``, each naming the artifact, the bar and the measured value), the INT8
    artifacts that failed (``unfaithful``) and what the build did about them (``on_failure``):

    * ``fallback-fp32`` (the default): no runtime's default artifact is an unfaithful model; where a runtime's
      INT8 model failed, its FP32 model is the default (``Manifest.default_artifact``);
    * ``keep-int8`` (``train --allow-low-fidelity``): the unfaithful INT8 models were kept as defaults,
      knowingly; ``info`` and the agent say so.

    A bundle whose default is an unfaithful model without ``keep-int8`` is refused on load: a device never
    runs an unfaithful INT8 model silently. Figures are per artifact (``Artifact.fidelity``)."""

    bars: FidelityBars
    held_out: str
    passed: bool
    failures: tuple[str, ...] = ()
    unfaithful: tuple[str, ...] = ()
    on_failure: OnFailure = "fallback-fp32"


@dataclass(frozen=True)
class Manifest:
    """Everything the device needs to know about a model, validated. ``features`` is the order every model
    input follows; ``default_artifact`` maps a runtime to the artifact it runs unless told otherwise."""

    schema_version: int
    edgewatch_version: str
    model_id: str
    created_at: str
    model: ModelSpec
    features: tuple[str, ...]
    scaler: Scaler
    feature_stats: tuple[FeatureStats, ...]
    scoring: Scoring
    threshold_rule: ThresholdRule
    artifacts: tuple[Artifact, ...]
    default_artifact: dict[str, str]
    probe: Probe
    training: TrainingInfo
    files: dict[str, FileEntry]
    fidelity: FidelityGate | None = None
    run_indicator: RunIndicator | None = None

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise BundleError(f"must be {SCHEMA_VERSION}, got {self.schema_version}", field="schema_version")
        _check_features(self)
        _check_artifacts(self)
        if self.probe.file not in self.files:
            raise BundleError(f"{self.probe.file!r} is not listed in files", field="probe.file")
        if self.run_indicator is not None and self.run_indicator.feature not in self.features:
            raise BundleError(f"{self.run_indicator.feature!r} is not one of the features", field="run_indicator")

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def window(self) -> int:
        return self.model.window

    @property
    def model_kind(self) -> str:
        return self.model.kind

    def artifact(self, name: str) -> Artifact:
        """The artifact called ``name``; :class:`BundleError` listing the others if there is none."""
        found = next((a for a in self.artifacts if a.name == name), None)
        if found is None:
            raise BundleError(f"bundle has no artifact {name!r} (has: {', '.join(a.name for a in self.artifacts)})")
        return found

    def artifact_for(self, runtime: str, name: str | None = None) -> Artifact:
        """The artifact to run on ``runtime`` ("litert" or "onnx"): ``name``, or the runtime's default."""
        chosen = name or self.default_artifact.get(runtime)
        if chosen is None:
            available = ", ".join(sorted(self.default_artifact)) or "none"
            raise BundleError(
                f"this {self.model_kind} bundle has no model for runtime {runtime!r} (available: {available})"
            )
        artifact = self.artifact(chosen)
        if artifact.runtime != runtime:
            raise BundleError(f"artifact {chosen!r} runs on {artifact.runtime!r}, not {runtime!r}")
        return artifact

    @property
    def default_runtime(self) -> str:
        """The runtime a device uses unless told otherwise: LiteRT where the bundle has a model for it."""
        return "litert" if "litert" in self.default_artifact else "onnx"

    @property
    def primary(self) -> Artifact:
        """The artifact a device runs by default: ``model_id`` names its file."""
        return self.artifact_for(self.default_runtime)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = dump(self)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        """Parse and validate manifest data; :class:`BundleError` naming the field (or the schema versions)."""
        version = data.get("schema_version") if isinstance(data, dict) else None
        if isinstance(version, int) and not isinstance(version, bool) and version != SCHEMA_VERSION:
            if version > SCHEMA_VERSION:
                raise BundleError(
                    f"manifest schema_version {version} is newer than this edgewatch supports "
                    f"({SCHEMA_VERSION}); upgrade edgewatch on this device"
                )
            raise BundleError(
                f"manifest schema_version {version} is older than this edgewatch reads ({SCHEMA_VERSION}); "
                "rebuild the bundle with edgewatch train"
            )
        return load(cls, data, error=BundleError)


def _check_features(m: Manifest) -> None:
    if not m.features or len(set(m.features)) != len(m.features):
        raise BundleError("must be a non-empty list of unique names", field="features")
    if len(m.scaler.center) != m.n_features:
        raise BundleError(f"must have {m.n_features} values, one per feature", field="scaler.center")
    if tuple(s.name for s in m.feature_stats) != m.features:
        raise BundleError("must list the features in manifest order", field="feature_stats")
    weights = m.scoring.feature_weights
    if weights is not None and len(weights) != m.n_features:
        raise BundleError(f"must have {m.n_features} values, one per feature", field="scoring.feature_weights")


def _check_artifacts(m: Manifest) -> None:
    names = [a.name for a in m.artifacts]
    if not names or len(set(names)) != len(names):
        raise BundleError("must be a non-empty list of artifacts with unique names", field="artifacts")
    for a in m.artifacts:
        where = f"artifacts.{a.name}"
        if a.file not in m.files:
            raise BundleError(f"{a.file!r} is not listed in files", field=f"{where}.file")
        if len(a.probe_scores) != m.probe.rows:
            raise BundleError(f"must be {m.probe.rows} numbers (probe.rows)", field=f"{where}.probe_scores")
        if (a.threshold.sustained is None) != (m.scoring.sustained is None):
            raise BundleError("must be given exactly when scoring.sustained is", field=f"{where}.threshold.sustained")
    for runtime, name in m.default_artifact.items():
        if runtime not in RUNTIMES or name not in names or m.artifact(name).runtime != runtime:
            raise BundleError(f"{runtime!r}: {name!r} is not an artifact for that runtime", field="default_artifact")
    if not m.default_artifact:
        raise BundleError("must name an artifact for at least one runtime", field="default_artifact")
    _check_fidelity(m, names)


def _check_fidelity(m: Manifest, names: list[str]) -> None:
    """The gate's ``unfaithful`` artifacts are INT8 artifacts of the bundle, and none is a default unless the
    build said so (``on_failure = keep-int8``)."""
    gate = m.fidelity
    unfaithful = gate.unfaithful if gate is not None else ()
    for name in unfaithful:
        if name not in names or m.artifact(name).precision != "int8":
            raise BundleError(f"{name!r} is not an INT8 artifact of this bundle", field="fidelity.unfaithful")
    if gate is not None and gate.passed == bool(unfaithful):
        raise BundleError(
            f"passed is {str(gate.passed).lower()} but unfaithful lists {list(unfaithful)}", field="fidelity.passed"
        )
    for runtime, name in m.default_artifact.items():
        if name in unfaithful and gate is not None and gate.on_failure != "keep-int8":
            raise BundleError(
                f"{runtime!r}: {name!r} failed the fidelity gate and may be a default only with "
                "fidelity.on_failure = 'keep-int8'",
                field="default_artifact",
            )
