"""Calibrating the sustained-deviation threshold at training time (edgewatch.train.builder)."""

from __future__ import annotations

import numpy as np
import pytest

from edgewatch.core.sustained import sustained_levels
from edgewatch.runtime.base import ScoreBatch
from edgewatch.runtime.errors_math import Scoring
from edgewatch.train.builder import TrainOptions, _sustained_thresholds
from edgewatch.train.data import Recording

T0 = 1767225600.0


def recording(n: int, rate_hz: float = 1.0) -> Recording:
    ts = T0 + np.arange(n) / rate_hz
    return Recording(("a", "b"), np.zeros((n, 2)), ts, None, (("f.csv", 0, n),))


def plain_errors(n: int) -> dict[str, ScoreBatch]:
    errors = np.random.default_rng(0).exponential(1.0, size=(n, 2))
    return {"litert-int8": ScoreBatch(errors.max(axis=1), errors)}


def test_the_threshold_follows_the_rule_on_warm_held_out_levels() -> None:
    rec = recording(40_000)
    val = [(20_000, 40_000)]  # 20 000 s held out: 22 time constants of 900 s
    plain = plain_errors(20_000)
    scoring = Scoring(np.array([1.0, 1.0]), "max")
    thresholds, note = _sustained_thresholds(rec, val, 1, plain, scoring, TrainOptions())
    levels = sustained_levels(plain["litert-int8"].feature_errors, rec.timestamps[20_000:], 900.0)
    expected = 2.0 * np.quantile(levels[np.isfinite(levels)], 0.995)
    assert thresholds == {"litert-int8": pytest.approx(expected)}
    assert note.startswith("on:") and "900 s" in note
    # the per-reading threshold of the same rows is far higher: averaging removes the noise
    assert expected < 2.0 * np.quantile(plain["litert-int8"].scores, 0.995) / 2


def test_too_short_held_out_rows_or_an_iforest_or_tau_0_leave_it_off() -> None:
    rec = recording(2_000)
    val = [(1_600, 2_000)]
    plain = plain_errors(400)
    scoring = Scoring(None, "max")
    thresholds, note = _sustained_thresholds(rec, val, 1, plain, scoring, TrainOptions())
    assert thresholds == {} and note.startswith("off: the held-out rows hold 0 s")
    assert _sustained_thresholds(rec, val, 1, plain, scoring, TrainOptions(sustained_tau_s=0.0)) == ({}, "off")
    iforest = _sustained_thresholds(rec, val, 1, plain, scoring, TrainOptions(model="iforest"))
    assert iforest == ({}, "not available for an isolation forest")
