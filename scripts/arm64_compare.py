"""Compare the emulated aarch64 results of scripts/arm64_smoke.py with the same computation run natively.

Trains nothing: takes the bundle and the CSV slice the emulated run scored, runs
``arm64_smoke.compute`` (the very same code) with this interpreter, and checks, per artifact:

* ``onnx-fp32``  reconstructions and scores bit-exact;
* ``onnx-int8``  reconstructions and scores bit-exact;
* ``litert-fp32`` ``allclose(rtol=1e-5, atol=1e-6)`` on reconstructions and scores (XNNPACK/NEON vs
  AVX kernels differ at ULP level);
* ``litert-int8`` every score within the bundle's probe tolerance of the native one (the rule the device
  applies to the probe at load: ``|emulated - native| <= tolerance * max(|native|, threshold)``); the
  reconstruction outputs that differ, and by how many quantization steps, are reported (one step is usual;
  a deeper model can carry a one-step difference of an inner layer into two or more at its output);

and for every artifact that the anomaly decisions ``score > threshold`` are identical — except, for
``litert-int8``, on rows whose native score lies within ``NEAR_THRESHOLD`` (5%) of the threshold, where a
±1-step output difference can legitimately carry a score across it (each such row is listed); for each replayed
artifact that ``edgewatch.core.replay.replay`` gives the same alert / sensor-fault event sequence
(row, state, alert id, severity), the same per-row status and alert state.

    python scripts/arm64_compare.py --bundle B --csv SLICE.csv --emulated arm64.json [--out x86.json]

Prints PASS/FAIL per check; exit status 0 only if every check passes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arm64_smoke  # the same computation as the emulated side

from edgewatch.bundle import load_bundle
from edgewatch.runtime.probe import deviations

RTOL, ATOL = 1e-5, 1e-6
NEAR_THRESHOLD = 0.05  # litert-int8: a decision may differ only where |native score - T| <= 5% of T
SHOWN = ("machine", "python", "libc", "numpy", "onnxruntime", "ai-edge-litert", "paho-mqtt", "cpuinfo_model")


def _check_artifact(name: str, emu: dict[str, Any], nat: dict[str, Any], tolerance: float) -> tuple[bool, str]:
    re_, rn = np.asarray(emu["reconstruction"], np.float32), np.asarray(nat["reconstruction"], np.float32)
    se, sn = np.asarray(emu["scores"], np.float64), np.asarray(nat["scores"], np.float64)
    if re_.shape != rn.shape or se.shape != sn.shape:
        return False, f"shape mismatch: emulated {re_.shape}/{se.shape} vs native {rn.shape}/{sn.shape}"
    d_rec = float(np.max(np.abs(re_ - rn))) if re_.size else 0.0
    d_score = float(np.max(np.abs(se - sn))) if se.size else 0.0
    rel_score = float(np.max(np.abs(se - sn) / np.maximum(np.abs(sn), 1e-300))) if se.size else 0.0
    flipped = np.flatnonzero(np.asarray(emu["flags"]) != np.asarray(nat["flags"]))
    flips = int(flipped.size)
    detail = (
        f"max|d reconstruction|={d_rec:.3g} max|d score|={d_score:.3g} (rel {rel_score:.3g}); "
        f"decisions differ on {flips}/{len(sn)} rows"
    )
    if name.startswith("onnx"):
        ok = bool(np.array_equal(re_, rn) and np.array_equal(se, sn))
        rule = "bit-exact"
    elif name == "litert-fp32":
        ok = bool(np.allclose(re_, rn, rtol=RTOL, atol=ATOL) and np.allclose(se, sn, rtol=RTOL, atol=ATOL))
        rule = f"allclose rtol={RTOL:g} atol={ATOL:g}"
    else:
        scale = (emu.get("output_quantization") or [None])[0]
        if scale is None:
            return False, "int8 model without output quantization parameters: " + detail
        steps = np.abs(re_.astype(np.float64) - rn.astype(np.float64)) / scale
        max_steps = float(np.max(steps)) if steps.size else 0.0
        n_off = int(np.sum(steps > 0.5))
        threshold = float(nat["threshold"])
        worst = float(np.max(deviations(sn, se, threshold))) if se.size else 0.0
        margin = np.abs(sn[flipped] - threshold) / threshold
        near = bool(np.all(margin <= NEAR_THRESHOLD))
        ok = worst <= tolerance and near
        rule = (
            f"scores within the probe tolerance {tolerance:g} of max(|native|, threshold), "
            f"same decisions except within {NEAR_THRESHOLD:.0%} of the threshold"
        )
        detail = (
            f"largest score deviation {worst:.3g}; {n_off}/{steps.size} outputs differ, by at most "
            f"{max_steps:.3g} steps (scale {scale:.3g}); " + detail
        )
        if flips:
            detail += " (" + ", ".join(
                f"row {i}: native {sn[i]:.6g}, emulated {se[i]:.6g}, threshold {threshold:.6g}" for i in flipped[:5]
            ) + ")"
        return ok, f"[{rule}] {detail}"
    ok = ok and flips == 0
    return ok, f"[{rule}, same decisions] {detail}"


def _check_replay(emu: dict[str, Any], nat: dict[str, Any]) -> tuple[bool, str]:
    key = lambda e: {k: v for k, v in e.items() if k != "ts"} | {"ts": round(e.get("ts", 0.0), 6)}  # noqa: E731
    ev_e, ev_n = [key(e) for e in emu["events"]], [key(e) for e in nat["events"]]
    same_events = ev_e == ev_n
    same_status = emu["status"] == nat["status"]
    same_alert = emu["alert_active"] == nat["alert_active"] and emu["sensor_fault_active"] == nat["sensor_fault_active"]
    pairs = [(a, b) for a, b in zip(emu["score"], nat["score"], strict=False) if a is not None and b is not None]
    d = max((abs(a - b) for a, b in pairs), default=0.0)
    none_match = [a is None for a in emu["score"]] == [b is None for b in nat["score"]]
    alerts = [(e["row"], e["state"], e["alert_id"], e["severity"]) for e in ev_n if e["event"] == "alert"]
    faults = [(e["row"], e["kind"], e["state"]) for e in ev_n if e["event"] == "sensor_fault"]
    detail = (
        f"alert/fault sequence {'EQUAL' if same_events else 'DIFFERENT'} ({len(ev_n)} events: "
        f"{len(alerts)} alert, {len(faults)} sensor-fault); status {'equal' if same_status else 'DIFFERENT'}; "
        f"alert state {'equal' if same_alert else 'DIFFERENT'}; max|d score|={d:.3g}"
    )
    if not same_events:
        for i, (a, b) in enumerate(zip(ev_e + [None] * len(ev_n), ev_n + [None] * len(ev_e), strict=True)):
            if a != b:
                detail += f"\n      first difference at event {i}: emulated {a} vs native {b}"
                break
    return same_events and same_status and same_alert and none_match, detail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--emulated", required=True, help="JSON written by arm64_smoke.py under emulation")
    parser.add_argument("--out", help="also write the native results here")
    args = parser.parse_args()

    emulated = json.loads(Path(args.emulated).read_text())
    print("[compare] emulated: " + " ".join(f"{k}={v}" for k, v in emulated["platform"].items() if k in SHOWN))
    native_info = arm64_smoke.versions()
    print("[compare] native:   " + " ".join(f"{k}={v}" for k, v in native_info.items() if k in SHOWN))
    native = arm64_smoke.compute(
        args.bundle,
        args.csv,
        artifacts=tuple(emulated["artifacts"]),
        replay_artifacts=tuple(emulated["replay"]),
        log=lambda m: None,
    )
    native["platform"] = native_info
    if args.out:
        Path(args.out).write_text(json.dumps(native))

    tolerance = load_bundle(args.bundle).manifest.probe.tolerance
    checks: list[tuple[str, bool, str]] = []
    if native["bundle"]["model_id"] != emulated["bundle"]["model_id"] or native["rows"] != emulated["rows"]:
        checks.append(("inputs", False, "bundle model_id or row count differ: not the same inputs"))
    checks.append(
        (
            "scored rows",
            native["scored_rows"] == emulated["scored_rows"],
            f"{len(native['scored_rows'])} windows of {native['rows']} rows",
        )
    )
    for name in arm64_smoke.ARTIFACTS:
        if name not in emulated["artifacts"]:
            if name in native["artifacts"]:
                checks.append((name, False, "missing from the emulated results"))
            continue
        ok, detail = _check_artifact(name, emulated["artifacts"][name], native["artifacts"][name], tolerance)
        checks.append((name, ok, detail))
    for name in emulated["replay"]:
        ok, detail = _check_replay(emulated["replay"][name], native["replay"][name])
        checks.append((f"replay {name}", ok, detail))
    if not emulated["replay"]:
        checks.append(("replay", False, "no replay in the emulated results"))

    for label, ok, detail in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {label:<18} {detail}")
    all_ok = all(ok for _, ok, _ in checks)
    print(f"[compare] {'PASS' if all_ok else 'FAIL'}: aarch64 (emulated) vs {native_info['machine']} (native)")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
