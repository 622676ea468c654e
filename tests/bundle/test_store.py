"""Bundles on disk: the sha256 and size of every file are verified, the schema version is checked."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from edgewatch.bundle import SCHEMA_VERSION, file_entries, load_bundle, write_bundle
from edgewatch.errors import BundleError
from tests.fakes import make_manifest, write_fake_bundle


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return write_fake_bundle(tmp_path / "bundle")


def test_an_intact_bundle_loads_and_round_trips(bundle: Path) -> None:
    loaded = load_bundle(bundle)
    assert loaded.manifest.schema_version == SCHEMA_VERSION == 3
    assert set(loaded.manifest.files) == {"model.bin", "probe.npy"}
    assert loaded.file("model.bin") == bundle / "model.bin"
    with pytest.raises(BundleError, match="not listed"):
        loaded.file("other.bin")
    again = write_bundle(
        bundle.parent / "again", loaded.manifest, {n: (bundle / n).read_bytes() for n in loaded.manifest.files}
    )
    assert (bundle.parent / "again" / "manifest.json").read_bytes() == (bundle / "manifest.json").read_bytes()
    assert again.manifest == loaded.manifest


def test_a_corrupted_byte_is_detected(bundle: Path) -> None:
    target = bundle / "model.bin"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model\.bin: sha256 mismatch"):
        load_bundle(bundle)


def test_a_truncated_file_is_detected(bundle: Path) -> None:
    (bundle / "model.bin").write_bytes(b"short")
    with pytest.raises(BundleError, match="truncated"):
        load_bundle(bundle)


def test_a_missing_file_is_detected(bundle: Path) -> None:
    (bundle / "probe.npy").unlink()
    with pytest.raises(BundleError, match=r"probe\.npy: file listed in the manifest is missing"):
        load_bundle(bundle)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (SCHEMA_VERSION + 1, "newer than this edgewatch supports"),
        (1, "schema_version 1 is older .* rebuild"),
        (2, "schema_version 2 is older .* rebuild"),
    ],
)
def test_another_schema_version_is_refused_naming_it(bundle: Path, version: int, message: str) -> None:
    path = bundle / "manifest.json"
    data = json.loads(path.read_text())
    data["schema_version"] = version
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle)


@pytest.mark.parametrize("damage", ["not json", "[]", '{"schema_version": 3}'])
def test_a_broken_manifest_is_refused(bundle: Path, damage: str) -> None:
    (bundle / "manifest.json").write_text(damage)
    with pytest.raises(BundleError, match="manifest"):
        load_bundle(bundle)


def test_a_missing_manifest_or_directory(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="bundle directory not found"):
        load_bundle(tmp_path / "nope")
    with pytest.raises(BundleError, match="manifest missing"):
        load_bundle(tmp_path)


def test_the_manifest_cannot_point_outside_the_bundle(bundle: Path) -> None:
    path = bundle / "manifest.json"
    data = json.loads(path.read_text())
    data["files"]["../escape"] = {"sha256": "0" * 64, "bytes": 1}
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="unsafe file name"):
        load_bundle(bundle)


def test_a_manifest_is_written_only_with_the_files_it_lists(tmp_path: Path) -> None:
    files = {"model.bin": b"model", "probe.npy": b"probe"}
    manifest = replace(make_manifest(), files=file_entries(files))
    with pytest.raises(BundleError, match="do not list the files"):
        write_bundle(tmp_path / "b", manifest, {**files, "model.bin": b"another model"})
