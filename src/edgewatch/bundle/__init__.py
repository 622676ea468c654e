"""Model bundles: the only contract between training and the device.

A bundle is a directory holding ``manifest.json`` and the model files it lists with their sha256. The
manifest is a tree of frozen records (:class:`Manifest`, one :class:`Artifact` per model file, with its
:class:`Threshold` and probe scores); the training side constructs it, the edge reads it, and nothing else
digs into its JSON. This package is edge-side: it imports only the standard library and numpy.
"""

from edgewatch.bundle.artifact import RUNTIMES, Artifact, Fidelity, FidelityFigures, IOQuantization, TensorQuantization
from edgewatch.bundle.features import FeatureStats, Scaler
from edgewatch.bundle.manifest import (
    MODEL_KINDS,
    SCHEMA_VERSION,
    FidelityBars,
    FidelityGate,
    FileEntry,
    FitSummary,
    Manifest,
    ModelParams,
    ModelSpec,
    Probe,
    RunIndicator,
    TrainingInfo,
)
from edgewatch.bundle.scoring import SCORE_KINDS, Scoring, SustainedChannel, Threshold, ThresholdRule
from edgewatch.bundle.store import Bundle, file_entries, load_bundle, write_bundle

__all__ = [
    "MODEL_KINDS",
    "RUNTIMES",
    "SCHEMA_VERSION",
    "SCORE_KINDS",
    "Artifact",
    "Bundle",
    "FeatureStats",
    "Fidelity",
    "FidelityBars",
    "FidelityFigures",
    "FidelityGate",
    "FileEntry",
    "FitSummary",
    "IOQuantization",
    "Manifest",
    "ModelParams",
    "ModelSpec",
    "Probe",
    "RunIndicator",
    "Scaler",
    "Scoring",
    "SustainedChannel",
    "TensorQuantization",
    "Threshold",
    "ThresholdRule",
    "TrainingInfo",
    "file_entries",
    "load_bundle",
    "write_bundle",
]
