"""Benchmark ``read``: how fast ``read_recording`` reads a recording from CSV and from Parquet.

Simulates ``rows`` × ``features`` readings (with dropouts, labels and fault types, as ``edgewatch simulate``
writes them), writes them once as CSV and once as Parquet, and times :func:`edgewatch.data.read.read_recording`
on each, best of ``repeats``. Baseline in the same run: pyarrow alone reading the same Parquet file and
converting its feature columns to one float64 numpy array (the floor for any Parquet reader). Needs pyarrow
(the ``train`` extra).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgewatch.bench import machine_info, target

#: Parquet must read at least as fast as CSV, and within this factor of bare pyarrow
TARGET_PARQUET_OVER_BARE = 3.0


def _best(action: Any, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def run(
    *, rows: int = 100_000, features: int = 16, repeats: int = 3, seed: int = 0, say: Any = lambda _msg: None
) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from edgewatch.data.read import read_recording
    from edgewatch.sim import simulate
    from edgewatch.sim.writers import write_csv, write_parquet

    recording = simulate(n_rows=rows, n_features=features, seed=seed, faults="all")
    with tempfile.TemporaryDirectory(prefix="edgewatch-bench-read-") as tmp:
        csv_path = write_csv(recording, Path(tmp) / "pump.csv")
        parquet_path = write_parquet(recording, Path(tmp) / "pump.parquet")
        names = list(recording.features)

        def bare() -> np.ndarray:
            table = pq.read_table(parquet_path)
            return np.column_stack([table.column(n).to_numpy(zero_copy_only=False) for n in names])

        say(f"reading {rows} x {features} rows, best of {repeats} ...")
        seconds = {
            "bare_pyarrow_to_numpy": _best(bare, repeats),
            "read_recording_parquet": _best(lambda: read_recording(parquet_path, allow_missing=True), repeats),
            "read_recording_csv": _best(lambda: read_recording(csv_path, allow_missing=True), repeats),
        }
        same = read_recording(parquet_path, allow_missing=True)
        reference = read_recording(csv_path, allow_missing=True)
        identical = bool(np.allclose(same.values, reference.values, rtol=1e-6, equal_nan=True))
        sizes = {"csv_bytes": csv_path.stat().st_size, "parquet_bytes": parquet_path.stat().st_size}
    for name, value in seconds.items():
        say(f"  {name}: {value * 1000:.1f} ms")
    ratios = {
        "parquet_over_bare_pyarrow": seconds["read_recording_parquet"] / seconds["bare_pyarrow_to_numpy"],
        "parquet_over_csv": seconds["read_recording_parquet"] / seconds["read_recording_csv"],
    }
    return {
        "benchmark": "read",
        "machine": machine_info(),
        "parameters": {"rows": rows, "features": features, "repeats": repeats, "seed": seed, "faults": "all"},
        "seconds_best": seconds,
        "file_sizes": sizes,
        "parquet_and_csv_read_the_same_values": identical,
        "ratios": ratios,
        "targets": {
            "parquet_over_bare_pyarrow": target(
                round(ratios["parquet_over_bare_pyarrow"], 2), TARGET_PARQUET_OVER_BARE
            ),
            "parquet_over_csv": target(round(ratios["parquet_over_csv"], 3), 1.0),
        },
    }
