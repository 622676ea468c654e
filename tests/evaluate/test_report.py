"""The self-contained HTML report: content, structure, embedded data, size, escaping."""

from __future__ import annotations

import dataclasses
import json
import re
import stat
from collections.abc import Callable
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgewatch.evaluate import _report_data
from edgewatch.evaluate.metrics import EvaluationResult, evaluate_arrays, pool
from edgewatch.evaluate.report import (
    MAX_HEAT_BINS,
    MAX_SCORE_BINS,
    ModelCard,
    ReportSeries,
    render_report,
    write_report,
)

VOID = {"meta", "br", "input", "img", "hr", "link", "col", "wbr"}


class StrictStructure(HTMLParser):
    """Checks every non-void element is closed, in order; collects the JSON data block and attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.json_blocks: list[str] = []
        self._in_json = False
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag == "script" and ("type", "application/json") in attrs:
            self._in_json = True
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()
        self._in_json = False

    def handle_data(self, data: str) -> None:
        if self._in_json:
            self.json_blocks.append(data)


def _strict_json(text: str) -> Any:
    def no_constants(name: str) -> Any:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=no_constants)


def _evaluate(series: list[ReportSeries]) -> EvaluationResult:
    return pool(
        [
            evaluate_arrays(s.labels, s.alert_active, s.scores, s.timestamps, s.fault_types, source=s.name)
            for s in series
        ]
    )


def _render(series: list[ReportSeries], model_card: ModelCard, features: list[str]) -> str:
    return render_report(
        title="Pump line evaluation",
        series=series,
        result=_evaluate(series),
        model_card=model_card,
        feature_names=features,
    )


def _parse(html: str) -> StrictStructure:
    parser = StrictStructure()
    parser.feed(html)
    parser.close()
    return parser


def test_report_structure_and_content(
    make_series: Callable[..., ReportSeries], model_card: ModelCard, features: list[str]
) -> None:
    series = [make_series("line-1.csv", n=5000, seed=1), make_series("line-2.csv", n=3000, seed=2)]
    result = _evaluate(series)
    html = render_report(
        title="Pump line evaluation",
        series=series,
        result=result,
        model_card=model_card,
        feature_names=features,
    )
    parsed = _parse(html)
    assert parsed.doctype.lower() == "doctype html"
    assert parsed.problems == [] and parsed.stack == []
    for tag in ("html", "head", "body", "title", "style", "canvas", "table"):
        assert tag in parsed.tags
    assert "<title>Pump line evaluation</title>" in html
    # series, plots and legend
    for name in ("line-1.csv", "line-2.csv"):
        assert name in html
    assert html.count('<canvas class="score"') == 2 and html.count('<canvas class="heat"') == 2
    assert "threshold in force" in html and "alert active" in html
    assert 'class="line sus"' not in html  # no sustained level given: no legend entry for it
    # metrics and per-fault-type table
    for label in (
        "precision",
        "recall",
        "F1",
        "false alarm rate",
        "ROC AUC",
        "PR AUC",
        "event recall",
        "median delay",
        "false alarms per day",
    ):
        assert label in html, label
    assert f"{result.roc_auc:.3f}" in html and f"{result.f1:.3f}" in html
    for fault in result.per_fault_type:
        assert fault in html
    # model card: facts taken from the dictionary
    assert "dense-ae-3f2a9c1b" in html and "quantile" in html and "86,400" in html
    assert "alert_agreement" in html and "0.9991" in html
    for f in features:
        assert f in html


def test_embedded_data_is_strict_json(
    make_series: Callable[..., ReportSeries], model_card: ModelCard, features: list[str]
) -> None:
    series = [make_series("a.csv", n=4000, seed=3)]
    parsed = _parse(_render(series, model_card, features))
    assert len(parsed.json_blocks) == 1
    data = _strict_json(parsed.json_blocks[0])
    (s,) = data["series"]
    assert s["name"] == "a.csv" and s["epoch"] is True
    assert len(s["score"]["t"]) <= MAX_SCORE_BINS
    assert len(s["heat"]["v"]) == len(features) and len(s["heat"]["v"][0]) <= MAX_HEAT_BINS
    assert s["heat"]["features"] == features
    assert s["faults"] and all(len(f) == 5 for f in s["faults"])
    assert set(data["palette"]) >= set(s["fault_types"])
    assert s["score"]["brk"] == []  # the NaN warm-up is at the start, so nothing to break
    assert s["scale"]["log"] is True


def test_no_network_resources(
    make_series: Callable[..., ReportSeries], model_card: ModelCard, features: list[str]
) -> None:
    html = _render([make_series(n=2000)], model_card, features)
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html and "@import" not in html
    parsed = _parse(html)
    assert not [a for a in parsed.attrs if a[0] in ("src", "href") and not (a[1] or "").startswith("#")]


def test_a_100k_row_file_gives_a_small_report(
    make_series: Callable[..., ReportSeries], model_card: ModelCard, features: list[str]
) -> None:
    html = _render([make_series(n=100_000, seed=4)], model_card, features)
    assert len(html.encode()) < 1_500_000


def test_binning_keeps_isolated_spikes_and_breaks_at_unscored_rows() -> None:
    n = 50_000
    t = np.arange(n, dtype=float)
    scores = np.full(n, 0.1)
    scores[31_337] = 1e4
    scores[20_000:20_050] = np.nan
    payload = _report_data.score_payload(t, scores, np.full(n, 1.0), max_bins=1000)
    assert len(payload["t"]) <= 1000
    assert max(payload["hi"]) == 1e4 and min(payload["lo"]) == 0.1
    assert len(payload["brk"]) == 1
    # a constant threshold is stored once
    assert payload["thr_v"] == [1.0] and payload["thr_t"] == [0.0]


def test_short_series_is_kept_row_by_row_and_data_gaps_break_the_line() -> None:
    t = np.array([0.0, 1.0, 2.0, 3.0, 100.0, 101.0])
    scores = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    payload = _report_data.score_payload(t, scores, np.array([1, 1, 2, 2, 2, 3.0]), max_bins=100)
    assert payload["lo"] == payload["hi"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert payload["brk"] == [4]
    assert payload["thr_v"] == [1.0, 2.0, 3.0] and payload["thr_t"] == [0.0, 2.0, 101.0]


def _with_level(s: ReportSeries) -> ReportSeries:
    """``s`` with a sustained level on the threshold's scale: NaN for a warm-up after the score's, then a
    slow wave that crosses the threshold."""
    n = len(s.scores)
    thresholds = np.asarray(s.thresholds, dtype=float)
    level = thresholds * (0.3 + 1.2 * np.sin(np.arange(n) / (n / 9)) ** 2)
    level[:200] = np.nan
    return dataclasses.replace(s, sustained=level)


def test_sustained_level_is_drawn_on_the_score_bins(
    make_series: Callable[..., ReportSeries], model_card: ModelCard, features: list[str]
) -> None:
    with_level = _with_level(make_series("drift.csv", n=5000, seed=5))
    without = make_series("plain.csv", n=3000, seed=6)
    html = _render([with_level, without], model_card, features)
    parsed = _parse(html)
    assert parsed.problems == [] and parsed.stack == []
    a, b = _strict_json(parsed.json_blocks[0])["series"]
    v = a["sustained"]["v"]
    assert len(v) == len(a["score"]["t"]) < 5000  # binned like the score, one entry per score bin
    assert v[0] is None and v[-1] is not None  # warm-up bins have no level
    scored = np.isfinite(np.asarray(with_level.scores))
    assert max(x for x in v if x is not None) == pytest.approx(np.nanmax(with_level.sustained[scored]), rel=1e-3)
    assert b["sustained"] is None
    # the legend names it once, for the series that has it, before that series' alert entry
    assert html.count('class="line sus"') == 1
    label = html.index("sustained level (scaled to the threshold)</span>")
    assert html.index("drift.csv</h2>") < label < html.index("plain.csv</h2>")


def test_a_series_without_a_level_renders_as_before(
    make_series: Callable[..., ReportSeries], model_card: ModelCard, features: list[str]
) -> None:
    plain = make_series("a.csv", n=2000, seed=7)
    all_nan = dataclasses.replace(plain, sustained=np.full(2000, np.nan))  # a bundle without the channel
    (p1,) = _strict_json(_parse(_render([plain], model_card, features)).json_blocks[0])["series"]
    html = _render([all_nan], model_card, features)
    (p2,) = _strict_json(_parse(html).json_blocks[0])["series"]
    assert p1["sustained"] is None and p1 == p2
    assert 'class="line sus"' not in html


def test_sustained_level_must_match_the_rows(features: list[str]) -> None:
    result = evaluate_arrays([0, 1], [0, 1], [0.1, 2.0], [0.0, 1.0])
    bad = ReportSeries("x", [0.0, 1.0], [1.0, 2.0], 1.0, [True, False], sustained=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="sustained"):
        render_report(title="t", series=[bad], result=result, model_card=ModelCard(), feature_names=features)


def test_level_payload_keeps_each_bins_max_and_ignores_unscored_rows() -> None:
    n = 50_000
    t = np.arange(n, dtype=float)
    scores = np.full(n, 0.1)
    scores[20_000:20_050] = np.nan
    levels = np.full(n, 0.5)
    levels[:1000] = np.nan  # warming up
    levels[31_337] = 7.0
    levels[20_010] = 99.0  # on a row that was not scored: not drawn
    payload = _report_data.level_payload(t, scores, levels, max_bins=1000)
    assert payload is not None
    assert len(payload["v"]) == len(_report_data.score_payload(t, scores, np.ones(n), 1000)["t"])
    assert payload["v"][0] is None and max(x for x in payload["v"] if x is not None) == 7.0
    # short series: row by row, on the scored rows only
    short = _report_data.level_payload(
        np.arange(4.0), np.array([1.0, np.nan, 1.0, 1.0]), np.array([np.nan, 5.0, 2.0, 3.0]), 100
    )
    assert short == {"v": [None, 2.0, 3.0]}
    assert _report_data.level_payload(t, scores, np.full(n, np.nan), 1000) is None


def test_y_scale_counts_the_level_only_when_given() -> None:
    scores, thresholds = np.array([1.0, 2.0, np.nan]), np.array([1.5, 1.5, 1.5])
    assert _report_data.y_scale(scores, thresholds)["log"] is False
    assert _report_data.y_scale(scores, thresholds, np.array([np.nan, 500.0, 600.0]))["log"] is True


def test_alert_intervals_merge_tiny_gaps() -> None:
    t = np.arange(10_000, dtype=float)
    alert = np.zeros(10_000, dtype=bool)
    alert[100:200] = True
    alert[202:300] = True  # a 2-row gap in a 10 000 s span: invisible, merged
    alert[5000:5001] = True
    assert _report_data.alert_intervals(t, alert) == [[100.0, 300.0], [5000.0, 5001.0]]


def test_html_in_names_is_escaped(model_card: ModelCard) -> None:
    n = 50
    evil = "</script><script>alert(1)</script>"
    labels = np.zeros(n, dtype=int)
    labels[10:20] = 1
    types = np.array([""] * n, dtype=object)
    types[10:20] = evil
    s = ReportSeries(
        name=f"<b>{evil}</b>",
        timestamps=np.arange(n, dtype=float),
        scores=np.linspace(0.1, 2, n),
        thresholds=1.0,
        alert_active=np.arange(n) > 30,
        labels=labels,
        fault_types=types,
        feature_errors=np.ones((n, 1)),
    )
    card = replace(model_card, facts=(*model_card.facts, ("notes", evil)), full={**model_card.full, "notes": evil})
    html = render_report(title=evil, series=[s], result=_evaluate([s]), model_card=card, feature_names=[evil])
    assert evil not in html
    parsed = _parse(html)
    assert parsed.problems == [] and parsed.stack == []
    data = _strict_json(parsed.json_blocks[0])
    assert data["series"][0]["name"] == f"<b>{evil}</b>"
    assert data["series"][0]["fault_types"] == [evil]


def test_minimal_series_without_labels_or_feature_errors(features: list[str]) -> None:
    n = 200
    s = ReportSeries(
        name="unlabelled.csv",
        timestamps=np.arange(n) * 2.0,
        scores=np.full(n, np.nan),
        thresholds=0.5,
        alert_active=np.zeros(n, dtype=bool),
    )
    one = ReportSeries(name="one-row", timestamps=[5.0], scores=[0.3], thresholds=[0.5], alert_active=[True])
    result = evaluate_arrays(np.zeros(n, int), np.zeros(n, bool), np.full(n, np.nan), np.arange(n))
    html = render_report(title="t", series=[s, one], result=result, model_card=ModelCard(), feature_names=features)
    parsed = _parse(html)
    assert parsed.problems == []
    data = _strict_json(parsed.json_blocks[0])
    assert data["series"][0]["score"]["t"] == [] and data["series"][0]["heat"] is None
    assert data["series"][0]["scale"]["log"] is False  # only the threshold to show
    assert data["series"][1]["alerts"] == [[0.0, 1.0]]
    assert "No per-sensor errors" in html and "No labelled fault events" in html


def test_report_rejects_mismatched_arrays(features: list[str]) -> None:
    result = evaluate_arrays([0, 1], [0, 1], [0.1, 2.0], [0.0, 1.0])
    bad_alert = ReportSeries("x", [0.0, 1.0, 2.0], [1.0, 2.0, 3.0], 1.0, [True, False])
    with pytest.raises(ValueError, match="alert_active"):
        render_report(title="t", series=[bad_alert], result=result, model_card=ModelCard(), feature_names=features)
    bad_errors = ReportSeries("x", [0.0, 1.0], [1.0, 2.0], 1.0, [True, False], feature_errors=np.ones((2, 2)))
    with pytest.raises(ValueError, match="feature_errors"):
        render_report(title="t", series=[bad_errors], result=result, model_card=ModelCard(), feature_names=features)


def test_datetime64_timestamps_and_linear_scale(features: list[str]) -> None:
    n = 300
    ts = np.datetime64("2026-03-01T00:00:00") + np.arange(n) * np.timedelta64(1, "s")
    rng = np.random.default_rng(0)
    s = ReportSeries("iforest.csv", ts, 0.4 + 0.1 * rng.random(n), 0.55, np.zeros(n, dtype=bool))
    result = evaluate_arrays(np.zeros(n, int), np.zeros(n, bool), s.scores, ts)
    html = render_report(title="t", series=[s], result=result, model_card=ModelCard(), feature_names=features)
    parsed = _parse(html)
    (payload,) = _strict_json(parsed.json_blocks[0])["series"]
    assert payload["epoch"] is True and payload["scale"] == {"log": False, "log_ok": True}


def test_write_report(tmp_path: Path) -> None:
    target = write_report(tmp_path / "sub" / "report.html", "<!DOCTYPE html><p>é</p>")
    assert target == tmp_path / "sub" / "report.html"
    assert target.read_text(encoding="utf-8") == "<!DOCTYPE html><p>é</p>"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_model_card_shows_its_facts_then_the_whole_card(features: list[str]) -> None:
    card = {
        "model": {"kind": "conv-ae", "window": 32},
        "model_id": "conv-ae-00112233",
        "threshold": {"value": 0.0123, "rule": "pot", "params": {"q": 1e-4}},
        "scaler": {"center": list(range(100))},
        "fidelity": None,
        "training": {"rows": 123456},
    }
    facts = (("model id", "conv-ae-00112233"), ("window", 32), ("training rows", 123456), ("created", None))
    result = evaluate_arrays([0, 1], [0, 1], [0.1, 2.0], [0.0, 1.0])
    s = ReportSeries("x", [0.0, 1.0], [0.1, 2.0], 1.0, [False, True])
    html = render_report(
        title="t",
        series=[s],
        result=result,
        model_card=ModelCard(facts, card, "conv-ae-00112233"),
        feature_names=features,
    )
    assert "conv-ae-00112233" in html and "0.0123" in html and "123,456" in html and "pot" in html
    assert "(100 values)" in html  # long lists are cut
    assert re.search(r"window</span><b>32</b>", html)
    assert "<span>created</span>" not in html  # a fact without a value is left out
