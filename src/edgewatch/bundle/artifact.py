"""One model file of a bundle and everything known about it: its runtime, its threshold, the scores it gave the
probe on the build machine, its I/O quantization and, for an INT8 model, how faithful it is to FP32."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from edgewatch.bundle.scoring import Threshold
from edgewatch.errors import BundleError

Runtime = Literal["litert", "onnx"]
RUNTIMES: tuple[Runtime, ...] = ("litert", "onnx")


@dataclass(frozen=True)
class TensorQuantization:
    """A model input or output tensor: its dtype and (for an integer one) ``real = scale * (q - zero_point)``."""

    dtype: str
    scale: float
    zero_point: int


@dataclass(frozen=True)
class IOQuantization:
    """What a TFLite model takes and gives (recorded at build time; the runtime reads the model's own)."""

    input: TensorQuantization
    output: TensorQuantization


@dataclass(frozen=True)
class FidelityFigures:
    """An INT8 model against its FP32 reference on one set of rows, each at its own threshold: Spearman
    rank correlation and alert agreement of the scores, the ratio of the thresholds, and (held-out rows) the
    rank correlation of the plain mean squared reconstruction error. See :mod:`edgewatch.export.fidelity`."""

    rank_correlation: float
    alert_agreement: float
    threshold_ratio: float
    rows: int
    reconstruction_rank_correlation: float | None = None


@dataclass(frozen=True)
class Fidelity:
    """An INT8 artifact's figures against ``reference`` (the FP32 artifact of the same runtime) on the held-out
    rows and on those rows plus the stress set; ``failures``: each bar of the fidelity gate it missed, with the
    measured value (empty: it passed, the model is faithful)."""

    reference: str
    held_out: FidelityFigures
    held_out_plus_stress: FidelityFigures
    failures: tuple[str, ...] = ()

    @property
    def faithful(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class Artifact:
    """A model file of the bundle (``file``, listed in the manifest's ``files``) for one ``runtime``.

    ``output`` is what the model gives: a ``reconstruction`` of its input (autoencoders, scored by the
    manifest's ``scoring``) or the ``score`` itself (isolation forest). ``probe_scores`` are the scores the
    build machine's runtime gave the bundle's probe inputs (:mod:`edgewatch.runtime.probe`)."""

    name: str
    file: str
    runtime: Runtime
    precision: Literal["int8", "fp32"]
    output: Literal["reconstruction", "score"]
    threshold: Threshold
    probe_scores: tuple[float, ...]
    io: IOQuantization | None = None
    fidelity: Fidelity | None = None

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in self.probe_scores):
            raise BundleError("must be finite numbers", field="probe_scores")
