"""``edgewatch evaluate``: JSON figures, pooling, per-file training, the report, and refusals."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from edgewatch.bundle import load_bundle
from edgewatch.cli import main
from edgewatch.errors import BundleError
from edgewatch.evaluate.run import evaluate_bundle, evaluate_per_file_train, open_evaluated_backend

POINT_KEYS = {"precision", "recall", "f1", "false_alarm_rate", "missed_alarm_rate"}


def _check_pooled(pooled: dict) -> None:
    assert POINT_KEYS <= set(pooled["point"])
    for key in ("roc_auc", "pr_auc", "events", "false_alarms", "per_fault_type", "counts"):
        assert key in pooled
    for key in POINT_KEYS:
        v = pooled["point"][key]
        assert v is None or 0.0 <= v <= 1.0
    assert 0.0 <= pooled["roc_auc"] <= 1.0
    c = pooled["counts"]
    assert c["tp"] + c["fp"] + c["tn"] + c["fn"] == pooled["n_rows"]
    assert pooled["events"]["labelled"] >= 1
    assert 0 <= pooled["events"]["detected"] <= pooled["events"]["labelled"]
    assert pooled["false_alarms"]["per_day"] is None or pooled["false_alarms"]["per_day"] >= 0
    _check_lifecycle(pooled["lifecycle"], pooled)


def _check_lifecycle(cycle: dict, pooled: dict) -> None:
    rates = cycle["false_alarm_rate"]
    for key in ("before_first_fault", "after_fault", "within_post_fault"):
        share = rates[key]
        assert 0 <= share["flagged"] <= share["rows"]
        assert share["rate"] is None or 0.0 <= share["rate"] <= 1.0
    # the normal rows split into before and after the first fault
    c = pooled["counts"]
    assert rates["before_first_fault"]["rows"] + rates["after_fault"]["rows"] == c["fp"] + c["tn"]
    assert rates["before_first_fault"]["flagged"] + rates["after_fault"]["flagged"] == c["fp"]
    assert rates["within_post_fault"]["rows"] <= rates["after_fault"]["rows"]
    alerts = cycle["alerts"]
    assert 0 <= alerts["raised_in_faults"] <= alerts["raised"] and alerts["chattering"] <= alerts["raised"]
    assert alerts["detected_events"] == pooled["events"]["detected"]
    assert len(cycle["events"]) == pooled["events"]["labelled"]


def test_evaluate_json_keys_and_sane_values(bundle, labelled, tmp_path, capsys):
    out = tmp_path / "e.json"
    assert main(["evaluate", str(bundle), str(labelled[1]), "--label-col", "anomaly", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fault type" in text and "F1" in text
    assert "alert life cycle" in text and "chat" in text
    data = json.loads(out.read_text())
    assert data["protocol"] == "bundle" and data["runtime"] in ("litert", "onnx")
    assert len(data["files"]) == 1
    _check_pooled(data["pooled"])
    _check_lifecycle(data["files"][0]["metrics"]["lifecycle"], data["files"][0]["metrics"])
    per_type = data["pooled"]["per_fault_type"]
    assert "spike" in per_type and "stuck_sensor" in per_type  # the simulator's fault column is used
    # a well-separated simulated fault set: the model must do clearly better than chance
    assert data["pooled"]["roc_auc"] > 0.6
    assert data["configs"]["alerts"]["k"] >= 1


def test_pooling_two_files_adds_counts(bundle, labelled):
    a = evaluate_bundle(bundle, [labelled[0]])
    b = evaluate_bundle(bundle, [labelled[1]])
    both = evaluate_bundle(bundle, list(labelled))
    pa, pb, pab = a.pooled.counts, b.pooled.counts, both.pooled.counts
    assert pab == pa + pb
    assert both.pooled.n_events == a.pooled.n_events + b.pooled.n_events
    assert math.isclose(both.pooled.normal_duration_s, a.pooled.normal_duration_s + b.pooled.normal_duration_s)
    assert len(both.files) == 2


def test_skip_rows_and_semicolon_export(bundle, labelled, tmp_path):
    # ';'-separated export with a 'datetime' column, read as it comes
    src = labelled[1].read_text().splitlines()
    header = src[0].split(",")
    header[0] = "datetime"
    lines = [";".join(header)] + [";".join(r.split(",")) for r in src[1:]]
    semi = tmp_path / "semi.csv"
    semi.write_text("\n".join(lines) + "\n")
    full = evaluate_bundle(bundle, [labelled[1]])
    same = evaluate_bundle(bundle, [semi])
    assert same.pooled.counts == full.pooled.counts
    tail = evaluate_bundle(bundle, [labelled[1]], skip_rows=1200)
    assert tail.pooled.n_rows == full.pooled.n_rows - 1200
    assert tail.files[0].first_row == 1200


def test_per_file_train(labelled, tmp_path, capsys):
    out = tmp_path / "p.json"
    rc = main(
        [
            "evaluate",
            "--per-file-train",
            "1200",
            "--max-epochs",
            "3",
            *map(str, labelled),
            "--label-col",
            "anomaly",
            "--artifact",
            "litert-fp32",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    assert "INT8 gate" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["protocol"] == "per-file-train"
    assert [f["first_row"] for f in data["files"]] == [1200, 1200]
    assert data["pooled"]["n_rows"] == 2 * (3000 - 1200)
    for f in data["files"]:
        assert isinstance(f["training"]["fidelity_passed"], bool)
        assert f["artifact"] == "litert-fp32"  # --artifact applies to every file's bundle
    assert data["runtime"] == "litert" and data["options"]["artifact"] == "litert-fp32"
    _check_pooled(data["pooled"])


def test_per_file_train_runs_the_bundles_default_artifact_on_the_runtime_asked(labelled, tmp_path):
    from edgewatch.train.builder import TrainOptions
    from edgewatch.train.fit import FitSettings

    options = TrainOptions(fit=FitSettings(max_epochs=2, progress=False))
    kept = tmp_path / "bundles"
    run = evaluate_per_file_train([labelled[1]], 1200, options=options, runtime="onnx", keep_bundles=kept)
    (bundle_dir,) = kept.iterdir()
    assert run.runtime == "onnx"
    assert run.files[0].artifact == load_bundle(bundle_dir).manifest.default_artifact["onnx"]


def test_the_artifact_sets_the_runtime_unless_both_are_given(bundle):
    b = load_bundle(bundle)
    assert open_evaluated_backend(b, None, "onnx-fp32").artifact.name == "onnx-fp32"
    assert open_evaluated_backend(b, None, None).artifact.name == b.manifest.primary.name
    assert open_evaluated_backend(b, "onnx", None).artifact.name == b.manifest.default_artifact["onnx"]
    with pytest.raises(BundleError, match="runs on 'onnx', not 'litert'"):
        open_evaluated_backend(b, "litert", "onnx-fp32")
    with pytest.raises(BundleError, match="no artifact 'nope'"):
        open_evaluated_backend(b, None, "nope")


def test_files_of_one_name_in_two_folders_are_told_apart(bundle, labelled, tmp_path, capsys):
    for folder in ("valve1", "valve2"):
        (tmp_path / folder).mkdir()
        shutil.copy(labelled[1], tmp_path / folder / "1.csv")
    out = tmp_path / "n.json"
    paths = [str(tmp_path / "valve1" / "1.csv"), str(tmp_path / "valve2" / "1.csv")]
    assert main(["evaluate", str(bundle), *paths, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "valve1/1.csv" in text and "valve2/1.csv" in text
    data = json.loads(out.read_text())
    assert [f["name"] for f in data["files"]] == ["valve1/1.csv", "valve2/1.csv"]
    assert {e["source"] for e in data["pooled"]["events"]["list"]} == {"valve1/1.csv", "valve2/1.csv"}


def test_report_written_and_self_contained(bundle, labelled, tmp_path):
    report = tmp_path / "r.html"
    assert main(["evaluate", str(bundle), *map(str, labelled), "--report", str(report)]) == 0
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert 'id="edgewatch-data"' in html and "model-card" in html
    assert "fidelity" in html  # the model card includes the fidelity figures
    assert 'id="lifecycle"' in html and "Alert life cycle" in html and "chattering" in html
    for remote in ("http://", "https://", "<link ", " src="):
        assert remote not in html.replace("http://www.w3.org", "")


@pytest.mark.parametrize(
    "argv_tail, message",
    [
        (["--label-col", "nope"], "label column 'nope' not found"),
        (["--per-file-train", "0"], "positive"),
    ],
)
def test_bad_arguments(bundle, labelled, capsys, argv_tail, message):
    argv = ["evaluate", *([] if "--per-file-train" in argv_tail else [str(bundle)]), str(labelled[1]), *argv_tail]
    assert main(argv) != 0
    assert message in capsys.readouterr().err


def test_missing_label_column(bundle, labelled, tmp_path, capsys):
    src = labelled[1].read_text().splitlines()
    header = src[0].split(",")
    keep = [i for i, h in enumerate(header) if h != "anomaly"]
    nolabel = tmp_path / "nolabel.csv"
    nolabel.write_text("\n".join(",".join(r.split(",")[i] for i in keep) for r in src) + "\n")
    assert main(["evaluate", str(bundle), str(nolabel)]) != 0
    err = capsys.readouterr().err
    assert "error" in err and "label column" in err and "nolabel.csv" in err


def test_feature_mismatch(bundle, tmp_path, capsys):
    bad = tmp_path / "other.csv"
    rng = np.random.default_rng(0)
    rows = ["timestamp,a,b,anomaly"] + [f"{1_700_000_000 + i},{rng.normal()},{rng.normal()},0" for i in range(50)]
    bad.write_text("\n".join(rows) + "\n")
    assert main(["evaluate", str(bundle), str(bad)]) != 0
    err = capsys.readouterr().err
    assert "not in the file" in err and "other.csv" in err


def test_nonexistent_file_and_bundle(bundle, labelled, tmp_path, capsys):
    assert main(["evaluate", str(bundle), str(tmp_path / "missing.csv")]) != 0
    assert "file not found" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nobundle"), str(labelled[1])]) != 0
    assert "not a bundle directory" in capsys.readouterr().err
    assert main(["evaluate", "--per-file-train", "10", "--bundle", str(bundle), str(labelled[1])]) != 0
    assert "do not give --bundle" in capsys.readouterr().err


def test_bundle_option_equals_positional(bundle, labelled, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["evaluate", str(bundle), str(labelled[1]), "--json", str(a)]) == 0
    assert main(["evaluate", "--bundle", str(bundle), str(labelled[1]), "--json", str(b)]) == 0
    ja, jb = json.loads(a.read_text()), json.loads(b.read_text())
    assert ja["pooled"] == jb["pooled"]


def test_config_sections_apply_without_a_bundle_section(bundle, labelled, tmp_path, capsys):
    """--config takes the agent file's thresholds/alerts/checks; [bundle] may be left out."""
    config = tmp_path / "policy.toml"
    config.write_text('[alerts]\nk = 2\nn = 3\nsuppress_feature = "motor_current"\nsuppress_below = 1.0\n')
    out = tmp_path / "c.json"
    assert main(["evaluate", str(bundle), str(labelled[1]), "--config", str(config), "--json", str(out)]) == 0
    alerts = json.loads(out.read_text())["configs"]["alerts"]
    assert (alerts["k"], alerts["n"], alerts["suppress_feature"]) == (2, 3, "motor_current")
    config.write_text('[alerts]\nsuppress_feature = "rpm"\n')
    assert main(["evaluate", str(bundle), str(labelled[1]), "--config", str(config)]) != 0
    assert "alerts.suppress_feature" in capsys.readouterr().err


