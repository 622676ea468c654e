"""``edgewatch replay``: what would a device have alerted on this recording? The agent's exact pipeline."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", help="bundle directory")
    parser.add_argument("data", help="CSV or Parquet recording with the bundle's feature columns")
    parser.add_argument("--out", required=True, help="events CSV to write ('-' for stdout)")
    parser.add_argument("--config", help="agent config file (TOML/YAML): its thresholds/alerts/checks apply")
    parser.add_argument("--runtime", choices=["litert", "onnx"], default=None)
    parser.add_argument("--artifact", help="a specific model of the bundle, e.g. litert-fp32")
    parser.add_argument("--device", help="device id used in alert ids (default: the file name without suffix)")
    parser.add_argument("--time-col")
    parser.add_argument("--sep")


def run(args: argparse.Namespace) -> int:
    from edgewatch.agent.config import load_pipeline_config
    from edgewatch.bundle import load_bundle
    from edgewatch.core import AlertEvent, SensorFault
    from edgewatch.core.events import format_shares, top_feature_shares
    from edgewatch.core.replay import replay
    from edgewatch.core.timestamps import format_ts
    from edgewatch.data.read import read_recording
    from edgewatch.runtime import open_backend

    bundle = load_bundle(args.bundle)
    manifest = bundle.manifest
    runtime = args.runtime or manifest.default_runtime
    backend = open_backend(bundle, runtime, artifact=args.artifact)
    recording = read_recording(
        args.data, features=manifest.features, time_col=args.time_col, sep=args.sep, allow_missing=True
    )
    device = args.device or Path(args.data).stem
    result = replay(recording, backend, manifest, device=device, config=load_pipeline_config(args.config))
    by_row: dict[int, list[str]] = {}
    for i, event in result.events:
        if isinstance(event, AlertEvent):
            by_row.setdefault(i, []).append(f"alert_{event.state}:{event.alert_id}:{event.severity}")
        elif isinstance(event, SensorFault):
            by_row.setdefault(i, []).append(f"sensor_fault_{event.state}:{event.kind}:{'|'.join(event.sensors)}")
    handle = sys.stdout if args.out == "-" else open(args.out, "w", newline="", encoding="utf-8")
    try:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "row",
                "timestamp",
                "device",
                "status",
                "score",
                "threshold",
                "sustained",
                "alert_active",
                "sensor_fault_active",
                "events",
                "top_features",
            ]
        )
        for i in range(recording.n_rows):
            scored = result.status[i] == "scored"
            top = format_shares(top_feature_shares(manifest.features, result.feature_errors[i])) if scored else ""
            writer.writerow(
                [
                    i + 1,
                    format_ts(recording.timestamps[i]) if recording.has_time else "",
                    device,
                    result.status[i],
                    f"{result.score[i]:.6g}" if scored else "",
                    f"{result.threshold[i]:.6g}" if scored else "",
                    f"{result.sustained[i]:.6g}" if scored and result.sustained[i] == result.sustained[i] else "",
                    int(result.alert_active[i]),
                    int(result.sensor_fault_active[i]),
                    " ".join(by_row.get(i, [])),
                    top,
                ]
            )
    finally:
        if handle is not sys.stdout:
            handle.close()
    raised = sum(1 for _, e in result.alert_events() if e.state == "raised")
    rejected = sum(1 for s in result.status if s.startswith("rejected"))
    print(
        f"replayed {recording.n_rows} rows with {backend.artifact.name}: {raised} alerts raised, "
        f"{result.counters['scored']} scored, {result.counters['missing_values']} with missing values, "
        f"{result.counters['stuck']} with a stuck sensor, {rejected} rejected",
        file=sys.stderr,
    )
    return 0
