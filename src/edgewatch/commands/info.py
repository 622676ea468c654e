"""``edgewatch info``: a bundle's manifest, for a person."""

from __future__ import annotations

import argparse
import json

HELP = "show what a bundle holds: model, features, threshold, fidelity, files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", help="bundle directory")
    parser.add_argument("--json", action="store_true", help="print the raw manifest as JSON")


def run(args: argparse.Namespace) -> int:
    from edgewatch.bundle import load_bundle
    from edgewatch.bundle.describe import fidelity_line, probe_line, run_state_line, score_line, sustained_line

    bundle = load_bundle(args.bundle)
    m = bundle.manifest
    if args.json:
        print(json.dumps(m.to_json(), indent=2, sort_keys=True))
        return 0
    lines = [
        f"bundle       {bundle.path}  (verified: sha256 of {len(m.files)} files)",
        f"model        {m.model_id}  kind {m.model_kind}  window {m.window}",
        f"parameters   {json.dumps(m.model_params)}",
        f"created      {m.created_at} by edgewatch {m.edgewatch_version} (schema {m.schema_version})",
        f"training     {m.training.get('rows')} rows, {m.training.get('validation_rows')} held out, "
        f"{m.training.get('excluded_labelled_rows', 0)} labelled rows excluded, "
        f"seed {m.training.get('seed')}",
        f"threshold    {m.threshold.value:.6g} on {m.threshold.calibrated_on}  rule {m.threshold.rule} "
        f"{json.dumps({k: v for k, v in m.threshold.params.items() if k in ('quantile', 'margin')})}",
        f"score        {score_line(m)}",
        f"sustained    {sustained_line(m)}",
        f"defaults     {', '.join(f'{k}: {v}' for k, v in sorted(m.default_artifact.items()))}",
        "features     (raw units: min / mean / max)",
    ]
    for s in m.feature_stats:
        lines.append(f"  {s.name:28s} {s.min:12.5g} {s.mean:12.5g} {s.max:12.5g}")
    lines.append("artifacts")
    for name, entry in sorted(m.artifacts.items()):
        size = m.files[entry["file"]]["bytes"]
        fid = entry.get("fidelity")
        extra = f"  fidelity: {fidelity_line(fid)}" if fid else ""
        lines.append(
            f"  {name:12s} {entry['file']:20s} {size / 1024:7.1f} KB  "
            f"threshold {entry['threshold']:.6g}"
            + (f" sustained {entry['sustained_threshold']:.6g}" if "sustained_threshold" in entry else "")
            + extra
        )
    if m.fidelity:
        lines.append(
            f"fidelity     {'passed' if m.fidelity.get('passed') else 'FAILED (bundle forced)'} "
            f"bars {json.dumps(m.fidelity.get('bars'))}"
        )
    lines.append(f"probe        {probe_line(m)}")
    lines.append(f"run state    {run_state_line(m)}")
    print("\n".join(lines))
    return 0
