"""Comparing model kinds, precisions and runtimes on the same data: size, speed, memory, start-up, quality.

:func:`compare_models` trains each model kind once on the first ``train_rows`` rows of every file (rows
labelled anomalous excluded), then for every artifact of the bundle (FP32/INT8 × LiteRT/ONNX Runtime)
measures:

* **size** of the model file;
* **latency**: median wall time of ``open_backend(...).score_batch`` on a batch of one reading (one
  window for conv-ae), over ``calls`` calls in this process, after a few warm-up calls;
* **peak RSS** and **start-up time** of a fresh scoring process: ``python -c`` that imports only numpy and
  the runtime, loads the model with :func:`edgewatch.runtime.open_backend`, scores ``n_readings``
  readings one by one and reports ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` and ``VmHWM`` from
  ``/proc/self/status`` (measured with :mod:`edgewatch.bench.fresh_process`). The peak reported is VmHWM
  where available: on Linux ``ru_maxrss`` of a child keeps the *parent's* high-water mark across
  fork+exec, and the parent here has TensorFlow loaded. Start-up is measured in that process from a
  launch timestamp passed on its command line to the end of the first score;
* **quality**: the rest of each file (rows ``train_rows..end``) replayed through the device pipeline
  (:mod:`edgewatch.evaluate.run`), pooled: event recall, F1, FAR, MAR, ROC-AUC.

A **baseline** row measures a bare ``python -c "import numpy"`` process the same way, and each model's
RSS and start-up are also given as ratios to it.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.bench.fresh_process import FreshProcessError, run_fresh_process
from edgewatch.errors import DataError

# Both child scripts end with fresh_report() (edgewatch.bench.fresh_process): start-up from the launch timestamp
# on the command line to t1, peak RSS = the process's own VmHWM (see docs/evaluation.md for why not ru_maxrss).
_REPORT = r"""
heavy = sorted(k for k in sys.modules if k.split(".")[0] in ("tensorflow", "keras", "sklearn", "pandas", "torch"))
fresh_report(t1, heavy_modules=heavy[:5])
"""

BASELINE_SCRIPT = r"""
import sys, time
import numpy as np
x = np.zeros((1, 1, 8), np.float32); float((x * x).mean())
t1 = time.time()
""" + _REPORT

SCORER_SCRIPT = r"""
import sys, time, json
bundle_dir, runtime, artifact, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
import numpy as np
from edgewatch.bundle import load_bundle
from edgewatch.runtime import open_backend
bundle = load_bundle(bundle_dir)
backend = open_backend(bundle, runtime, artifact=artifact)
m = bundle.manifest
rng = np.random.default_rng(0)
x = rng.standard_normal((n, m.window, m.n_features)).astype(np.float32)
backend.score_batch(x[:1])
t1 = time.time()
for i in range(1, n):
    backend.score_batch(x[i:i + 1])
