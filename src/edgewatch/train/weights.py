"""Per-feature score weights, bounded by how much the held-out rows can say about each feature.

The weighted scores (``--score max-z``, the default, and ``mean-z``) divide each feature's squared error by
its mean on normal held-out rows, so a sensor the model reconstructs closely counts as much as a noisy one.
That mean is an estimate, and on a short recording it can be a poor one: a slow sensor (a thermocouple, a
temperature) sampled at 1 Hz over a few minutes wanders in one direction only, its held-out errors are all
alike and all small, and dividing by their mean makes the sensor's next slow move look like a fault
(docs/evaluation.md: most false alarms after a fault on SKAB were a thermocouple a fraction of a degree off).

So the mean is replaced by an upper confidence bound on it that accounts for autocorrelation: a series of
``n`` rows whose signed residuals have autocorrelations ``rho_k`` carries about
``n_eff = n / (1 + 2 sum_k rho_k)`` independent rows (summed while they stay positive; a lag-1 AR(1) estimate
missed slow sensors whose quantisation noise hides the trend at lag 1), and for Gaussian
residuals ``n_eff * mean / sigma^2`` is chi-square with ``n_eff`` degrees of freedom, so the one-sided 95%
upper bound on the feature's true mean squared error is::

    mean_j * n_eff_j / chi2.ppf(0.05, n_eff_j)

A fast, well-sampled sensor has ``n_eff`` close to ``n`` and its bound is its mean times the same factor as
every other such sensor (about 1.3 for 80 rows), so after normalising the weights are the plain ones; a slow
sensor that the rows cannot pin down (``n_eff`` of a few rows) gets a bound many times its mean and a small
weight: too little was seen of it to call its next slow move a fault. With a long training recording every
``n_eff`` is large and the weights are the plain ones. Weights average 1, and a feature's bound is floored at
a quarter of the mean bound (weights <= 4x) as before.
"""

from __future__ import annotations

import numpy as np

from edgewatch.runtime.scoring import WEIGHT_FLOOR

CONFIDENCE = 0.95  # one-sided


def effective_sample_size(residuals: np.ndarray) -> np.ndarray:
    """Per column of time-ordered ``residuals`` (n, F): ``n / (1 + 2 * sum_k rho_k)``, the autocorrelations
    ``rho_k`` summed from lag 1 up to the first lag where they are no longer positive (at most ``n / 2``: the
    initial positive sequence); at least 1."""
    r = np.asarray(residuals, dtype=np.float64)
    n, n_features = r.shape
    if n < 3:
        return np.ones(n_features)
    centred = r - r.mean(axis=0)
    variance = (centred * centred).sum(axis=0)
    n_eff = np.ones(n_features)
    for j in range(n_features):
        if variance[j] <= 0:
            continue  # a constant residual: one row's worth of information
        series = centred[:, j]
        total = 0.0
        for lag in range(1, n // 2):
            rho = float(series[lag:] @ series[:-lag]) / variance[j]
            if rho <= 0:
                break
            total += rho
        n_eff[j] = max(n / (1.0 + 2.0 * total), 1.0)
    return n_eff


def bounded_feature_weights(squared_errors: np.ndarray, residuals: np.ndarray) -> np.ndarray:
    """Weights ``1 / UCB(mean squared error)`` per feature (mean 1), from held-out rows in time order:
    ``squared_errors`` and signed ``residuals``, both (n, F)."""
    from scipy.stats import chi2  # the train extra's; the edge never computes weights

    errors = np.asarray(squared_errors, dtype=np.float64)
    n_eff = effective_sample_size(residuals)
    bound = errors.mean(axis=0) * n_eff / chi2.ppf(1.0 - CONFIDENCE, n_eff)
    floor = max(float(bound.mean()) * WEIGHT_FLOOR, 1e-12)
    inverse: np.ndarray = 1.0 / np.maximum(bound, floor)
    weights: np.ndarray = inverse / inverse.mean()
    return weights