def test_runtime_onnx(bundle, labelled, tmp_path):
    out = tmp_path / "o.json"
    assert main(["evaluate", str(bundle), str(labelled[1]), "--runtime", "onnx", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["runtime"] == "onnx"


def test_compare_unknown_model(labelled, capsys):
    assert main(["compare", str(labelled[1]), "--models", "nope"]) != 0
    assert "unknown model kind" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_table_has_all_rows(labelled, tmp_path, capsys):
    out = tmp_path / "c.json"
    rc = main(
        [
            "compare",
            str(labelled[1]),
            "--label-col",
            "anomaly",
            "--train-rows",
            "1200",
            "--max-epochs",
            "2",
            "--calls",
            "50",
            "--readings",
            "20",
            "--repeats",
            "1",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "baseline" in text
    data = json.loads(out.read_text())
    arts = {(r["model"], r["artifact"]) for r in data["rows"]}
    for model in ("dense-ae", "conv-ae"):
        for art in ("litert-fp32", "litert-int8", "onnx-fp32", "onnx-int8"):
            assert (model, art) in arts
    assert ("iforest", "onnx-fp32") in arts
    for r in data["rows"]:
        assert not r["error"], r
        assert r["peak_rss_kb"] > 0 and r["startup_s"] > 0
        if r["artifact"] != "baseline":
            assert r["size_bytes"] > 0 and r["latency_us"] > 0
            assert r["quality"]["roc_auc"] is not None
