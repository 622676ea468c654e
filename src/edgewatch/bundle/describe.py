"""One-line descriptions of a bundle's manifest for a person: ``edgewatch info`` and ``edgewatch train``
print them."""

from __future__ import annotations

from typing import Any

from edgewatch.runtime.scoring import Scoring


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


def probe_line(m: Any) -> str:
    """What the load-time probe checks (edgewatch.runtime.probe), or that the bundle predates it."""
    if m.probe is None:
        return "none (built before edgewatch checked its scores at load)"
    half = m.probe["rows"] // 2
    return (
        f"{m.probe['rows']} inputs ({half} held-out, {half} with a sensor pushed) scored at load; a score off by more "
        f"than {m.probe['tolerance']:.0%} of max(score, threshold) from the build machine's refuses the model"
    )


def score_line(m: Any) -> str:
    """How the bundle scores a reading (higher = more anomalous)."""
    if m.model_kind == "iforest":
        return "isolation forest: scikit-learn's decision_function negated, higher = more anomalous"
    scoring = Scoring.from_manifest(m.score)
    unit = ", each in units of its normal error)" if scoring.weights is not None else ")"
    return f"{scoring.kind} ({scoring.aggregate} over features of the squared reconstruction error{unit}" + (
        ", higher = more anomalous"
    )


def fidelity_line(fid: dict[str, Any]) -> str:
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


def sustained_line(m) -> str:  # type: ignore[no-untyped-def]
    """The sustained-deviation channel: its time constant and threshold, or why there is none."""
    if m.sustained_tau_s is None or m.threshold.sustained is None:
        note = m.score.get("sustained")
        return f"off ({note})" if isinstance(note, str) and note.startswith("off:") else "off"
    fast = f", fast average {m.sustained_fast_tau_s:.0f} s" if m.sustained_fast_tau_s is not None else ""
    return (
        f"time constant {m.sustained_tau_s:.0f} s{fast}, threshold {m.threshold.sustained:.6g} "
        f"on {m.threshold.calibrated_on}"
    )
