"""``edgewatch info``: a bundle's manifest, for a person."""

from __future__ import annotations

import argparse
import json
from typing import Any

HELP = "show what a bundle holds: model, features, threshold, fidelity, files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", help="bundle directory")
    parser.add_argument("--json", action="store_true", help="print the raw manifest as JSON")


def run(args: argparse.Namespace) -> int:
    from edgewatch.bundle import load_bundle

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
        f"score        {_score_line(m)}",
        f"sustained    {_sustained_line(m)}",
        f"defaults     {', '.join(f'{k}: {v}' for k, v in sorted(m.default_artifact.items()))}",
        "features     (raw units: min / mean / max)",
    ]
    for s in m.feature_stats:
        lines.append(f"  {s.name:28s} {s.min:12.5g} {s.mean:12.5g} {s.max:12.5g}")
    lines.append("artifacts")
    for name, entry in sorted(m.artifacts.items()):
        size = m.files[entry["file"]]["bytes"]
        fid = entry.get("fidelity")
        extra = f"  fidelity: {_fidelity_line(fid)}" if fid else ""
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
    lines.append(f"probe        {_probe_line(m)}")
    lines.append(f"run state    {run_state_line(m)}")
    print("\n".join(lines))
    return 0


def run_state_line(m: Any) -> str:
    """The run indicator found in the training rows (edgewatch.train.run_state), or none (info and train)."""
    if m.run_state is None:
        return "no run indicator (no sensor showed the machine stopping in the training rows)"
    rs = m.run_state
    with_it = f"; {', '.join(rs['companions'])} stop with it" if rs.get("companions") else ""
    return (
        f"stopped while {rs['feature']} < {rs['below']:.4g} ({rs.get('stops', '?')} stops in training{with_it}); "
        "the device raises no new alert then nor for alerts.suppress_settle_s after a restart, unless its config "
        "names another indicator or sets alerts.suppress_from_bundle = false"
    )


def _probe_line(m: Any) -> str:
    """What the load-time probe checks (edgewatch.runtime.probe), or that the bundle predates it."""
    if m.probe is None:
        return "none (built before edgewatch checked its scores at load)"
    half = m.probe["rows"] // 2
    return (
        f"{m.probe['rows']} inputs ({half} held-out, {half} with a sensor pushed) scored at load; a score off by more "
        f"than {m.probe['tolerance']:.0%} of max(score, threshold) from the build machine's refuses the model"
    )


def _score_line(m: Any) -> str:
    """How the bundle scores a reading (higher = more anomalous)."""
    from edgewatch.runtime.errors_math import Scoring

    if m.model_kind == "iforest":
        return "isolation forest: scikit-learn's decision_function negated, higher = more anomalous"
    scoring = Scoring.from_manifest(m.score)
    unit = ", each in units of its normal error)" if scoring.weights is not None else ")"
    return f"{scoring.kind} ({scoring.aggregate} over features of the squared reconstruction error{unit}" + (
        ", higher = more anomalous"
    )


def _fidelity_line(fid: dict[str, Any]) -> str:
    """INT8 vs FP32 figures; the gated ones first (older bundles lack some)."""
    parts = []
    if "reconstruction_rank_correlation" in fid:
        parts.append(f"reconstruction rank corr {fid['reconstruction_rank_correlation']:.4f}")
    parts.append(f"agreement {fid['alert_agreement']:.2%}")
    stress = fid.get("with_stress")
    if stress:
        parts.append(f"rank corr with stress set {stress['rank_correlation']:.4f}")
    parts.append(f"score rank corr {fid['rank_correlation']:.4f}")
    return ", ".join(parts)


def _sustained_line(m) -> str:  # type: ignore[no-untyped-def]
    """The sustained-deviation channel: its time constant and threshold, or why there is none."""
    if m.sustained_tau_s is None or m.threshold.sustained is None:
        note = m.score.get("sustained")
        return f"off ({note})" if isinstance(note, str) and note.startswith("off:") else "off"
    fast = f", fast average {m.sustained_fast_tau_s:.0f} s" if m.sustained_fast_tau_s is not None else ""
    return (
        f"time constant {m.sustained_tau_s:.0f} s{fast}, threshold {m.threshold.sustained:.6g} "
        f"on {m.threshold.calibrated_on}"
    )
