"""The Python API: the README's quick start runs exactly as written, and each piece is the command line's and
the agent's own computation (no second pipeline)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# this checkout's edgewatch, from the test's temporary directory too
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}


def _quick_start() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, "README has no Python quick start"
    return block.group(1)


def test_the_readme_quick_start_is_five_lines() -> None:
    lines = [line for line in _quick_start().splitlines() if line.strip()]
    assert len(lines) == 5, lines


@pytest.mark.slow
def test_the_readme_quick_start_runs_as_written(tmp_path: Path) -> None:
    simulate = [
        sys.executable,
        "-m",
        "edgewatch.cli",
        "simulate",
        "--out",
        "pump.csv",
        "--duration",
        "3h",
        "--seed",
        "2",
        "--faults",
        "none",
    ]
    subprocess.run(simulate, cwd=tmp_path, check=True, capture_output=True, timeout=300, env=ENV)
    check = (
        "import json, math\n"
        "from edgewatch.core.events import ScoredReading\n"
        "print(json.dumps({'rows': recording.n_rows, 'scores': len(scores),"
        " 'finite': int(sum(not math.isnan(s) for s in scores)), 'above': int((scores > detector.threshold_).sum()),"
        " 'events': [e.to_json()['event'] for e in events],"
        " 'bundle': (__import__('pathlib').Path('pump-bundle') / 'manifest.json').is_file()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", _quick_start() + check],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bundle"] and result["rows"] == result["scores"] == 3 * 3600
    assert result["finite"] == result["rows"]  # a dense model scores every complete row
    assert result["above"] < 0.05 * result["rows"]  # normal operation, mostly below the threshold
    assert result["events"] == ["scored"]


def test_decision_function_is_edgewatch_scores_computation(
    tmp_path: Path, dense_bundle: Path, normal_csv: Path
) -> None:
    from edgewatch import api
    from edgewatch.cli import main

    detector = api.load(dense_bundle)
    recording = api.read(normal_csv)
    rows = recording.values[:300]
    scores = detector.decision_function(rows)
    out = tmp_path / "scores.csv"
    head = tmp_path / "head.csv"
    head.write_text("".join(normal_csv.read_text().splitlines(keepends=True)[:301]))
    assert main(["score", str(dense_bundle), str(head), "--out", str(out)]) == 0
    column = [float(line.split(",")[3]) for line in out.read_text().splitlines()[1:]]
    np.testing.assert_allclose(scores, column, rtol=1e-5)
    assert detector.predict(rows).tolist() == [int(s > detector.threshold_) for s in scores]
    by_name = detector.decision_function({f: recording.values[:300, j] for j, f in enumerate(recording.features)})
    np.testing.assert_array_equal(by_name, scores)
    result = detector.score(rows)
    assert result.feature_errors.shape == (300, len(detector.features)) and result.threshold == detector.threshold_


def test_the_monitor_returns_the_agents_events(dense_bundle: Path, normal_csv: Path) -> None:
    from edgewatch import api
    from edgewatch.core.alerts import AlertConfig
    from edgewatch.core.config import PipelineConfig
    from edgewatch.core.events import AlertEvent, ScoredReading
    from edgewatch.core.pipeline import Pipeline

    detector = api.load(dense_bundle)
    recording = api.read(normal_csv)
    values = recording.values[:80].copy()
    values[60:70, 0] += 50 * recording.values[:, 0].std()  # a fault on the first sensor
    config = PipelineConfig(alerts=AlertConfig(k=3, n=5))
    monitor = detector.monitor(config)
    events = []
    for i, row in enumerate(values):
        events += monitor.score_one("p1", 1_767_225_600.0 + i, row)
    from edgewatch.core.payload import Reading

    reference = Pipeline(detector.manifest, detector.backend, config).process_readings(
        [("p1", Reading(1_767_225_600.0 + i, row)) for i, row in enumerate(values)]
    )
    assert [e.to_json() for e in events if not isinstance(e, ScoredReading)] == [
        e.to_json() for e in reference if not isinstance(e, ScoredReading)
    ]
    raised = [e for e in events if isinstance(e, AlertEvent) and e.state == "raised"]
    assert raised and raised[0].top_features[0].feature == recording.features[0]
    named = monitor.score_one("p2", 1_767_225_600.0, dict(zip(recording.features, values[0], strict=True)))
    assert isinstance(named[0], ScoredReading)
    with pytest.raises(ValueError, match="unknown feature"):
        monitor.score_one("p2", 1_767_225_601.0, {"nope": 1.0})


def test_train_takes_an_array_with_feature_names(tmp_path: Path, normal_csv: Path) -> None:
    pytest.importorskip("tensorflow")
    from edgewatch import api
    from edgewatch.train.fit import FitSettings

    recording = api.read(normal_csv)
    bundle = api.train(
        recording.values[:1500],
        tmp_path / "b",
        features=recording.features,
        fit=FitSettings(max_epochs=2, progress=False),
        allow_low_fidelity=True,
    )
    assert bundle.manifest.features == recording.features
    with pytest.raises(ValueError, match="features"):
        api.train(recording.values, tmp_path / "c")