""" + _REPORT


@dataclass
class CompareRow:
    model: str
    artifact: str  # e.g. "litert-int8"; "baseline" for the bare process
    runtime: str
    precision: str
    size_bytes: int | None = None
    latency_us: float | None = None
    peak_rss_kb: int | None = None
    startup_s: float | None = None
    quality: dict[str, Any] = field(default_factory=dict)
    fidelity_passed: bool | None = None
    rss_ratio: float | None = None
    startup_ratio: float | None = None
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {k: clean(v) for k, v in self.__dict__.items()}


def _measure_process(script: str, args: Sequence[str], repeats: int = 3) -> dict[str, Any]:
    """Run ``python -c script t0 args...`` ``repeats`` times; median start-up, max of the peak RSS."""
    runs = []
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for _ in range(repeats):
        try:
            runs.append(run_fresh_process(script, args, env=env, timeout=300))
        except FreshProcessError as exc:
            last = exc.stderr.strip().splitlines()[-1:] or ["scoring process failed"]
            raise RuntimeError(last[0]) from exc
    return {
        "startup_s": float(np.median([r.startup_s for r in runs])),
        "maxrss_kb": int(max(r.peak_rss_kb for r in runs)),
        "ru_maxrss_kb": int(max(r.ru_maxrss_kb for r in runs)),
        "heavy_modules": runs[0].report.get("heavy_modules", []),
    }


def _latency_us(backend: Any, x: np.ndarray, calls: int) -> float:
    for i in range(min(20, len(x))):
        backend.score_batch(x[i : i + 1])
    times = np.empty(calls)
    for i in range(calls):
        row = x[i % len(x) : i % len(x) + 1]
        t = time.perf_counter()
        backend.score_batch(row)
        times[i] = time.perf_counter() - t
    return float(np.median(times) * 1e6)


def compare_models(
    paths: Sequence[str | Path],
    *,
    train_rows: int,
    label_col: str | None = None,
    time_col: str | None = None,
    sep: str | None = None,
    models: Sequence[str] = ("dense-ae", "conv-ae", "iforest"),
    options: Any = None,  # TrainOptions template; model kind is replaced
    calls: int = 500,
    n_readings: int = 200,
    repeats: int = 3,
    keep_bundles: str | Path | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> list[CompareRow]:
    """Train every model kind on the head of ``paths`` and measure every artifact (see module docstring)."""
    from edgewatch.bundle import load_bundle
    from edgewatch.data.read import read_recordings
    from edgewatch.evaluate.metrics import pool
    from edgewatch.evaluate.run import evaluate_recording, read_labelled
    from edgewatch.runtime import open_backend
    from edgewatch.train.builder import TrainOptions, build_bundle

    if train_rows < 1:
        raise DataError("--train-rows must be a positive number of rows")
    recording = read_recordings(paths, time_col=time_col, label_col=label_col, sep=sep, head=train_rows)
    rests = []
    for path in paths:
        labelled = read_labelled(path, recording.features, label_col=label_col, time_col=time_col, sep=sep)
        if labelled.n_rows <= train_rows:
            raise DataError(f"has {labelled.n_rows} rows, nothing left to score after {train_rows}", path=str(path))
        rests.append(labelled.slice(train_rows))

    base = _measure_process(BASELINE_SCRIPT, [], repeats)
    rows = [
        CompareRow(
            model="baseline (python + numpy)",
            artifact="baseline",
            runtime="-",
            precision="-",
            peak_rss_kb=base["maxrss_kb"],
            startup_s=base["startup_s"],
            rss_ratio=1.0,
            startup_ratio=1.0,
        )
    ]
    template = options or TrainOptions()
    with tempfile.TemporaryDirectory(prefix="edgewatch-compare-") as tmp:
        for model in models:
            out_dir = Path(keep_bundles) / model if keep_bundles else Path(tmp) / model
            say(f"training {model} on the first {train_rows} rows of {len(paths)} file(s)")
            opts = replace(template, model=model, allow_low_fidelity=True)
            report = build_bundle(recording, opts, out_dir)
            bundle = load_bundle(out_dir)
            manifest = bundle.manifest
            rng = np.random.default_rng(0)
            x = rng.standard_normal((64, manifest.window, manifest.n_features)).astype(np.float32)
            for artifact in sorted(manifest.artifacts, key=lambda a: a.name):
                name, runtime = artifact.name, artifact.runtime
                row = CompareRow(
                    model=model,
                    artifact=name,
                    runtime=runtime,
                    precision=artifact.precision,
                    size_bytes=report.sizes.get(artifact.file),
                    fidelity_passed=(not any(name in f for f in report.fidelity_failures))
                    if artifact.precision == "int8"
                    else None,
                )
                try:
                    backend = open_backend(bundle, runtime, artifact=name)
                    row.latency_us = _latency_us(backend, x, calls)
                    proc = _measure_process(SCORER_SCRIPT, [str(out_dir), runtime, name, str(n_readings)], repeats)
                    row.peak_rss_kb = proc["maxrss_kb"]
                    row.startup_s = proc["startup_s"]
                    row.rss_ratio = row.peak_rss_kb / base["maxrss_kb"]
                    row.startup_ratio = row.startup_s / base["startup_s"] if base["startup_s"] > 0 else None
                    results = [evaluate_recording(r, backend, manifest, source=Path(r.path).name)[1] for r in rests]
                    pooled = pool(results)
                    row.quality = {
                        "event_recall": pooled.event_recall,
                        "events": pooled.n_events,
                        "f1": pooled.f1,
                        "far": pooled.false_alarm_rate,
                        "mar": pooled.missed_alarm_rate,
                        "roc_auc": pooled.roc_auc,
                        "false_alarms_per_day": pooled.false_alarms_per_day,
                    }
                except Exception as exc:  # one failing runtime must not hide the others
                    row.error = f"{type(exc).__name__}: {exc}"
                rows.append(row)
    return rows


def _f(v: Any, fmt: str) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def format_compare(rows: Sequence[CompareRow]) -> str:
    header = (
        f"{'model':26s} {'artifact':12s} {'size KB':>8s} {'lat µs':>8s} {'RSS MB':>7s} {'×base':>6s} "
        f"{'start s':>7s} {'×base':>6s} {'ev.rec':>6s} {'F1':>6s} {'FAR':>6s} {'MAR':>6s} {'ROC':>6s} {'gate':>5s}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        q = r.quality
        gate = "-" if r.fidelity_passed is None else ("ok" if r.fidelity_passed else "FAIL")
        lines.append(
            f"{r.model[:26]:26s} {r.artifact:12s} {_f(r.size_bytes and r.size_bytes / 1024, '8.1f'):>8s} "
            f"{_f(r.latency_us, '8.1f'):>8s} {_f(r.peak_rss_kb and r.peak_rss_kb / 1024, '7.1f'):>7s} "
            f"{_f(r.rss_ratio, '6.2f'):>6s} {_f(r.startup_s, '7.3f'):>7s} {_f(r.startup_ratio, '6.2f'):>6s} "
            f"{_f(q.get('event_recall'), '6.3f'):>6s} {_f(q.get('f1'), '6.3f'):>6s} {_f(q.get('far'), '6.3f'):>6s} "
            f"{_f(q.get('mar'), '6.3f'):>6s} {_f(q.get('roc_auc'), '6.3f'):>6s} {gate:>5s}"
            + (f"  error: {r.error}" if r.error else "")
        )
    lines.append("")
    lines.append(
        "lat = median score_batch time for one reading in this process; RSS = peak resident memory of a fresh "
        "scoring process (numpy + runtime + model); start = launch to first score; ×base = ratio to a bare "
        "python+numpy process; quality on the rows after the training head, device pipeline, pooled."
    )
    return "\n".join(lines)
