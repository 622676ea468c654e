"""``edgewatch score``: score a recording with a bundle on the edge runtimes (no TensorFlow)."""

from __future__ import annotations

import argparse
import csv
import sys

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", help="bundle directory")
    parser.add_argument("data", help="CSV or Parquet recording with the bundle's feature columns")
    parser.add_argument("--out", required=True, help="scores CSV to write ('-' for stdout)")
    parser.add_argument(
        "--runtime",
        choices=["litert", "onnx"],
        default=None,
        help="inference runtime (default: litert where the bundle has it, else onnx)",
    )
    parser.add_argument("--artifact", help="a specific model of the bundle, e.g. litert-fp32")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--time-col")
    parser.add_argument("--sep")
    parser.add_argument("--top", type=int, default=3, help="how many contributing features to list (3)")


def run(args: argparse.Namespace) -> int:
    from edgewatch.bundle import load_bundle
    from edgewatch.core.events import format_shares, top_feature_shares
    from edgewatch.core.timestamps import format_ts
    from edgewatch.data.read import read_recording
    from edgewatch.runtime import open_backend
    from edgewatch.runtime.rows import score_rows

    bundle = load_bundle(args.bundle)
    manifest = bundle.manifest
    runtime = args.runtime or manifest.default_runtime
    backend = open_backend(bundle, runtime, artifact=args.artifact, threads=args.threads)
    threshold = backend.artifact.threshold.value
    recording = read_recording(
        args.data, features=manifest.features, time_col=args.time_col, sep=args.sep, allow_missing=True
    )
    scores, errors, _, _ = score_rows(manifest, backend, recording.values)
    window, n = manifest.window, recording.n_rows
    missing = np.isnan(recording.values)
    handle = sys.stdout if args.out == "-" else open(args.out, "w", newline="", encoding="utf-8")
    try:
        writer = csv.writer(handle)
        writer.writerow(["row", "timestamp", "status", "score", "threshold", "is_anomaly", "top_features"])
        for i in range(n):
            ts = format_ts(recording.timestamps[i]) if recording.has_time else ""
            if np.isnan(scores[i]):
                absent = [manifest.features[j] for j in np.flatnonzero(missing[i])]
                status = (
                    "missing:" + "|".join(absent) if absent else ("window" if i < window - 1 else "missing_in_window")
                )
                writer.writerow([i + 1, ts, status, "", f"{threshold:.6g}", "", ""])
                continue
            top = format_shares(top_feature_shares(manifest.features, errors[i], args.top))
            writer.writerow(
                [i + 1, ts, "scored", f"{scores[i]:.6g}", f"{threshold:.6g}", int(scores[i] > threshold), top]
            )
    finally:
        if handle is not sys.stdout:
            handle.close()
    flagged = int(np.sum(scores > threshold))
    scored = int(np.sum(~np.isnan(scores)))
    print(
        f"scored {scored} of {n} rows with {backend.artifact.name} ({runtime}); {flagged} above the threshold "
        f"{threshold:.6g}"
        + (
            f"; {n - scored} rows not scored (missing values or window filling: see the status column)"
            if n > scored
            else ""
        ),
        file=sys.stderr,
    )
    return 0
