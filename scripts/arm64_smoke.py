"""Edge-stack smoke test, run under qemu-aarch64 by scripts/arm64-smoke.sh (also imported by
scripts/arm64_compare.py, which runs :func:`compute` natively on x86 for the comparison).

Imports only the edge side of edgewatch (bundle, runtime, core, replay, tables) plus numpy, ai-edge-litert,
onnxruntime and paho-mqtt; fails if TensorFlow, Keras, scikit-learn or pandas got imported.

    python arm64_smoke.py --bundle BUNDLE_DIR --csv SLICE.csv --out results.json

Writes JSON: platform and versions, per artifact the reconstructions (float32) and scores (float64) of
every complete row, the flags ``score > threshold``, and per replayed artifact the alert/sensor-fault
event sequence of ``edgewatch.core.replay.replay`` plus its per-row scores.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from importlib import metadata
from typing import Any

FORBIDDEN = ("tensorflow", "keras", "tf_keras", "sklearn", "pandas", "torch")
ARTIFACTS = ("litert-int8", "litert-fp32", "onnx-int8", "onnx-fp32")
REPLAY_ARTIFACTS = ("litert-int8", "onnx-int8")  # the defaults a device runs


def runtime_of(name: str) -> str:
    return "litert" if name.startswith("litert") else "onnx"


def versions() -> dict[str, Any]:
    import numpy

    out: dict[str, Any] = {
        "machine": platform.machine(),
        "python": platform.python_version(),
        "libc": " ".join(platform.libc_ver()),
        "numpy": numpy.__version__,
    }
    try:  # CPU features numpy sees (from HWCAP: set by QEMU_CPU under emulation); no Pi has SVE
        from numpy._core._multiarray_umath import __cpu_features__

        out["cpu_features"] = sorted(k for k, v in __cpu_features__.items() if v)
    except ImportError:
        out["cpu_features"] = None
    for dist in ("onnxruntime", "ai-edge-litert", "paho-mqtt"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    try:
        with open("/proc/cpuinfo") as handle:
            out["cpuinfo_model"] = next((ln.split(":", 1)[1].strip() for ln in handle if ln.startswith("Model")), None)
    except OSError:
        out["cpuinfo_model"] = None
    return out


def _windows(manifest, table):
    """Scaled windows ending at every row whose window is complete (as `edgewatch score` builds them)."""
    import numpy as np

    scaled = manifest.scaler.transform(table.values)
    window = manifest.window
    n = scaled.shape[0]
    missing = np.isnan(table.values)
    complete = np.convolve(missing.any(axis=1).astype(int), np.ones(window, dtype=int))[:n] == 0
    ends = np.flatnonzero(complete[window - 1 :]) + window - 1
    offsets = np.arange(-window + 1, 1)
    return ends, np.ascontiguousarray(scaled[ends[:, None] + offsets[None, :]], dtype=np.float32)


def _event_json(row: int, event: Any) -> dict[str, Any]:
    from edgewatch.core import AlertEvent, SensorFault

    if isinstance(event, AlertEvent):
        return {
            "row": row,
            "event": "alert",
            "state": event.state,
            "alert_id": event.alert_id,
            "severity": event.severity,
            "ts": event.ts,
        }
    assert isinstance(event, SensorFault)
    return {
        "row": row,
        "event": "sensor_fault",
        "kind": event.kind,
        "state": event.state,
        "sensors": list(event.sensors),
    }


def compute(
    bundle_dir: str, csv_path: str, *, artifacts=ARTIFACTS, replay_artifacts=REPLAY_ARTIFACTS, log=print
) -> dict[str, Any]:
    import numpy as np

    from edgewatch.bundle import load_bundle
    from edgewatch.core import AlertEvent, SensorFault
    from edgewatch.core.replay import replay
    from edgewatch.data.read import read_recording
    from edgewatch.runtime import open_backend

    bundle = load_bundle(bundle_dir)  # verifies every sha256
    manifest = bundle.manifest
    table = read_recording(csv_path, features=manifest.features, allow_missing=True)
    ends, x = _windows(manifest, table)
    results: dict[str, Any] = {
        "bundle": {
            "model_id": manifest.model_id,
            "kind": manifest.model_kind,
            "window": manifest.window,
            "features": list(manifest.features),
        },
        "rows": table.n_rows,
        "scored_rows": ends.tolist(),
        "artifacts": {},
        "replay": {},
    }
    names = {a.name for a in manifest.artifacts}
    for name in artifacts:
        if name not in names:
            log(f"  {name}: not in this bundle, skipped")
            continue
        t0 = time.perf_counter()
        backend = open_backend(bundle, runtime_of(name), artifact=name)
        batch = backend.score_batch(x)
        recon = backend.model.run(np.ascontiguousarray(x, dtype=np.float32)).reshape(x.shape)
        threshold = backend.artifact.threshold.value
        entry: dict[str, Any] = {
            "runtime": runtime_of(name),
            "threshold": threshold,
            "scores": batch.scores.astype(np.float64).tolist(),
            "reconstruction": np.asarray(recon, dtype=np.float32).reshape(len(x), -1).tolist(),
            "flags": (batch.scores > threshold).astype(int).tolist(),
        }
        quant = getattr(backend.model, "_slots", None)
        if quant:
            slot = quant[0]
            entry["output_quantization"] = [slot.out_scale, slot.out_zero] if slot.quantized_output else None
            entry["input_quantization"] = [slot.in_scale, slot.in_zero] if slot.quantized_input else None
        results["artifacts"][name] = entry
        log(
            f"  {name}: {len(x)} windows scored, {sum(entry['flags'])} above threshold "
            f"({time.perf_counter() - t0:.1f}s)"
        )
    for name in replay_artifacts:
        if name not in names:
            continue
        t0 = time.perf_counter()
        backend = open_backend(bundle, runtime_of(name), artifact=name)
        rep = replay(table, backend, manifest)
        events = [_event_json(i, e) for i, e in rep.events if isinstance(e, (AlertEvent, SensorFault))]
        results["replay"][name] = {
            "events": events,
            "status": rep.status,
            "score": [None if not np.isfinite(v) else float(v) for v in rep.score],
            "threshold": [None if not np.isfinite(v) else float(v) for v in rep.threshold],
            "alert_active": rep.alert_active.astype(int).tolist(),
            "sensor_fault_active": rep.sensor_fault_active.astype(int).tolist(),
            "counters": rep.counters,
        }
        n_alerts = sum(1 for e in events if e["event"] == "alert" and e["state"] == "raised")
        log(
            f"  replay {name}: {len(events)} alert/sensor-fault events, {n_alerts} alerts raised "
            f"({time.perf_counter() - t0:.1f}s)"
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    info = versions()
    print("[arm64_smoke] " + " ".join(f"{k}={v}" for k, v in info.items()), flush=True)
    if info["machine"] == "aarch64":
        sve = [f for f in info["cpu_features"] or () if f.startswith("SVE")]
        assert not sve, f"emulated CPU exposes {sve}: no Raspberry Pi has SVE; set QEMU_CPU=cortex-a72 (never max)"
    import ai_edge_litert
    import numpy
    import onnxruntime
    import paho.mqtt.client  # (the agent's transport: must import on the device)

    info["module_paths"] = {m.__name__: m.__file__ for m in (numpy, onnxruntime, ai_edge_litert, paho.mqtt.client)}
    print("[arm64_smoke] imported from: " + " ".join(f"{k}={v}" for k, v in info["module_paths"].items()), flush=True)

    results = compute(args.bundle, args.csv, log=lambda m: print("[arm64_smoke]" + m, flush=True))
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)
    assert not leaked, f"training-side modules imported on the edge path: {leaked}"
    ours = sorted(m for m in sys.modules if m.startswith("edgewatch"))
    results["platform"] = info
    results["edgewatch_modules"] = ours
    with open(args.out, "w") as handle:
        json.dump(results, handle)
    print(f"[arm64_smoke] OK: no {'/'.join(FORBIDDEN)} in sys.modules; wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
