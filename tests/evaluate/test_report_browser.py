"""Open a rendered report in headless Chromium and check every plot drew without a JavaScript error.

Skipped with a reason when Chromium is not installed, except under CI (``CI`` set), where the README
setup installs it and a missing browser is a failure.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgewatch.evaluate.metrics import evaluate_arrays, pool
from edgewatch.evaluate.report import ModelCard, ReportSeries, render_report, write_report

pytestmark = pytest.mark.browser


def _chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail("CI is set but chromium is missing: the README setup installs it (apt-get install chromium)")
    pytest.skip("headless chromium is not installed (apt-get install -y chromium); not running under CI, so skipping")


def _open(exe: str, page: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--window-size=1400,2400",
        "--dump-dom",
        page.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def _body_tag(dom: str) -> str:
    start = dom.find("<body")
    assert start >= 0, f"no <body> in the dumped DOM: {dom[:500]!r}"
    return dom[start : dom.index(">", start) + 1]


def _with_level(s: ReportSeries) -> ReportSeries:
    """``s`` with a sustained level (scaled to the threshold): a slow wave after a NaN warm-up."""
    n = len(s.scores)
    level = np.asarray(s.thresholds, dtype=float) * (0.3 + 1.2 * np.sin(np.arange(n) / (n / 9)) ** 2)
    level[: n // 10] = np.nan
    return dataclasses.replace(s, sustained=level)


def _report(make_series: Callable[..., ReportSeries], model_card: ModelCard, features: list[str]) -> str:
    n = 300
    unlabelled = ReportSeries(
        name="unlabelled-iforest.csv",
        timestamps=np.arange(n) * 0.5,
        scores=0.4 + 0.1 * np.random.default_rng(0).random(n),
        thresholds=0.55,
        alert_active=np.zeros(n, dtype=bool),
    )
    series = [
        _with_level(make_series("line-1.csv", n=100_000, seed=1)),  # binned, with a sustained level
        _with_level(make_series("bench.csv", n=400, seed=3, step_s=1.0, t0=0.0)),  # row by row
        unlabelled,  # no sustained level
    ]
    labelled = series[:2]
    result = pool(
        [
            evaluate_arrays(s.labels, s.alert_active, s.scores, s.timestamps, s.fault_types, source=s.name)
            for s in labelled
        ]
    )
    return render_report(
        title="Browser check", series=series, result=result, model_card=model_card, feature_names=features
    )


def test_report_renders_without_javascript_errors(
    tmp_path: Path,
    make_series: Callable[..., ReportSeries],
    model_card: ModelCard,
    features: list[str],
) -> None:
    exe = _chromium()
    page = write_report(tmp_path / "report.html", _report(make_series, model_card, features))
    proc = _open(exe, page, tmp_path / "profile")
    body = _body_tag(proc.stdout)
    assert 'data-rendered="ok"' in body, f"{body}\nstderr:\n{proc.stderr[-3000:]}"
    assert "data-errors" not in body
    assert "Uncaught" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stdout.count("sustained level (scaled to the threshold)</span>") == 2


@pytest.mark.parametrize("breakage", ["missing-canvas", "corrupt-data"])
def test_the_check_catches_a_broken_page(
    tmp_path: Path,
    breakage: str,
    make_series: Callable[..., ReportSeries],
    model_card: ModelCard,
    features: list[str],
) -> None:
    """A control: the same check must notice a failing plot and an uncaught script error."""
    exe = _chromium()
    html = _report(make_series, model_card, features)
    if breakage == "missing-canvas":
        html = html.replace('<canvas class="score"', '<div class="score"', 1)
    else:
        html = html.replace('id="edgewatch-data">{', 'id="edgewatch-data">{oops', 1)
    page = write_report(tmp_path / "broken.html", html)
    proc = _open(exe, page, tmp_path / "profile")
    body = _body_tag(proc.stdout)
    assert 'data-rendered="ok"' not in body
    assert "data-errors=" in body
    if breakage == "corrupt-data":
        assert "Uncaught" in proc.stderr
