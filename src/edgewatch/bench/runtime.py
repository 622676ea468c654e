"""Benchmark ``runtime``: the edge runtimes on a default 16-feature dense-ae bundle, per artifact.

Per backend (litert-int8, litert-fp32, onnx-int8, onnx-fp32), pinned to 1 thread:

* model file size;
* latency of ``score_batch`` for one reading (batch 1): median and p99 over ``calls`` calls, in process;
* throughput at batch 64 and 128 (readings/s);
* a *fresh process* that imports only numpy, the vendor runtime, ``edgewatch.bundle`` and
  ``edgewatch.runtime``, loads the bundle and scores one reading: launch → first score (measured by the
  parent, from ``Popen`` to the child's line on stdout), the child's peak RSS (``VmHWM``; both measured by
  :mod:`edgewatch.bench.fresh_process`), and a check that tensorflow / keras / sklearn / pandas are not in
  the child's ``sys.modules``.

Baseline in the same run: a bare ``python -c "import numpy"`` process (launch → ready, peak RSS), and a bare
``python -c "pass"``; ratios are reported against the numpy one. Issue targets for the agent, reported for
the bare runtime process with the INT8 dense-ae on LiteRT: peak RSS ≤ 45 MB, launch → first score ≤ 0.5 s.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.bench import machine_info, percentile, target
from edgewatch.bench.fresh_process import FreshProcess, FreshProcessError, run_fresh_process

ARTIFACTS = ("litert-int8", "litert-fp32", "onnx-int8", "onnx-fp32")
FORBIDDEN = ("tensorflow", "keras", "sklearn", "pandas")
TARGET_RSS_MB = 45.0
TARGET_STARTUP_S = 0.5

# Each child ends with fresh_report() (edgewatch.bench.fresh_process): peak RSS = its own VmHWM, not ru_maxrss,
# which on Linux keeps the high-water mark of the (large) benchmark parent that spawned it. Launch -> ready is
# timed by the parent, up to the child's report line on stdout. The children import json and resource up front
# as they always did, so the timings and the ``modules`` count include them.
CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import numpy as np
from edgewatch.bundle import load_bundle
from edgewatch.runtime import open_backend
t1 = time.perf_counter()
bundle = load_bundle(sys.argv[1])
backend = open_backend(bundle, sys.argv[2], artifact=sys.argv[3], threads=1)
t2 = time.perf_counter()
m = bundle.manifest
reading = np.array([s.mean for s in m.feature_stats], dtype=np.float64)
x = m.scaler.transform(reading)[None, None, :]
score = float(backend.score_batch(x).scores[0])
t3 = time.perf_counter()
fresh_report(
    time.time(),
    score=score,
    import_seconds=t1 - t0, load_seconds=t2 - t1, first_score_seconds=t3 - t2,
    forbidden_loaded=sorted(k for k in %r if k in sys.modules),
    modules=len(sys.modules),
)
"""

BASELINE_NUMPY = "import json, resource\nimport numpy\nfresh_report(time.time())\n"
BASELINE_PASS = "import json, resource\nfresh_report(time.time())\n"


def default_bundle(out: Path, *, rows: int, features: int, seed: int, say: Any) -> Path:
    """Train the default bundle (dense-ae 64-32-64, INT8) on simulated normal rows (needs the train extra)."""
    from edgewatch.sim import simulate_normal
    from edgewatch.train.builder import TrainOptions, build_bundle
    from edgewatch.train.fit import FitSettings

    say(f"training a default bundle on {rows} x {features} simulated rows ...")
    rec = simulate_normal(n_rows=rows, n_features=features, seed=seed)
    build_bundle(rec, TrainOptions(seed=seed, fit=FitSettings(progress=False)), out)
    return out


def bundle_or_default(bundle: str | None, out: Path, *, rows: int, features: int, seed: int, say: Any) -> Path:
    """The bundle a benchmark was given, or else the default one trained into ``out`` (:func:`default_bundle`)."""
    if bundle:
        return Path(bundle)
    return default_bundle(out, rows=rows, features=features, seed=seed, say=say)


def _spawn(python: str, script: str, args: list[str]) -> FreshProcess:
    try:
        return run_fresh_process(script, args, python=python)
    except FreshProcessError as exc:
        raise RuntimeError(f"benchmark subprocess failed ({exc.returncode}): {exc.stderr.strip()[-2000:]}") from exc


def _startup(args: list[str], repeats: int) -> dict[str, Any]:
    """Launch ``[python, "-c", script, *script_args]`` ``repeats`` times: launch → ready and peak RSS."""
    python, flag, script, *rest = args
    if flag != "-c":
        raise ValueError(f"expected [python, '-c', script, ...], got {args[:2]}")
    runs = [_spawn(python, script, rest) for _ in range(repeats)]
    seconds = [r.launch_to_output_s for r in runs]
    rss = [r.peak_rss_kb / 1024 for r in runs]
    out: dict[str, Any] = {
        "launch_to_ready_seconds_median": statistics.median(seconds),
        "launch_to_ready_seconds_min": min(seconds),
        "launch_to_ready_seconds_runs": seconds,
        "peak_rss_mb_median": statistics.median(rss),
        "peak_rss_mb_max": max(rss),
    }
    last = runs[-1].report
    for key in ("import_seconds", "load_seconds", "first_score_seconds", "forbidden_loaded", "modules"):
        if key in last:
            out[key] = last[key]
    return out


