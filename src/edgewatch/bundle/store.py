"""Reading and writing bundle directories, with sha256 verification of every file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from edgewatch.bundle import digests  # not hashlib: no OpenSSL libcrypto on the edge (digests.py)
from edgewatch.bundle.manifest import FileEntry, Manifest
from edgewatch.errors import BundleError

MANIFEST_NAME = "manifest.json"


def sha256_file(path: Path) -> str:
    digest = digests.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Bundle:
    """A verified bundle on disk: its directory and its parsed manifest."""

    path: Path
    manifest: Manifest

    def file(self, name: str) -> Path:
        """Path of a file listed in the manifest."""
        if name not in self.manifest.files:
            raise BundleError(f"{self.path}: {name!r} is not listed in the manifest")
        return self.path / name


def load_bundle(path: str | os.PathLike[str], *, verify: bool = True) -> Bundle:
    """Load a bundle directory and verify its manifest schema and the sha256 of every listed file.

    Raises :class:`BundleError` naming the file for a missing directory, a missing, truncated or
    corrupted file, an unreadable manifest or a newer schema version.
    """
    root = Path(path)
    if not root.is_dir():
        raise BundleError(f"{root}: bundle directory not found")
    manifest_path = root / MANIFEST_NAME
    try:
        raw = manifest_path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{manifest_path}: manifest missing; is {root} a bundle?") from None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{manifest_path}: not valid JSON ({exc})") from None
    try:
        manifest = Manifest.from_json(data)
    except BundleError as exc:
        raise BundleError(f"{manifest_path}: {exc}") from None
    if verify:
        for name, entry in manifest.files.items():
            _verify_file(root, name, entry)
    return Bundle(path=root, manifest=manifest)


def _verify_file(root: Path, name: str, entry: FileEntry) -> None:
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise BundleError(f"{root}: manifest lists an unsafe file name {name!r}")
    target = root / name
    if not target.is_file():
        raise BundleError(f"{target}: file listed in the manifest is missing")
    size = target.stat().st_size
    if size != entry.bytes:
        raise BundleError(f"{target}: size {size} bytes, manifest says {entry.bytes} (truncated or replaced)")
    actual = sha256_file(target)
    if actual != entry.sha256:
        raise BundleError(f"{target}: sha256 mismatch (file corrupted): {actual} != {entry.sha256}")


def file_entries(files: dict[str, bytes]) -> dict[str, FileEntry]:
    """The manifest's ``files``: the sha256 and size of each file's content."""
    return {name: FileEntry(digests.sha256(data).hexdigest(), len(data)) for name, data in sorted(files.items())}


def write_bundle(path: str | os.PathLike[str], manifest: Manifest, files: dict[str, bytes]) -> Bundle:
    """Write model ``files`` and ``manifest`` (whose ``files`` must be :func:`file_entries` of them) into
    directory ``path``; the result is verified by loading it back. JSON is written with sorted keys so that
    identical inputs give byte-identical bundles."""
    if manifest.files != file_entries(files):
        raise BundleError("the manifest's files do not list the files written with it")
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    for name, content in sorted(files.items()):
        (root / name).write_bytes(content)
    text = json.dumps(manifest.to_json(), indent=2, sort_keys=True, allow_nan=False) + "\n"
    tmp = root / (MANIFEST_NAME + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, root / MANIFEST_NAME)
    return load_bundle(root)
