"""The device's bundles on disk: the active one, the previous one, and a candidate being tried.

Layout under ``root`` (the agent's ``update.store_dir``, default ``<state_dir>/bundles``)::

    slots.json                  {"active": "<dir>", "previous": "<dir>" | null, "seeded_from": "<sha256>"}
    pump-dense-ae-1a2b3c4d5e6f/ one bundle per directory, named after its model id and manifest hash
    ...

Every change is crash-safe: a bundle is written into a temporary directory, fsync'ed and renamed into place
(so a directory under its final name is always complete), and ``slots.json`` is replaced atomically
(temporary file, fsync, rename, fsync of the directory). A ``kill -9`` at any moment therefore leaves
``slots.json`` naming either the old or the new active bundle, both complete. ``seeded_from`` is the hash
of the configured ``bundle.path`` last copied in, so a bundle changed there by hand is noticed at start.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from edgewatch.bundle import digests  # not hashlib: no OpenSSL libcrypto on the edge (digests.py)
from edgewatch.bundle.manifest import Manifest
from edgewatch.bundle.signing import SIGNATURE_FILE
from edgewatch.bundle.store import MANIFEST_NAME
from edgewatch.errors import BundleError

SLOTS_FILE = "slots.json"


def bundle_digest(files: Mapping[str, bytes]) -> str:
    """The sha256 of a bundle's manifest and signature: what identifies a build and who signed it."""
    digest = digests.sha256(files[MANIFEST_NAME])
    digest.update(files.get(SIGNATURE_FILE, b""))
    return digest.hexdigest()


def read_bundle_files(path: str | os.PathLike[str]) -> dict[str, bytes]:
    """The files of the bundle directory ``path`` that belong to it: the manifest, the files it lists and the
    signature if there is one. :class:`BundleError` for an unreadable or unsafe manifest (hashes are checked
    later, by ``load_bundle``)."""
    root = Path(path)
    try:
        manifest_bytes = (root / MANIFEST_NAME).read_bytes()
        manifest = Manifest.from_json(json.loads(manifest_bytes))
    except OSError as exc:
        raise BundleError(f"{root}: cannot read {MANIFEST_NAME}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{root / MANIFEST_NAME}: not valid JSON ({exc})") from None
    files = {MANIFEST_NAME: manifest_bytes}
    names = list(manifest.files)
    if (root / SIGNATURE_FILE).is_file():
        names.append(SIGNATURE_FILE)
    for name in names:
        check_file_name(name)
        try:
            files[name] = (root / name).read_bytes()
        except OSError as exc:
            raise BundleError(f"{root / name}: cannot read: {exc.strerror}") from None
    return files


def check_file_name(name: str) -> None:
    """A bundle's files live in one flat directory: refuse any other name (``../x``, ``a/b``, ``.``)."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise BundleError(f"unsafe file name in the bundle: {name!r}")


class BundleSlots:
    """The bundles kept on the device (see the module docstring). Not thread-safe: one thread changes it."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._state = self._read()

    # -- what is there -------------------------------------------------------------------------
    @property
    def active(self) -> Path | None:
        return self._slot("active")

    @property
    def previous(self) -> Path | None:
        return self._slot("previous")

    @property
    def seeded_from(self) -> str | None:
        value = self._state.get("seeded_from")
        return value if isinstance(value, str) else None

    def _slot(self, name: str) -> Path | None:
        value = self._state.get(name)
        return self.root / value if isinstance(value, str) and value else None

    # -- changes -------------------------------------------------------------------------------
    def install(self, files: Mapping[str, bytes]) -> Path:
        """Write a bundle's files into its own directory (complete or not at all); its path. The same bundle
        installed twice lands in the same directory."""
        for name in files:
            check_file_name(name)
        manifest = Manifest.from_json(json.loads(files[MANIFEST_NAME]))
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", manifest.model_id)[:60] or "bundle"
        target = self.root / f"{slug}-{bundle_digest(files)[:12]}"
        if target.is_dir():
            return target
        # tempfile and shutil here, not at module level: an agent installs a bundle on its first start and on
        # a deploy; shutil brings bz2 and lzma (0.4 MB of memory that a running agent does not need)
        import shutil
        import tempfile

        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=self.root))
        try:
            for name, data in sorted(files.items()):
                with open(staging / name, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
            _fsync_dir(staging)
            os.rename(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _fsync_dir(self.root)
        return target

    def activate(self, path: Path, *, seeded_from: str | None = None) -> None:
        """Make ``path`` (a directory :meth:`install` made) the active bundle; the active one becomes the
        previous one (unless it is the same). Bundles in neither slot are deleted afterwards."""
        state = dict(self._state)
        if self.active is not None and self.active != path:
            state["previous"] = self.active.name
        state["active"] = path.name
        if seeded_from is not None:
            state["seeded_from"] = seeded_from
        self._write(state)
        self.prune()

    def rollback(self) -> Path:
        """Swap the active and previous bundles; the now active one. :class:`BundleError` without a previous."""
        previous, active = self.previous, self.active
        if previous is None or not previous.is_dir():
            raise BundleError("no previous bundle to roll back to")
        self._write({**self._state, "active": previous.name, "previous": None if active is None else active.name})
        return previous

    def prune(self, keep: Iterable[Path] = ()) -> None:
        """Delete bundle directories (and left-over temporary ones) that are neither active, previous nor in
        ``keep``."""
        wanted = {p.name for p in (self.active, self.previous, *keep) if p is not None}
        if not self.root.is_dir():
            return
        import shutil  # here, not at module level: see install()

        for entry in self.root.iterdir():
            if entry.is_dir() and entry.name not in wanted:
                shutil.rmtree(entry, ignore_errors=True)

    # -- slots.json ----------------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads((self.root / SLOTS_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise BundleError(f"{self.root / SLOTS_FILE}: unreadable ({exc}); remove it to start afresh") from None
        return data if isinstance(data, dict) else {}

    def _write(self, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / (SLOTS_FILE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(state, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.root / SLOTS_FILE)
        _fsync_dir(self.root)
        self._state = state


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
