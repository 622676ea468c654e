"""edgewatch from Python: embed the detector in a gateway, or use it in a notebook.

Everything here is a thin face over the pieces the command line and the agent run; nothing is scored or
judged a second way. **Higher scores are more anomalous** everywhere.

* :func:`read` -- a CSV or Parquet recording, as ``edgewatch train`` reads it (:class:`Recording`).
* :func:`train` -- learn normal operation and write a verified bundle, as ``edgewatch train`` does (needs the
  ``train`` extra); returns the :class:`~edgewatch.bundle.Bundle`.
* :func:`load` -- a bundle's model on LiteRT or ONNX Runtime, as a :class:`Detector`. Like a PyOD detector,
  ``decision_function(X)`` gives one anomaly score per row of ``X`` (n rows x the bundle's features, in its
  order; NaN for rows not scored), ``predict(X)`` 1 for rows above the threshold, ``score(X)`` the scores with
  each feature's share of the error and the threshold (``edgewatch score``'s computation).
* :meth:`Detector.monitor` -- the agent's pipeline as a streaming :class:`Monitor`: like River's
  ``score_one``, ``monitor.score_one(device, ts, values)`` takes one reading and returns the events the agent
  would publish for it (scores, ``raised``/``update``/``cleared`` alerts naming the sensors, sensor faults,
  rejected input), each with ``to_json()`` -- the agent's message payloads.

Quick start (README)::

    from edgewatch import api
    recording = api.read("pump.csv")
    detector = api.load(api.train(recording, out="pump-bundle"))
    scores = detector.decision_function(recording.values)
    events = detector.monitor().score_one("pump-1", recording.timestamps[0], recording.values[0])
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.bundle import Bundle, load_bundle
from edgewatch.core.config import PipelineConfig
from edgewatch.core.events import Event
from edgewatch.core.payload import Reading
from edgewatch.core.pipeline import Pipeline
from edgewatch.data.recording import Recording
from edgewatch.runtime.rows import RowScores

__all__ = ["Bundle", "Detector", "Monitor", "Recording", "RowScores", "load", "read", "train"]

PathLike = str | os.PathLike[str]


def read(path: PathLike, **options: Any) -> Recording:
    """A recording from a CSV or Parquet file (:func:`edgewatch.data.read.read_recording`: ``features``,
    ``time_col``, ``label_col``, ``sep``, ``allow_missing``, ``head``)."""
    from edgewatch.data.read import read_recording

    return read_recording(Path(path), **options)


def train(
    data: Recording | PathLike | Sequence[PathLike] | np.ndarray,
    out: PathLike,
    *,
    features: Sequence[str] | None = None,
    timestamps: np.ndarray | None = None,
    **options: Any,
) -> Bundle:
    """Train on normal ``data`` and write a verified bundle to ``out``; return it (``edgewatch train``).

    ``data`` is a :class:`Recording`, a file or files (CSV/Parquet), or an array of rows with their
    ``features`` names (and optionally ``timestamps``, epoch seconds). ``options`` are those of
    :class:`edgewatch.train.builder.TrainOptions` (``model="conv-ae"``, ``seed=1``, ...).
    """
    from edgewatch.data.read import read_recordings
    from edgewatch.train.builder import TrainOptions, build_bundle

    if isinstance(data, Recording):
        recording = data
    elif isinstance(data, np.ndarray):
        if features is None:
            raise ValueError("an array of rows needs its features=[...] names")
        values = np.asarray(data, dtype=np.float64)
        times = np.arange(len(values), dtype=np.float64) if timestamps is None else np.asarray(timestamps, float)
        recording = Recording(
            features=tuple(features), values=values, timestamps=times, has_time=timestamps is not None
        )
    else:
        paths = [data] if isinstance(data, str | os.PathLike) else list(data)
        recording = read_recordings([Path(p) for p in paths], features=features)
    build_bundle(recording, TrainOptions(**options), out)
    return load_bundle(out)


def load(
    bundle: Bundle | PathLike, *, runtime: str | None = None, artifact: str | None = None, threads: int = 1
) -> Detector:
    """The bundle's model on ``runtime`` (default: LiteRT where the bundle has it), checked against its probe."""
    from edgewatch.runtime import open_backend

    loaded = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    runtime = runtime or loaded.manifest.default_runtime
    return Detector(loaded, open_backend(loaded, runtime, artifact=artifact, threads=threads))


