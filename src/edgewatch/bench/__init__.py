"""edgewatch.bench — the benchmark suite behind ``edgewatch bench NAME``.

One module per benchmark (:mod:`training`, :mod:`quantization`, :mod:`runtime`, :mod:`agent`, :mod:`update`),
each with ``run(**options) -> dict``: a JSON-serialisable result holding the machine it ran on, the parameters, the
measurements, a baseline measured in the same run and the ratios against it, and ``targets``: one entry per
target with the measured value, the limit and whether it was met. Performance is proven here, never by timed
assertions in tests: absolute times drift on a shared machine, ratios to a same-run baseline much less.

The ``runtime`` and ``agent`` benchmarks import only the edge side (numpy, a runtime, paho-mqtt); the
``training`` and ``quantization`` benchmarks need the ``train`` extra.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from typing import Any

from edgewatch.core.timestamps import iso_utc

BENCHMARKS = ("training", "quantization", "runtime", "agent", "devices", "read", "update", "faults")


def machine_info() -> dict[str, Any]:
    """Where a result was measured: CPU, cores, memory, OS, Python and the relevant package versions."""
    info: dict[str, Any] = {
        "measured_at": iso_utc(int(time.time())),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_mb": _memory_mb(),
    }
    try:
        info["load_average_1_5_15"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover
        pass
    try:
        info["affinity_cpus"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not on Linux
        pass
    info["packages"] = _versions(
        [
            "numpy",
            "ai-edge-litert",
            "onnxruntime",
            "paho-mqtt",
            "tensorflow",
            "tensorflow-cpu",
            "keras",
            "onnx",
            "edgewatch",
        ]
    )
    info["mosquitto"] = _mosquitto_version()
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover
        pass
    return platform.processor() or "unknown"


def _memory_mb() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:  # pragma: no cover
        pass
    return None


def _versions(names: list[str]) -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _mosquitto_version() -> str | None:
    for path in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto"):
        if os.path.exists(path):
            try:
                proc = subprocess.run([path, "-h"], capture_output=True, text=True, timeout=5)
            except (OSError, subprocess.TimeoutExpired):  # pragma: no cover
                return None
            first = (proc.stdout or proc.stderr).splitlines()
            return first[0].strip() if first else None
    return None


def target(value: float | None, limit: float, *, at_most: bool = True, unit: str = "") -> dict[str, Any]:
    """One target entry: the measured value, the limit, and whether it was met."""
    met = None if value is None else (value <= limit if at_most else value >= limit)
    return {"value": value, "limit": limit, "comparison": "<=" if at_most else ">=", "unit": unit, "met": met}


def percentile(values: Any, q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=np.float64), q))

