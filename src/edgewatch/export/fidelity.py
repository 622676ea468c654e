"""The fidelity gate: does the quantized model make the same decisions as the float model?

Two figures, each INT8 model against its FP32 reference, measured every time a bundle is built:

* ``rank_correlation`` — Spearman correlation of INT8 and FP32 scores;
* ``alert_agreement`` — share of rows where ``int8_score > int8_threshold`` equals
  ``fp32_score > fp32_threshold``, each model with the threshold calibrated on its own validation scores.

They are measured on two row sets: the *held-out* normal rows, and those rows plus a *stress set* (the
held-out rows with one sensor at a time pushed off by 2-6 standard deviations, which exercises the
decision boundary the way faults do). The gate (:func:`check_gate`) requires

* ``reconstruction_rank_correlation`` on held-out rows — the rank correlation of the plain mean squared
  reconstruction error, before the score's per-feature weighting and aggregation: INT8 *reconstructs*
  like FP32 (this catches a carelessly calibrated model: too few calibration rows, unscaled rows);
* alert agreement of the score on held-out rows (the same decisions on normal operation);
* rank correlation of the score on held-out + stress rows (the same ordering of normal and faulty
  readings);
* ``threshold_ratio`` — the INT8 model's threshold over the FP32 model's, each calibrated by the same rule
  on its own held-out scores — within ``1 / max_threshold_ratio`` and ``max_threshold_ratio`` (the same
  sensitivity). Agreement at each model's own threshold cannot see a model whose threshold is several
  times higher because a few held-out readings fall outside its INT8 range (docs/quantization.md has the
  simulated pumps where that happened, and what it cost).

The other figures are recorded but not gated. The rank correlation of the *score* on held-out rows alone:
with a max-over-sensors score (``max-z``, the default) the ordering *among* normal readings is mostly
measurement noise, and rounding reorders readings far below the threshold without changing a decision.
The alert agreement on held-out + stress rows: the stress rows are built to sit around the threshold,
where a row-by-row comparison counts every near-threshold flip (the k-of-n alert policy absorbs those).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from edgewatch.bundle import FidelityBars, FidelityFigures

__all__ = ["FidelityBars", "agreement", "check_gate", "compare", "spearman", "stress_set"]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation with average ranks for ties (nan if either side is constant)."""
    from scipy.stats import rankdata

    ra = rankdata(a)
    rb = rankdata(b)
    if np.std(ra) == 0 or np.std(rb) == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def agreement(reference: np.ndarray, ref_threshold: float, candidate: np.ndarray, cand_threshold: float) -> float:
    return float(np.mean((reference > ref_threshold) == (candidate > cand_threshold)))


def compare(
    reference: np.ndarray, ref_threshold: float, candidate: np.ndarray, cand_threshold: float
) -> FidelityFigures:
    """The candidate's scores against the reference's, each at its own threshold."""
    return FidelityFigures(
        rank_correlation=spearman(reference, candidate),
        alert_agreement=agreement(reference, ref_threshold, candidate, cand_threshold),
        threshold_ratio=float(cand_threshold / ref_threshold) if ref_threshold > 0 else float("nan"),
        rows=len(reference),
    )


def with_reconstruction(figures: FidelityFigures, fp32_errors: np.ndarray, int8_errors: np.ndarray) -> FidelityFigures:
    """``figures`` plus the rank correlation of the plain mean squared reconstruction errors (n, F) of both
    models, before the score's weighting and aggregation."""
    correlation = spearman(fp32_errors.mean(axis=1), int8_errors.mean(axis=1))
    return dataclasses.replace(figures, reconstruction_rank_correlation=correlation)


STRESS_SHIFTS = (2.0, 6.0)  # the stress set's shifts, scaled units (standard deviations of training rows)


def stress_set(rows: np.ndarray, seed: int) -> np.ndarray:
    """Copies of scaled rows (n, window, F) with one random feature shifted by ±2-6 (:data:`STRESS_SHIFTS`,
    scaled units) over the newest quarter of each window (the whole reading for window 1)."""
    rng = np.random.default_rng(seed)
    stressed = np.array(rows, dtype=np.float32, copy=True)
    n, window, n_features = stressed.shape
    feature = rng.integers(0, n_features, n)
    shift = rng.choice([-1.0, 1.0], n) * rng.uniform(*STRESS_SHIFTS, n)
    span = max(1, window // 4)
    stressed[np.arange(n), -span:, feature] += shift[:, None].astype(np.float32)
    return stressed


def check_gate(
    held_out: FidelityFigures, held_out_plus_stress: FidelityFigures, bars: FidelityBars, *, artifact: str
) -> list[str]:
    """The gate (see the module docstring): reasons it fails, empty when the INT8 model may ship."""
    failures = []
    if held_out.alert_agreement < bars.min_alert_agreement:
        failures.append(
            f"{artifact}: alert agreement with FP32 on held-out rows {held_out.alert_agreement:.2%} "
            f"< {bars.min_alert_agreement:.2%}"
        )
    recon = held_out.reconstruction_rank_correlation
    recon = held_out.rank_correlation if recon is None else recon
    if not np.isfinite(recon) or recon < bars.min_rank_correlation:
        failures.append(
            f"{artifact}: reconstruction error rank correlation with FP32 on held-out rows {recon:.4f} "
            f"< {bars.min_rank_correlation}"
        )
    rc = held_out_plus_stress.rank_correlation
    if not np.isfinite(rc) or rc < bars.min_rank_correlation:
        failures.append(
            f"{artifact}: score rank correlation with FP32 on held-out + stress rows {rc:.4f} "
            f"< {bars.min_rank_correlation}"
        )
    ratio = held_out.threshold_ratio
    if not (np.isfinite(ratio) and 1 / bars.max_threshold_ratio <= ratio <= bars.max_threshold_ratio):
        failures.append(
            f"{artifact}: threshold {ratio:.2f}x the FP32 model's, outside 1/{bars.max_threshold_ratio} to "
            f"{bars.max_threshold_ratio}x (held-out readings outside the INT8 ranges?)"
        )
    return failures
