"""Inference runtimes behind one interface (edge side: numpy plus one vendor runtime, imported lazily).

``open_backend(bundle, runtime="litert")`` loads the bundle's model for that runtime once and returns a
:class:`~edgewatch.runtime.backend.Backend` bound to its :class:`~edgewatch.bundle.Artifact`;
``backend.score_batch(x)`` takes scaled inputs of shape ``(n, window, n_features)`` and returns scores
(**higher = more anomalous**) and per-feature errors. Before returning it scores the bundle's probe
(:mod:`edgewatch.runtime.probe`) and refuses a model whose scores on this machine differ from those the
bundle was verified with.
"""

from __future__ import annotations

from pathlib import Path

from edgewatch.bundle import RUNTIMES, Bundle
from edgewatch.errors import RuntimeBackendError
from edgewatch.runtime.backend import Backend
from edgewatch.runtime.base import Model, ScoreBatch

__all__ = ["RUNTIMES", "Backend", "ScoreBatch", "load_model", "open_backend"]


def open_backend(
    bundle: Bundle, runtime: str = "litert", *, artifact: str | None = None, threads: int = 1, check_probe: bool = True
) -> Backend:
    """Load the model of ``bundle`` for ``runtime`` ("litert" or "onnx"); ``artifact`` overrides the
    manifest's default artifact for that runtime (e.g. "litert-fp32"). With ``check_probe`` (the default)
    raise :class:`RuntimeBackendError` when the model does not reproduce the bundle's probe scores here."""
    if runtime not in RUNTIMES:
        raise RuntimeBackendError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    manifest = bundle.manifest
    chosen = manifest.artifact_for(runtime, artifact)
    path = bundle.file(chosen.file)
    model = load_model(path, runtime, window=manifest.window, n_features=manifest.n_features, threads=threads)
    backend = Backend(chosen, model, manifest.scoring)
    if check_probe:
        from edgewatch.runtime.probe import check_backend

        check_backend(bundle, backend)
    return backend


def load_model(path: Path, runtime: str, *, window: int, n_features: int, threads: int = 1) -> Model:
    """The model file ``path`` loaded on ``runtime`` (the training side scores its models with this too)."""
    if threads < 1:
        raise RuntimeBackendError("threads must be >= 1")
    if runtime == "litert":
        from edgewatch.runtime.litert import LiteRTModel

        return LiteRTModel(path, window=window, n_features=n_features, threads=threads)
    from edgewatch.runtime.onnx import OnnxModel

    return OnnxModel(path, window=window, n_features=n_features, threads=threads)
