"""A bundle's manifest described for a person: ``edgewatch info`` prints :func:`describe`, ``edgewatch train``
prints the lines about the thresholds, the fidelity gate and the run indicator, and the agent logs
:func:`choice_line` at start: which model it scores with and, unless it is a faithful INT8 model, why."""

from __future__ import annotations

import json
from pathlib import Path

from edgewatch.bundle.artifact import Artifact, FidelityFigures
from edgewatch.bundle.manifest import Manifest
from edgewatch.records import dump


def describe(m: Manifest, path: Path) -> list[str]:
    """The lines of ``edgewatch info``."""
    rule = m.threshold_rule
    lines = [
        f"bundle       {path}  (verified: sha256 of {len(m.files)} files)",
        f"model        {m.model_id}  kind {m.model_kind}  window {m.window}",
        f"parameters   {json.dumps(m.model.params.given())}",
        f"created      {m.created_at} by edgewatch {m.edgewatch_version} (schema {m.schema_version})",
        f"training     {m.training.rows} rows, {m.training.validation_rows} held out, "
        f"{m.training.excluded_labelled_rows} labelled rows excluded, seed {m.training.seed}",
        f"thresholds   rule {rule.kind} {json.dumps({'quantile': rule.quantile, 'margin': rule.margin})}, "
        "each model's on its own held-out scores",
        f"score        {score_line(m)}",
        f"sustained    {sustained_line(m)}",
        f"defaults     {', '.join(f'{k}: {v}' for k, v in sorted(m.default_artifact.items()))}",
        *(f"  {rt:10s} {choice_line(m, m.artifact(name))}" for rt, name in sorted(m.default_artifact.items())),
        "features     (raw units: min / mean / max)",
    ]
    lines += [f"  {s.name:28s} {s.min:12.5g} {s.mean:12.5g} {s.max:12.5g}" for s in m.feature_stats]
    lines.append("artifacts")
    for a in sorted(m.artifacts, key=lambda a: a.name):
        extra = f"  fidelity: {fidelity_line(a)}" if a.fidelity else ""
        sustained = f" sustained {a.threshold.sustained:.6g}" if a.threshold.sustained is not None else ""
        size = m.files[a.file].bytes / 1024
        lines.append(f"  {a.name:12s} {a.file:20s} {size:7.1f} KB  threshold {a.threshold.value:.6g}{sustained}{extra}")
    if m.fidelity:
        lines.append(f"fidelity     {gate_line(m)}; bars {json.dumps(dump(m.fidelity.bars))}")
    lines.append(f"probe        {probe_line(m)}")
    lines.append(f"run state    {run_state_line(m)}")
    return lines


def gate_line(m: Manifest) -> str:
    """The fidelity gate's verdict and what the build did about a failure (edgewatch.train.defaults)."""
    gate = m.fidelity
    if gate is None:
        return "no INT8 model"
    if gate.passed:
        return "passed"
    failed = ", ".join(gate.unfaithful)
    kept = sorted(set(m.default_artifact.values()) & set(gate.unfaithful))
    if kept:
        return f"FAILED by {failed}; {', '.join(kept)} kept as default anyway (train --allow-low-fidelity)"
    return f"FAILED by {failed}; not a default: the bundle runs its FP32 models"


def choice_line(m: Manifest, artifact: Artifact, *, requested: bool = False) -> str:
    """Why a device scores with ``artifact`` (the agent's start-up log, ``info``, ``replay``): its name and,
    where it is not a faithful INT8 model, why. ``requested``: chosen by name (``--artifact``, the agent's
    ``runtime.artifact``) rather than as the bundle's default."""
    how = "requested" if requested else "the bundle's default"
    fidelity = artifact.fidelity
    if fidelity is not None:
        if fidelity.faithful:
            return f"scoring with {artifact.name} ({how}; INT8, passed the fidelity gate)"
        kept = "" if requested else "; kept as the default by train --allow-low-fidelity"
        return (
            f"scoring with {artifact.name} ({how}), an INT8 model that FAILED the fidelity gate and may not decide "
            f"like the FP32 model{kept} ({'; '.join(fidelity.failures)})"
        )
    twin = next((a for a in m.artifacts if a.fidelity is not None and a.fidelity.reference == artifact.name), None)
    if twin is None:
        return f"scoring with {artifact.name} ({how}; FP32, this model has no INT8 version)"
    assert twin.fidelity is not None
    if not twin.fidelity.faithful:
        reasons = "; ".join(twin.fidelity.failures)
        return f"scoring with {artifact.name} ({how}): INT8 failed the fidelity gate ({reasons})"
    reason = "requested" if requested else "the bundle's default: built with --precision fp32"
    return f"scoring with {artifact.name} ({reason}; FP32, its INT8 version passed the fidelity gate)"