class Detector:
    """A bundle's model, loaded once (see the module docstring). ``threshold_`` is the calibrated threshold
    of the loaded model; ``features`` the order of the columns ``X`` must have."""

    def __init__(self, bundle: Bundle, backend: Any) -> None:
        self.bundle = bundle
        self.manifest = bundle.manifest
        self.backend = backend
        self.features: tuple[str, ...] = tuple(self.manifest.features)
        self.threshold_ = float(backend.artifact.threshold.value)

    def _rows(self, X: Any) -> np.ndarray:
        if isinstance(X, Recording):
            missing = [f for f in self.features if f not in X.features]
            if missing:
                raise ValueError(f"the recording lacks feature(s) {missing}")
            return X.values[:, [X.features.index(f) for f in self.features]]
        if isinstance(X, Mapping):
            return np.column_stack([np.asarray(X[f], dtype=np.float64) for f in self.features])
        return np.asarray(X, dtype=np.float64)

    def score(self, X: Any) -> RowScores:
        """Scores, per-feature errors and the threshold for rows ``X`` (an array (n, F) in :attr:`features`
        order, a mapping of feature -> column, or a :class:`Recording`)."""
        from edgewatch.runtime.rows import score_rows

        return score_rows(self.manifest, self.backend, self._rows(X))

    def decision_function(self, X: Any) -> np.ndarray:
        """One anomaly score per row (higher = more anomalous; NaN where a row or its window has a missing value)."""
        return self.score(X).scores

    def predict(self, X: Any) -> np.ndarray:
        """1 for rows scoring above the threshold, 0 otherwise (including rows not scored)."""
        scores = self.decision_function(X)
        above: np.ndarray = (np.nan_to_num(scores, nan=-np.inf) > self.threshold_).astype(np.int8)
        return above

    def monitor(self, config: PipelineConfig | PathLike | None = None) -> Monitor:
        """A streaming :class:`Monitor` over this model, judging as the agent does: ``config`` is a
        :class:`~edgewatch.core.config.PipelineConfig`, or an agent configuration file whose ``[thresholds]``,
        ``[alerts]`` and ``[checks]`` it takes (default: the shipped ones)."""
        if not isinstance(config, PipelineConfig):
            from edgewatch.agent.config import load_pipeline_config

            config = load_pipeline_config(config)
        return Monitor(Pipeline(self.manifest, self.backend, config))


class Monitor:
    """The agent's pipeline, one reading at a time (see the module docstring). ``pipeline`` keeps the state of
    every device it has seen (thresholds, alerts, windows)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.features = pipeline.features

    def score_one(
        self, device: str, ts: float, values: Mapping[str, float | None] | Sequence[float] | np.ndarray
    ) -> list[Event]:
        """Process one reading of ``device`` at ``ts`` (epoch seconds; after its previous one); ``values`` by
        feature name or in feature order (None/NaN: missing). Returns the events the agent would publish."""
        if isinstance(values, Mapping):
            unknown = set(values) - set(self.features)
            if unknown:
                raise ValueError(f"unknown feature(s) {sorted(unknown)}; the model has {list(self.features)}")
            row = np.array([np.nan if values.get(f) is None else values[f] for f in self.features], dtype=np.float64)
        else:
            row = np.asarray(values, dtype=np.float64)
        return self.pipeline.process_readings([(device, Reading(ts=float(ts), values=row))])
