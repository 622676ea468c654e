"""Inference runtimes behind one interface (edge side: numpy plus one vendor runtime, imported lazily).

``open_backend(bundle, runtime="litert")`` loads the bundle's model for that runtime once and returns a
:class:`~edgewatch.runtime.base.Backend`; ``backend.score_batch(x)`` takes scaled inputs of shape
``(n, window, n_features)`` and returns scores (**higher = more anomalous**) and per-feature errors.
Before returning it scores the bundle's probe (:mod:`edgewatch.runtime.probe`) and refuses a model whose
scores on this machine differ from those the bundle was verified with.
"""

from __future__ import annotations

from edgewatch.bundle import Bundle
from edgewatch.errors import RuntimeBackendError
from edgewatch.runtime.base import Backend, ScoreBatch
from edgewatch.runtime.scoring import Scoring

RUNTIMES = ("litert", "onnx")

__all__ = ["RUNTIMES", "Backend", "ScoreBatch", "open_backend"]


def open_backend(
    bundle: Bundle, runtime: str = "litert", *, artifact: str | None = None, threads: int = 1, check_probe: bool = True
) -> Backend:
    """Load the model of ``bundle`` for ``runtime`` ("litert" or "onnx"); ``artifact`` overrides the
    manifest's default artifact for that runtime (e.g. "litert-fp32"). With ``check_probe`` (the default)
    raise :class:`RuntimeBackendError` when the model does not reproduce the bundle's probe scores here."""
    backend = _load(bundle, runtime, artifact, threads)
    if check_probe:
        from edgewatch.runtime.probe import check_backend

        check_backend(bundle, backend)
    return backend


def _load(bundle: Bundle, runtime: str, artifact: str | None, threads: int) -> Backend:
    if runtime not in RUNTIMES:
        raise RuntimeBackendError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    if threads < 1:
        raise RuntimeBackendError("threads must be >= 1")
    manifest = bundle.manifest
    name, entry = manifest.artifact_for(runtime, artifact)
    path = bundle.file(entry["file"])
    scoring = Scoring.from_manifest(manifest.score)
    if runtime == "litert":
        from edgewatch.runtime.litert import LiteRTBackend

        return LiteRTBackend(
            path,
            artifact=name,
            window=manifest.window,
            n_features=manifest.n_features,
            threads=threads,
            scoring=scoring,
        )
    from edgewatch.runtime.onnx import OnnxBackend

    return OnnxBackend(
        path,
        artifact=name,
        window=manifest.window,
        n_features=manifest.n_features,
        output=str(entry.get("output", "reconstruction")),
        threads=threads,
        scoring=scoring,  # unused by a model whose output is the score itself (isolation forest)
    )