def run_state_line(m: Manifest) -> str:
    """The run indicator found in the training rows (edgewatch.train.run_state), or that there is none."""
    found = m.run_indicator
    if found is None:
        return "no run indicator (no sensor showed the machine stopping in the training rows)"
    with_it = f"; {', '.join(found.companions)} stop with it" if found.companions else ""
    return (
        f"stopped while {found.feature} < {found.below:.4g} ({found.stops} stops in training{with_it}); "
        "the device raises no new alert then nor for alerts.suppress_settle_s after a restart, unless its config "
        "names another indicator or sets alerts.suppress_from_bundle = false"
    )


def probe_line(m: Manifest) -> str:
    """What the load-time probe checks (edgewatch.runtime.probe)."""
    half = m.probe.rows // 2
    return (
        f"{m.probe.rows} inputs ({half} held-out, {half} with a sensor pushed) scored at load; a score off by more "
        f"than {m.probe.tolerance:.0%} of max(score, threshold) from the build machine's refuses the model"
    )


def score_line(m: Manifest) -> str:
    """How the bundle scores a reading (higher = more anomalous)."""
    if m.model_kind == "iforest":
        return "isolation forest: scikit-learn's decision_function negated, higher = more anomalous"
    scoring = m.scoring
    unit = ", each in units of its normal error)" if scoring.feature_weights is not None else ")"
    return f"{scoring.kind} ({scoring.aggregate} over features of the squared reconstruction error{unit}" + (
        ", higher = more anomalous"
    )


def fidelity_line(a: Artifact) -> str:
    """An INT8 artifact's figures against FP32, the gated ones first."""
    if a.fidelity is None:
        return "-"
    held, stress = a.fidelity.held_out, a.fidelity.held_out_plus_stress
    return (
        f"reconstruction rank corr {_recon(held):.4f}, agreement {held.alert_agreement:.2%}, "
        f"rank corr with stress set {stress.rank_correlation:.4f}, score rank corr {held.rank_correlation:.4f}"
    )


def fidelity_lines(m: Manifest) -> list[str]:
    """Per INT8 artifact, what the fidelity gate measured (``edgewatch train``)."""
    lines = []
    for a in m.artifacts:
        if a.fidelity is None:
            continue
        h, s = a.fidelity.held_out, a.fidelity.held_out_plus_stress
        lines.append(
            f"fidelity {a.name} vs {a.fidelity.reference} on {h.rows} held-out rows: "
            f"reconstruction rank correlation {_recon(h):.4f}, alert agreement {h.alert_agreement:.2%}, "
            f"score rank correlation with stress set {s.rank_correlation:.4f} "
            f"(not gated: score rank correlation {h.rank_correlation:.4f}, "
            f"stress alert agreement {s.alert_agreement:.2%})"
        )
    return lines


def threshold_lines(m: Manifest) -> list[str]:
    """The default model's thresholds and how they were derived (``edgewatch train``)."""
    primary, rule, channel = m.primary, m.threshold_rule, m.scoring.sustained
    lines = [
        f"threshold ({primary.name}): {primary.threshold.value:.6g}  rule: quantile q={rule.quantile} x {rule.margin}"
    ]
    if channel is not None and primary.threshold.sustained is not None:
        lines.append(
            f"sustained-deviation threshold: {primary.threshold.sustained:.6g}  "
            f"(time constants {channel.tau_s:.0f} s and {channel.fast_tau_s or 0:.0f} s, same rule)"
        )
    else:
        lines.append(f"sustained-deviation channel: {m.scoring.sustained_note or 'off'}")
    return lines


def sustained_line(m: Manifest) -> str:
    """The sustained-deviation channel: its time constants and the default model's threshold, or why there is
    none."""
    channel, primary = m.scoring.sustained, m.primary
    if channel is None or primary.threshold.sustained is None:
        note = m.scoring.sustained_note
        return f"off ({note})" if note.startswith("off:") else "off"
    fast = f", fast average {channel.fast_tau_s:.0f} s" if channel.fast_tau_s is not None else ""
    return f"time constant {channel.tau_s:.0f} s{fast}, threshold {primary.threshold.sustained:.6g} on {primary.name}"


def _recon(figures: FidelityFigures) -> float:
    recon = figures.reconstruction_rank_correlation
    return figures.rank_correlation if recon is None else recon
