"""The manifest's records refuse what the device could not use, naming the dotted field."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from edgewatch.bundle import Manifest
from edgewatch.errors import BundleError
from tests.fakes import GATE_FAILURE, int8_manifest_dict, manifest_dict


def test_a_valid_manifest_is_typed_records() -> None:
    m = Manifest.from_json(manifest_dict(sustained=(900.0, 0.5, 120.0), run_indicator=("pressure", 1.0)))
    assert m.features == ("temp", "pressure", "vibration") and m.window == 1 and m.n_features == 3
    assert m.primary.name == "fake" and m.default_runtime == "litert"
    assert m.artifact_for("litert").threshold.value == 4.0 and m.artifact("fake").threshold.sustained == 0.5
    assert m.scoring.sustained is not None and m.scoring.sustained.fast_tau_s == 120.0
    assert m.run_indicator is not None and m.run_indicator.feature == "pressure"
    assert Manifest.from_json(m.to_json()) == m


def test_artifact_lookup_names_what_there_is() -> None:
    m = Manifest.from_json(manifest_dict())
    with pytest.raises(BundleError, match=r"no artifact 'onnx-int8' \(has: fake\)"):
        m.artifact("onnx-int8")
    with pytest.raises(BundleError, match="no model for runtime 'onnx'"):
        m.artifact_for("onnx")


def edit(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set the dotted ``path`` (list indices as numbers) of a manifest dict to ``value``; ``...`` deletes it."""

    def apply(data: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = data
        for key in parents:
            node = node[key]
        if value is ...:
            del node[last]
        else:
            node[last] = value

    return apply


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (edit("scaler.scale.1", 0.0), "scaler.scale: every scale must be a positive finite number"),
        (edit("scaler.center", [0.0]), "scaler: center and scale must be lists of equal length"),
        (edit("scaler", {"center": [0.0], "scale": [1.0]}), "scaler.center: must have 3 values"),
        (edit("features", ["a", "a", "b"]), "features: must be a non-empty list of unique names"),
        (edit("feature_stats.0.name", "other"), "feature_stats: must list the features in manifest order"),
        (edit("feature_stats.0.q50", ...), "feature_stats[0].q50: is required"),
        (edit("model.kind", "lstm"), "model.kind: expected one of 'dense-ae', 'conv-ae', 'iforest', got 'lstm'"),
        (edit("model.window", 0), "model.window: expected an integer >= 1"),
        (edit("scoring.aggregate", "median"), "scoring.aggregate: expected one of 'mean', 'max', got 'median'"),
        (edit("scoring.feature_weights", [1.0, 2.0]), "scoring.feature_weights: must have 3 values"),
        (edit("scoring.feature_weights", [0.0, 1.0, 1.0]), "scoring.feature_weights: must be positive finite"),
        (edit("scoring.extra", 1), "scoring.extra: unknown key"),
        (
            edit("artifacts.0.threshold.value", "high"),
            "artifacts[0].threshold.value: expected a finite number, got 'high'",
        ),
        (edit("artifacts.0.runtime", "tvm"), "artifacts[0].runtime: expected one of 'litert', 'onnx'"),
        (edit("artifacts.0.file", "nope.bin"), "artifacts.fake.file: 'nope.bin' is not listed in files"),
        (edit("default_artifact", {"onnx": "fake"}), "default_artifact: 'onnx': 'fake' is not an artifact"),
        (edit("probe.file", "other.npy"), "probe.file: 'other.npy' is not listed in files"),
        (edit("probe.rows", 0), "probe.rows: expected a positive integer, got 0"),
        (edit("probe.tolerance", -1), "probe.tolerance: expected a positive number, got -1"),
        (edit("artifacts.0.probe_scores", [0.0]), "artifacts.fake.probe_scores: must be 2 numbers"),
        (edit("artifacts.0.probe_scores.1", "x"), "artifacts[0].probe_scores[1]: expected a number"),
        (edit("artifacts.0.probe_scores", ...), "artifacts[0].probe_scores: is required"),
        (
            edit(
                "run_indicator",
                {"feature": "nope", "below": 1.0, "stops": 1, "stopped_fraction": 0.1, "companions": []},
            ),
            "run_indicator: 'nope' is not one of the features",
        ),
        (edit("run_indicator", ["temp", 1.0]), "run_indicator: expected a table"),
        (edit("training.seed", 1.5), "training.seed: expected an integer, got 1.5"),
    ],
)
def test_a_malformed_manifest_names_the_field(change: Callable[[dict[str, Any]], None], field: str) -> None:
    data = manifest_dict()
    change(data)
    with pytest.raises(BundleError, match=re.escape(field)):
        Manifest.from_json(data)


def test_a_run_indicator_below_must_be_finite() -> None:
    data = manifest_dict(run_indicator=("temp", 1.0))
    data["run_indicator"]["below"] = float("nan")
    with pytest.raises(BundleError, match=r"run_indicator\.below: expected a finite number, got nan"):
        Manifest.from_json(data)
    data["run_indicator"]["below"] = float("inf")
    with pytest.raises(BundleError, match=r"run_indicator\.below: expected a finite number, got inf"):
        Manifest.from_json(data)


def _with(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    edit(path, value)(data)
    return data


def test_a_fallback_manifest_records_the_unfaithful_int8_model() -> None:
    m = Manifest.from_json(int8_manifest_dict())
    assert m.primary.name == "litert-fp32" and m.fidelity is not None
    assert m.fidelity.unfaithful == ("litert-int8",) and m.fidelity.on_failure == "fallback-fp32"
    int8 = m.artifact("litert-int8").fidelity
    assert int8 is not None and not int8.faithful and int8.failures == (GATE_FAILURE,)
    assert Manifest.from_json(m.to_json()) == m


@pytest.mark.parametrize(
    ("data", "field"),
    [
        # the rule that keeps a device from running an unfaithful INT8 model silently
        (
            int8_manifest_dict(default="litert-int8"),
            "default_artifact: 'litert': 'litert-int8' failed the fidelity gate",
        ),
        (int8_manifest_dict(failed=False) | {"fidelity": None}, None),
        (
            _with(int8_manifest_dict(), "fidelity.unfaithful", ["litert-fp32"]),
            "fidelity.unfaithful: 'litert-fp32' is not",
        ),
        (_with(int8_manifest_dict(), "fidelity.passed", True), "fidelity.passed: passed is true but unfaithful lists"),
        (_with(int8_manifest_dict(), "fidelity.on_failure", "ignore"), "fidelity.on_failure: expected one of"),
    ],
)
def test_the_fidelity_record_is_checked(data: dict[str, Any], field: str | None) -> None:
    if field is None:
        Manifest.from_json(data)
        return
    with pytest.raises(BundleError, match=re.escape(field)):
        Manifest.from_json(data)


def test_an_unfaithful_default_loads_when_the_build_was_told_to_keep_it() -> None:
    m = Manifest.from_json(int8_manifest_dict(default="litert-int8", on_failure="keep-int8"))
    assert m.primary.name == "litert-int8" and m.fidelity is not None and m.fidelity.on_failure == "keep-int8"
