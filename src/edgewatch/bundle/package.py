"""A bundle as one byte string for delivery (``edgewatch deploy``): a gzip'ed tar of its files.

:func:`pack` takes the manifest, the files it lists and ``signature.json`` if present. :func:`unpack` is the
device's side and trusts nothing: only regular files with plain names (no directories, links or paths), no
name twice, ``manifest.json`` required, and at most ``max_bytes`` unpacked in total (a small archive must
not expand into a full SD card). Anything else is a :class:`BundleError` saying what was wrong. What the
files contain is checked afterwards, as for any bundle: signature, then hashes (``load_bundle``).
"""

from __future__ import annotations

import io
import os
import zlib

from edgewatch.bundle.slots import check_file_name, read_bundle_files
from edgewatch.bundle.store import MANIFEST_NAME
from edgewatch.errors import BundleError


def pack(path: str | os.PathLike[str]) -> bytes:
    """The bundle directory ``path`` as a gzip'ed tar (same files, same bytes: same archive)."""
    import tarfile  # here, not at module level: the agent imports this module but unpacks only on a deploy

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for name, data in sorted(read_bundle_files(path).items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unpack(data: bytes, *, max_bytes: int) -> dict[str, bytes]:
    """The files of a packed bundle; :class:`BundleError` for anything but a plain, bounded bundle archive."""
    import tarfile  # here, not at module level: with bz2 and lzma 0.8 MB of an agent that is not deploying

    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive:
                if not member.isfile():
                    raise BundleError(f"the archive holds {member.name!r}, which is not a regular file")
                check_file_name(member.name)
                if member.name in files:
                    raise BundleError(f"the archive holds {member.name!r} twice")
                total += member.size
                if total > max_bytes:
                    raise BundleError(f"the archive unpacks to more than {max_bytes} bytes")
                handle = archive.extractfile(member)
                if handle is None:  # pragma: no cover - isfile() members always have content
                    raise BundleError(f"cannot read {member.name!r} from the archive")
                files[member.name] = handle.read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BundleError(f"not a bundle archive ({exc})") from None
    if MANIFEST_NAME not in files:
        raise BundleError(f"the archive holds no {MANIFEST_NAME}")
    return files
