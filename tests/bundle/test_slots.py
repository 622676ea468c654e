"""The device's bundle slots and the delivery archive: complete or nothing, active and previous, safe unpacking."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from edgewatch.bundle import load_bundle
from edgewatch.bundle.package import pack, unpack
from edgewatch.bundle.slots import BundleSlots, read_bundle_files
from edgewatch.errors import BundleError
from tests.fakes import write_fake_bundle


def test_install_activate_and_rollback_keep_two_bundles(tmp_path: Path) -> None:
    first = read_bundle_files(write_fake_bundle(tmp_path / "a"))
    second = dict(first)
    second["manifest.json"] = first["manifest.json"].replace(b'"created_at"', b'"created_at" ', 1)
    third = dict(first)
    third["manifest.json"] = first["manifest.json"] + b"\n"
    slots = BundleSlots(tmp_path / "store")
    a = slots.install(first)
    assert slots.install(first) == a  # the same bundle lands in the same directory
    slots.activate(a, seeded_from="x")
    b = slots.install(second)
    slots.activate(b)
    assert (slots.active, slots.previous, slots.seeded_from) == (b, a, "x")
    load_bundle(b)
    again = BundleSlots(tmp_path / "store")  # what a restart reads
    assert (again.active, again.previous) == (b, a)
    assert again.rollback() == a and (again.active, again.previous) == (a, b)
    c = again.install(third)
    again.activate(c)
    assert sorted(p.name for p in (tmp_path / "store").iterdir() if p.is_dir()) == sorted([a.name, c.name])


def test_rollback_without_a_previous_bundle_is_refused(tmp_path: Path) -> None:
    slots = BundleSlots(tmp_path / "store")
    slots.activate(slots.install(read_bundle_files(write_fake_bundle(tmp_path / "a"))))
    with pytest.raises(BundleError, match="no previous bundle"):
        slots.rollback()


def test_pack_and_unpack_round_trip(tmp_path: Path) -> None:
    bundle = write_fake_bundle(tmp_path / "a")
    files = unpack(pack(bundle), max_bytes=1 << 20)
    assert files == read_bundle_files(bundle)
    assert pack(bundle) == pack(bundle)


def _tar(members: list[tarfile.TarInfo], data: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info in members:
            archive.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


def _file(name: str, size: int = 1) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


def test_unpack_refuses_anything_but_a_plain_bounded_archive(tmp_path: Path) -> None:
    link = tarfile.TarInfo("manifest.json")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    cases = {
        "not a bundle archive": b"garbage",
        "not a regular file": _tar([link]),
        "unsafe file name": _tar([_file("../evil")]),
        "twice": _tar([_file("manifest.json"), _file("manifest.json")]),
        "no manifest.json": _tar([_file("model.bin")]),
    }
    for message, data in cases.items():
        with pytest.raises(BundleError, match=message):
            unpack(data, max_bytes=1 << 20)
    big = pack(write_fake_bundle(tmp_path / "a"))
    with pytest.raises(BundleError, match="more than 100 bytes"):
        unpack(big, max_bytes=100)
    with pytest.raises(BundleError, match="not a bundle archive"):
        unpack(big[: len(big) // 2], max_bytes=1 << 20)
