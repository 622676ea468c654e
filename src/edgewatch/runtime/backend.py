"""A backend: a model file loaded on this machine's runtime, bound to its manifest artifact (see
:mod:`edgewatch.runtime.base` for the contract)."""

from __future__ import annotations

import numpy as np

from edgewatch.bundle import Artifact, Scoring
from edgewatch.runtime.base import Model, ScoreBatch
from edgewatch.runtime.scoring import score_model


class Backend:
    """A loaded model bound to its :class:`~edgewatch.bundle.Artifact` and the bundle's scoring."""

    __slots__ = ("artifact", "model", "scoring")

    def __init__(self, artifact: Artifact, model: Model, scoring: Scoring) -> None:
        self.artifact = artifact
        self.model = model
        self.scoring = scoring

    @property
    def name(self) -> str:
        """The runtime: ``litert`` or ``onnx``."""
        return self.artifact.runtime

    def score_batch(self, x: np.ndarray) -> ScoreBatch:
        """Score scaled inputs of shape ``(n, window, n_features)``."""
        return score_model(self.model, self.scoring, self.artifact.output, x)
