"""The bundle manifest: a typed view of ``manifest.json``.

Schema version 1 (the fields below; docs/ARCHITECTURE.md places the bundle in the system)::

    {
      "schema_version": 1,
      "edgewatch_version": "0.1.0",
      "model_id": "dense-ae-3f2a9c1b",          # kind + first 8 hex of the primary artifact's sha256
      "created_at": "2026-11-30T06:00:00Z",
      "model": {"kind": "dense-ae", "window": 1, "params": {...}},
      "features": ["a", "b", ...],              # the order every runtime expects
      "scaler": {"center": [...], "scale": [...]},
      "feature_stats": [{"name", "min", "max", "mean", "std", "q001", "q01", "q50", "q99", "q999"}],
      "score": {"definition": "...", "aggregate": "max", "feature_weights": [...],
                "sustained_tau_s": 900.0, "sustained_fast_tau_s": 120.0},  # optional: sustained channel
      "artifacts": {"litert-int8": {"file": ..., "threshold": 0.69, "sustained_threshold": 0.21,
                                    "probe_scores": [...], ...}, ...},
      "default_artifact": {"litert": "litert-int8", "onnx": "onnx-int8"},
      "threshold": {"value": 1.23, "rule": "quantile", "params": {...}, "calibrated_on": "litert-int8",
                    "sustained": 0.21},                   # optional, with score.sustained_tau_s
      "fidelity": {...} | null,
      "training": {...},
      "files": {"model.int8.tflite": {"sha256": "...", "bytes": 12345}, ...},
      "probe": {"file": "probe.npy", "rows": 64, "tolerance": 0.1, "rule": "..."},  # optional (older bundles)
      "run_state": {"feature": "speed_rpm", "below": 370.0, "stops": 10, ...}    # optional: run indicator found
    }

``probe`` (edgewatch.runtime.probe): model inputs stored in the bundle and, per artifact, the scores the
build machine's runtime gave them; loading a model scores them again and refuses it if they moved.

Scores: **higher = more anomalous**. For autoencoders the per-feature error is the squared
reconstruction error in scaled units, times ``score.feature_weights`` when present (1 / the feature's
mean error on normal held-out rows, so every sensor's normal error is about 1); the score is the
maximum (``score.aggregate == "max"``, the default since 0.1) or the mean (``"mean"``; also what a
manifest without ``aggregate`` means) of those per-feature errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgewatch.errors import BundleError

SCHEMA_VERSION = 1
MODEL_KINDS = ("dense-ae", "conv-ae", "iforest")
SCORE_AGGREGATES = ("mean", "max")


@dataclass(frozen=True)
class Scaler:
    """Standardisation fitted on training rows: ``scaled = (raw - center) / scale``."""

    center: np.ndarray
    scale: np.ndarray

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Scale raw readings (shape ``(..., n_features)``) to float32 model units."""
        return ((raw - self.center) / self.scale).astype(np.float32, copy=False)

    def to_json(self) -> dict[str, Any]:
        return {"center": [float(v) for v in self.center], "scale": [float(v) for v in self.scale]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scaler:
        center = np.asarray(data["center"], dtype=np.float64)
        scale = np.asarray(data["scale"], dtype=np.float64)
        if center.shape != scale.shape or center.ndim != 1:
            raise BundleError("manifest scaler: center and scale must be lists of equal length")
        if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise BundleError("manifest scaler: every scale must be a positive finite number")
        return cls(center=center, scale=scale)


@dataclass(frozen=True)
class FeatureStats:
    """Per-feature statistics of the training rows, in raw units (for range checks on the device)."""

    name: str
    min: float
    max: float
    mean: float
    std: float
    q001: float
    q01: float
    q50: float
    q99: float
    q999: float
    longest_constant_run: int = 1  # longest run of identical consecutive values seen in training

    @classmethod
    def from_values(cls, name: str, values: np.ndarray) -> FeatureStats:
        q = np.quantile(values, [0.001, 0.01, 0.5, 0.99, 0.999])
        changes = np.flatnonzero(np.diff(values) != 0)
        edges = np.concatenate(([-1], changes, [len(values) - 1]))
        longest = int(np.max(np.diff(edges))) if len(values) else 0
        return cls(
            name=name,
            min=float(np.min(values)),
            max=float(np.max(values)),
            mean=float(np.mean(values)),
            std=float(np.std(values)),
            q001=float(q[0]),
            q01=float(q[1]),
            q50=float(q[2]),
            q99=float(q[3]),
            q999=float(q[4]),
            longest_constant_run=longest,
        )

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureStats:
        try:
            values: dict[str, Any] = {}
            for key in cls.__dataclass_fields__:
                if key == "name":
                    values[key] = str(data[key])
                elif key == "longest_constant_run":
                    values[key] = int(data.get(key, 1))
                else:
                    values[key] = float(data[key])
            return cls(**values)
        except KeyError as exc:
            raise BundleError(f"manifest feature_stats: missing key {exc.args[0]!r}") from None


@dataclass(frozen=True)
class Threshold:
    """A calibrated decision threshold: ``score > value`` is anomalous.

    ``rule`` names how ``value`` was derived from validation scores and ``params`` holds the rule's
    parameters, so anyone can recompute it. ``calibrated_on`` names the artifact whose scores were used.
    ``sustained`` is the threshold of the sustained-deviation level (:mod:`edgewatch.core.sustained`),
    derived by the same rule from the same rows' levels; None: the bundle has no such channel.
    """

    value: float
    rule: str
    params: dict[str, Any] = field(default_factory=dict)
    calibrated_on: str = ""
    sustained: float | None = None

    def to_json(self) -> dict[str, Any]:
        out = {
            "value": float(self.value),
            "rule": self.rule,
            "params": self.params,
            "calibrated_on": self.calibrated_on,
        }
        if self.sustained is not None:
            out["sustained"] = float(self.sustained)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Threshold:
        value = float(data["value"])
        if not np.isfinite(value):
            raise BundleError("manifest threshold.value must be finite")
        return cls(
            value=value,
            rule=str(data["rule"]),
            params=dict(data.get("params", {})),
            calibrated_on=str(data.get("calibrated_on", "")),
            sustained=_sustained_threshold(data.get("sustained"), "threshold.sustained"),
        )


@dataclass(frozen=True)
class Manifest:
    """Everything the device needs to know about a model, parsed and validated."""

    schema_version: int
    edgewatch_version: str
    model_id: str
    created_at: str
    model_kind: str
    window: int
    model_params: dict[str, Any]
    features: tuple[str, ...]
    scaler: Scaler
    feature_stats: tuple[FeatureStats, ...]
    score: dict[str, Any]
    artifacts: dict[str, dict[str, Any]]
    default_artifact: dict[str, str]
    threshold: Threshold
    fidelity: dict[str, Any] | None
    training: dict[str, Any]
    files: dict[str, dict[str, Any]]
    probe: dict[str, Any] | None = None  # edgewatch.runtime.probe; None: bundle built before the probe
    run_state: dict[str, Any] | None = None  # edgewatch.train.run_state; None: none found (or older bundle)

    @property
    def run_indicator(self) -> tuple[str, float] | None:
        """``(feature, below)``: the machine is stopped while that feature reads below the value."""
        if self.run_state is None:
            return None
        return str(self.run_state["feature"]), float(self.run_state["below"])

    @property
    def n_features(self) -> int:
        return len(self.features)

    def artifact_for(self, runtime: str, artifact: str | None = None) -> tuple[str, dict[str, Any]]:
        """Return ``(artifact_name, artifact_entry)`` to run on ``runtime`` ("litert" or "onnx")."""
        name = artifact or self.default_artifact.get(runtime)
        if name is None:
            available = ", ".join(sorted(self.default_artifact)) or "none"
            raise BundleError(
                f"this {self.model_kind} bundle has no model for runtime {runtime!r} (available: {available})"
            )
        if name not in self.artifacts:
            raise BundleError(f"bundle has no artifact {name!r} (has: {', '.join(sorted(self.artifacts))})")
        entry = self.artifacts[name]
        if entry.get("runtime") != runtime:
            raise BundleError(f"artifact {name!r} runs on {entry.get('runtime')!r}, not {runtime!r}")
        return name, entry

    def threshold_for(self, artifact: str) -> Threshold:
        """The threshold calibrated on ``artifact``'s own scores (each artifact has its own), falling
        back to the bundle's default threshold."""
        entry = self.artifacts.get(artifact, {})
        if "threshold" not in entry:
            return self.threshold
        params = dict(self.threshold.params)
        params.update(entry.get("threshold_params", {}))
        return Threshold(
            value=float(entry["threshold"]),
            rule=self.threshold.rule,
            params=params,
            calibrated_on=artifact,
            sustained=_sustained_threshold(
                entry.get("sustained_threshold"), f"artifacts.{artifact}.sustained_threshold"
            ),
        )

    @property
    def sustained_tau_s(self) -> float | None:
        """Time constant of the sustained-deviation channel (``score.sustained_tau_s``); None: no channel."""
        tau = self.score.get("sustained_tau_s")
        return None if tau is None else float(tau)

    @property
    def sustained_fast_tau_s(self) -> float | None:
        """Time constant of the channel's fast average (``score.sustained_fast_tau_s``); None: slow only."""
        tau = self.score.get("sustained_fast_tau_s")
        return None if tau is None else float(tau)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "edgewatch_version": self.edgewatch_version,
            "model_id": self.model_id,
            "created_at": self.created_at,
            "model": {"kind": self.model_kind, "window": self.window, "params": self.model_params},
            "features": list(self.features),
            "scaler": self.scaler.to_json(),
            "feature_stats": [s.to_json() for s in self.feature_stats],
            "score": self.score,
            "artifacts": self.artifacts,
            "default_artifact": self.default_artifact,
            "threshold": self.threshold.to_json(),
            "fidelity": self.fidelity,
            "training": self.training,
            "files": self.files,
            **({"probe": self.probe} if self.probe is not None else {}),
            **({"run_state": self.run_state} if self.run_state is not None else {}),
        }

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        """Parse and validate a manifest dictionary; raise :class:`BundleError` naming the bad field."""
        if not isinstance(data, dict):
            raise BundleError("manifest.json must hold a JSON object")
        version = data.get("schema_version")
        if not isinstance(version, int):
            raise BundleError("manifest.json: schema_version is missing or not an integer")
        if version > SCHEMA_VERSION:
            raise BundleError(
                f"manifest schema_version {version} is newer than this edgewatch supports "
                f"({SCHEMA_VERSION}); upgrade edgewatch on this device"
            )
        if version < 1:
            raise BundleError(f"manifest schema_version {version} is not valid")
        try:
            model = data["model"]
            kind = str(model["kind"])
            if kind not in MODEL_KINDS:
                raise BundleError(f"manifest model.kind {kind!r} is not one of {', '.join(MODEL_KINDS)}")
            features = tuple(str(f) for f in data["features"])
            if not features or len(set(features)) != len(features):
                raise BundleError("manifest features must be a non-empty list of unique names")
            scaler = Scaler.from_json(data["scaler"])
            if scaler.center.shape[0] != len(features):
                raise BundleError("manifest scaler length does not match the number of features")
            stats = tuple(FeatureStats.from_json(s) for s in data["feature_stats"])
            if [s.name for s in stats] != list(features):
                raise BundleError("manifest feature_stats must list the features in manifest order")
            window = int(model.get("window", 1))
            if window < 1:
                raise BundleError("manifest model.window must be >= 1")
            _check_score(data["score"], len(features))
            artifacts = {str(k): dict(v) for k, v in data["artifacts"].items()}
            files = {str(k): dict(v) for k, v in data["files"].items()}
            probe = _check_probe(data.get("probe"), artifacts, files)
            run_state = _check_run_state(data.get("run_state"), features)
            return cls(
                schema_version=version,
                edgewatch_version=str(data["edgewatch_version"]),
                model_id=str(data["model_id"]),
                created_at=str(data["created_at"]),
                model_kind=kind,
                window=window,
                model_params=dict(model.get("params", {})),
                features=features,
                scaler=scaler,
                feature_stats=stats,
                score=dict(data["score"]),
                artifacts=artifacts,
                default_artifact={str(k): str(v) for k, v in data["default_artifact"].items()},
                threshold=Threshold.from_json(data["threshold"]),
                fidelity=data.get("fidelity"),
                training=dict(data.get("training", {})),
                files=files,
                probe=probe,
                run_state=run_state,
            )
        except KeyError as exc:
            raise BundleError(f"manifest.json: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"manifest.json: malformed field ({exc})") from None


def _is_positive_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and bool(np.isfinite(value) and value > 0)


def _sustained_threshold(value: Any, field_name: str) -> float | None:
    if value is None:
        return None
    if not _is_positive_number(value):
        raise BundleError(f"manifest {field_name} must be a positive finite number, got {value!r}")
    return float(value)


def _check_run_state(run_state: Any, features: tuple[str, ...]) -> dict[str, Any] | None:
    """Validate the optional ``run_state`` section (the machine's run indicator), naming the bad field."""
    if run_state is None:
        return None
    if not isinstance(run_state, dict):
        raise BundleError("manifest run_state must be an object")
    if run_state.get("feature") not in features:
        raise BundleError(f"manifest run_state.feature {run_state.get('feature')!r} is not one of the features")
    below = run_state.get("below")
    if isinstance(below, bool) or not isinstance(below, int | float) or not np.isfinite(below):
        raise BundleError(f"manifest run_state.below must be a finite number, got {below!r}")
    return dict(run_state)


def _check_probe(
    probe: Any, artifacts: dict[str, dict[str, Any]], files: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    """Validate the ``probe`` section and every artifact's ``probe_scores``, naming the bad field."""
    if probe is None:
        return None
    if not isinstance(probe, dict):
        raise BundleError("manifest probe must be an object")
    if probe.get("file") not in files:
        raise BundleError(f"manifest probe.file {probe.get('file')!r} is not listed in files")
    rows = probe.get("rows")
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise BundleError(f"manifest probe.rows must be a positive integer, got {rows!r}")
    if not _is_positive_number(probe.get("tolerance")):
        raise BundleError(f"manifest probe.tolerance must be a positive number, got {probe.get('tolerance')!r}")
    for name, entry in artifacts.items():
        scores = entry.get("probe_scores")
        if (
            not isinstance(scores, list)
            or len(scores) != rows
            or not all(not isinstance(v, bool) and isinstance(v, int | float) and np.isfinite(v) for v in scores)
        ):
            raise BundleError(f"manifest artifacts.{name}.probe_scores must be {rows} finite numbers")
    return dict(probe)


def _check_score(score: Any, n_features: int) -> None:
    """Reject a ``score`` section the runtimes could not apply, naming the field."""
    if not isinstance(score, dict):
        raise BundleError("manifest score must be an object")
    for name in ("sustained_tau_s", "sustained_fast_tau_s"):
        tau = score.get(name)
        if tau is not None and not _is_positive_number(tau):
            raise BundleError(f"manifest score.{name} must be a positive number of seconds, got {tau!r}")
    aggregate = score.get("aggregate", "mean")
    if aggregate not in SCORE_AGGREGATES:
        raise BundleError(f"manifest score.aggregate {aggregate!r} is not one of {', '.join(SCORE_AGGREGATES)}")
    weights = score.get("feature_weights")
    if weights is not None:
        values = np.asarray(weights, dtype=np.float64)
        if values.shape != (n_features,) or not (np.isfinite(values).all() and (values > 0).all()):
            raise BundleError(
                f"manifest score.feature_weights must be {n_features} positive finite numbers, one per feature"
            )
