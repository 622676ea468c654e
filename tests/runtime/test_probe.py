"""The bundle's probe: a model whose scores on this machine differ from those it was verified with is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgewatch.bundle import load_bundle
from edgewatch.cli import main
from edgewatch.errors import BundleError, RuntimeBackendError
from edgewatch.runtime import open_backend
from edgewatch.runtime.probe import DEFAULT_TOLERANCE, check_backend, deviations, probe_inputs


def edit_manifest(bundle: Path, edit) -> None:  # type: ignore[no-untyped-def]
    path = bundle / "manifest.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def scores_of(data: dict, name: str) -> list[float]:  # type: ignore[type-arg]
    return next(a for a in data["artifacts"] if a["name"] == name)["probe_scores"]


# --- pure parts ------------------------------------------------------------------------------------


def test_probe_inputs_are_held_out_rows_then_the_same_rows_stressed() -> None:
    held_out = np.arange(100 * 3, dtype=np.float32).reshape(100, 1, 3)
    stressed = held_out + 1000
    inputs = probe_inputs(held_out, stressed, rows=5)
    assert inputs.shape == (10, 1, 3) and inputs.dtype == np.float32
    np.testing.assert_array_equal(inputs[:5, 0, 0], [0, 75, 150, 222, 297])  # rows 0, 25, 50, 74, 99
    np.testing.assert_array_equal(inputs[5:], inputs[:5] + 1000)


def test_probe_inputs_of_a_short_held_out_set_take_every_row_once() -> None:
    held_out = np.zeros((3, 2, 4), dtype=np.float32)
    assert probe_inputs(held_out, held_out, rows=32).shape == (6, 2, 4)


def test_deviation_is_relative_to_the_larger_of_the_score_and_the_threshold() -> None:
    dev = deviations(np.array([0.01, 10.0, 1.0, 1.0]), np.array([0.06, 11.0, np.nan, 1.0]), threshold=0.5)
    np.testing.assert_allclose(dev[:2], [0.1, 0.1])  # 0.05 / max(0.01, 0.5); 1 / 10
    assert dev[2] == np.inf and dev[3] == 0.0


# --- built bundles -----------------------------------------------------------------------------------


def test_a_fresh_bundle_carries_a_probe_that_every_artifact_reproduces(dense_bundle: Path) -> None:
    bundle = load_bundle(dense_bundle)
    probe = bundle.manifest.probe
    assert probe.file == "probe.npy" and probe.tolerance == DEFAULT_TOLERANCE
    inputs = np.load(bundle.file("probe.npy"))
    assert inputs.shape == (probe.rows, 1, bundle.manifest.n_features) and probe.rows == 64
    for artifact in bundle.manifest.artifacts:
        assert len(artifact.probe_scores) == probe.rows
        backend = open_backend(bundle, artifact.runtime, artifact=artifact.name)
        assert check_backend(bundle, backend) == pytest.approx(0.0, abs=1e-6)  # same machine: same scores
    # the stressed half is where the model is pushed: it scores higher than the held-out half
    scores = np.asarray(bundle.manifest.artifact("litert-int8").probe_scores)
    assert np.median(scores[32:]) > 3 * np.median(scores[:32])


def test_a_runtime_that_scores_the_probe_differently_is_refused(bundle_copy: Path) -> None:
    # stands in for a device whose runtime or CPU kernels compute the INT8 model differently
    def shift(data: dict) -> None:  # type: ignore[type-arg]
        scores = scores_of(data, "litert-int8")
        scores[40] = scores[40] * 1.5 + 1.0

    edit_manifest(bundle_copy, shift)
    bundle = load_bundle(bundle_copy)
    refused = r"litert-int8: this machine's runtime does not reproduce .* probe row 40"
    with pytest.raises(RuntimeBackendError, match=refused):
        open_backend(bundle, "litert")
    open_backend(bundle, "onnx")  # the other artifacts are unaffected
    open_backend(bundle, "litert", check_probe=False)  # the check can be skipped by code that must


def test_a_probe_within_tolerance_passes(bundle_copy: Path) -> None:
    def nudge(data: dict) -> None:  # type: ignore[type-arg]
        artifact = next(a for a in data["artifacts"] if a["name"] == "litert-int8")
        threshold = artifact["threshold"]["value"]
        artifact["probe_scores"] = [s + 0.05 * max(abs(s), threshold) for s in artifact["probe_scores"]]

    edit_manifest(bundle_copy, nudge)
    bundle = load_bundle(bundle_copy)
    assert check_backend(bundle, open_backend(bundle, "litert", check_probe=False)) == pytest.approx(0.05, rel=0.01)


def test_the_cli_exits_non_zero_naming_the_artifact(
    bundle_copy: Path, normal_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_manifest(bundle_copy, lambda d: scores_of(d, "litert-int8").__setitem__(0, 1e6))
    assert main(["score", str(bundle_copy), str(normal_csv), "--out", str(tmp_path / "s.csv")]) != 0
    err = capsys.readouterr().err
    assert "litert-int8: this machine's runtime does not reproduce" in err and "probe row 0" in err
    assert not (tmp_path / "s.csv").exists()


def test_a_probe_file_of_the_wrong_shape_names_the_file(bundle_copy: Path) -> None:
    import hashlib

    content_path = bundle_copy / "probe.npy"
    np.save(content_path, np.zeros((64, 1, 3), dtype=np.float32))
    content = content_path.read_bytes()
    edit_manifest(
        bundle_copy,
        lambda d: d["files"].__setitem__(
            "probe.npy", {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
        ),
    )
    bundle = load_bundle(bundle_copy)
    with pytest.raises(BundleError, match=r"probe\.npy: probe array is float32 \(64, 1, 3\)"):
        open_backend(bundle, "litert")
