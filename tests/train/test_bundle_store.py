"""Bundles verify their schema and the sha256 of every file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgewatch.bundle import SCHEMA_VERSION, load_bundle
from edgewatch.errors import BundleError


def test_intact_bundle_loads(bundle_copy: Path) -> None:
    bundle = load_bundle(bundle_copy)
    assert bundle.manifest.schema_version == SCHEMA_VERSION
    assert set(bundle.manifest.files) == {
        "model.int8.tflite",
        "model.fp32.tflite",
        "model.int8.onnx",
        "model.fp32.onnx",
        "probe.npy",
    }


def test_corrupted_byte_is_detected(bundle_copy: Path) -> None:
    target = bundle_copy / "model.int8.tflite"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model\.int8\.tflite: sha256 mismatch"):
        load_bundle(bundle_copy)


def test_truncated_file_is_detected(bundle_copy: Path) -> None:
    target = bundle_copy / "model.int8.onnx"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(BundleError, match="truncated"):
        load_bundle(bundle_copy)


def test_missing_file_is_detected(bundle_copy: Path) -> None:
    (bundle_copy / "model.fp32.tflite").unlink()
    with pytest.raises(BundleError, match=r"model\.fp32\.tflite: file listed in the manifest is missing"):
        load_bundle(bundle_copy)


def test_newer_schema_is_refused(bundle_copy: Path) -> None:
    path = bundle_copy / "manifest.json"
    data = json.loads(path.read_text())
    data["schema_version"] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="newer than this edgewatch supports"):
        load_bundle(bundle_copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"aggregate": "median"}, r"score\.aggregate 'median' is not one of mean, max"),
        ({"feature_weights": [1.0, 2.0]}, r"score\.feature_weights must be 16 positive finite numbers"),
        ({"feature_weights": [0.0] * 16}, r"score\.feature_weights must be"),
    ],
)
def test_a_score_section_the_runtimes_cannot_apply_is_refused(bundle_copy: Path, change: dict, message: str) -> None:
    path = bundle_copy / "manifest.json"
    data = json.loads(path.read_text())
    data["score"].update(change)
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle_copy)


@pytest.mark.parametrize("damage", ["not json", "[]", '{"schema_version": 1}'])
def test_broken_manifest_is_refused(bundle_copy: Path, damage: str) -> None:
    (bundle_copy / "manifest.json").write_text(damage)
    with pytest.raises(BundleError, match="manifest"):
        load_bundle(bundle_copy)


def test_missing_manifest_and_directory(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="bundle directory not found"):
        load_bundle(tmp_path / "nope")
    with pytest.raises(BundleError, match="manifest missing"):
        load_bundle(tmp_path)


def test_manifest_cannot_point_outside_the_bundle(bundle_copy: Path) -> None:
    path = bundle_copy / "manifest.json"
    data = json.loads(path.read_text())
    data["files"]["../escape"] = {"sha256": "0" * 64, "bytes": 1}
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="unsafe file name"):
        load_bundle(bundle_copy)