def _latency(backend: Any, x1: np.ndarray, calls: int) -> dict[str, float]:
    for _ in range(50):
        backend.score_batch(x1)
    times = np.empty(calls)
    clock = time.perf_counter_ns
    for i in range(calls):
        t = clock()
        backend.score_batch(x1)
        times[i] = clock() - t
    us = times / 1000.0
    return {
        "calls": calls,
        "median_us": float(np.median(us)),
        "p99_us": percentile(us, 99),
        "mean_us": float(us.mean()),
        "min_us": float(us.min()),
    }


def _throughput(backend: Any, x: np.ndarray, seconds: float = 1.0) -> float:
    backend.score_batch(x)
    n = 0
    start = time.perf_counter()
    while True:
        backend.score_batch(x)
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and n >= 20:
            return n * x.shape[0] / elapsed


def run(
    *,
    bundle: str | None = None,
    calls: int = 2000,
    startups: int = 5,
    features: int = 16,
    train_rows: int = 20_000,
    seed: int = 0,
    throughput_seconds: float = 1.0,
    say: Any = lambda _msg: None,
) -> dict[str, Any]:
    from edgewatch.bundle import load_bundle
    from edgewatch.runtime import open_backend

    with tempfile.TemporaryDirectory(prefix="edgewatch-bench-rt-") as tmp:
        path = bundle_or_default(bundle, Path(tmp) / "bundle", rows=train_rows, features=features, seed=seed, say=say)
        b = load_bundle(path)
        m = b.manifest
        rng = np.random.default_rng(seed)
        rows = np.array([[s.mean for s in m.feature_stats]]) + rng.normal(0, 1, (128, m.n_features)) * np.array(
            [s.std for s in m.feature_stats]
        )
        x = m.scaler.transform(rows)[:, None, :].astype(np.float32)
        x = np.repeat(x, m.window, axis=1) if m.window > 1 else x
        result: dict[str, Any] = {
            "benchmark": "runtime",
            "machine": machine_info(),
            "parameters": {
                "bundle": str(bundle) if bundle else f"default dense-ae trained on {train_rows} simulated rows",
                "model": m.model_kind,
                "model_params": m.model.params.given(),
                "features": m.n_features,
                "calls": calls,
                "startups": startups,
                "threads": 1,
            },
            "backends": {},
        }
        py = sys.executable
        say("baseline processes ...")
        base_numpy = _startup([py, "-c", BASELINE_NUMPY], startups)
        base_pass = _startup([py, "-c", BASELINE_PASS], startups)
        result["baseline"] = {"python_import_numpy": base_numpy, "python_pass": base_pass}
        for name in ARTIFACTS:
            artifact = next((a for a in m.artifacts if a.name == name), None)
            if artifact is None:
                continue
            runtime = artifact.runtime
            backend = open_backend(b, runtime, artifact=name, threads=1)
            entry: dict[str, Any] = {"file_bytes": b.file(artifact.file).stat().st_size}
            entry["file_kb"] = round(entry["file_bytes"] / 1024, 2)
            entry["batch1"] = _latency(backend, x[:1], calls)
            entry["throughput_per_s"] = {
                f"batch{n}": _throughput(backend, x[:n], throughput_seconds) for n in (1, 64, 128)
            }
            fresh = _startup([py, "-c", CHILD % (FORBIDDEN,), str(path), runtime, name], startups)
            entry["fresh_process"] = fresh
            entry["ratios_vs_import_numpy"] = {
                "launch_to_first_score": fresh["launch_to_ready_seconds_median"]
                / base_numpy["launch_to_ready_seconds_median"],
                "peak_rss": fresh["peak_rss_mb_median"] / base_numpy["peak_rss_mb_median"],
            }
            result["backends"][name] = entry
            say(
                f"{name}: {entry['file_kb']} KB, batch-1 median {entry['batch1']['median_us']:.1f} us "
                f"p99 {entry['batch1']['p99_us']:.1f} us, batch-128 "
                f"{entry['throughput_per_s']['batch128']:.0f}/s, fresh process "
                f"{fresh['launch_to_ready_seconds_median']:.3f} s {fresh['peak_rss_mb_median']:.1f} MB "
                f"forbidden={fresh['forbidden_loaded']}"
            )
    lit = result["backends"].get("litert-int8")
    if lit:
        fresh = lit["fresh_process"]
        result["targets"] = {
            "litert_int8_process_peak_rss_mb": target(round(fresh["peak_rss_mb_median"], 1), TARGET_RSS_MB, unit="MB"),
            "litert_int8_launch_to_first_score_s": target(
                round(fresh["launch_to_ready_seconds_median"], 3), TARGET_STARTUP_S, unit="s"
            ),
            "no_training_stack_in_edge_process": target(
                float(sum(len(e["fresh_process"]["forbidden_loaded"]) for e in result["backends"].values())),
                0.0,
                unit="forbidden modules loaded",
            ),
        }
        result["ratios"] = {
            "litert_int8_startup_over_import_numpy": lit["ratios_vs_import_numpy"]["launch_to_first_score"],
            "litert_int8_rss_over_import_numpy": lit["ratios_vs_import_numpy"]["peak_rss"],
        }
    return result
