"""A tiny real filesystem that can be filled to the last byte: the full-disk fault of the tests and of
``edgewatch bench faults``.

``TinyFilesystem(size_kib)`` mounts a tmpfs of that size on a fresh temporary directory. ``fill()`` writes a
filler file until the kernel answers ``ENOSPC`` (every later write of any process there fails the same way,
as on a full SD card), ``free()`` deletes it. Mounting needs root (``CAP_SYS_ADMIN``); :func:`unavailable`
says why it cannot be used here, or returns ``None``.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

FILLER = ".filler"


def unavailable() -> str | None:
    """Why a tmpfs cannot be mounted here (not root, no ``mount``), or ``None`` when it can."""
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount/umount are not installed"
    return None


class TinyFilesystem:
    """A mounted tmpfs of ``size_kib`` KiB at ``path``; a context manager that unmounts and removes it."""

    def __init__(self, size_kib: int = 512) -> None:
        reason = unavailable()
        if reason is not None:
            raise PermissionError(reason)
        self.path = Path(tempfile.mkdtemp(prefix="edgewatch-tinyfs-"))
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={int(size_kib)}k,mode=0755", "tmpfs", str(self.path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            self.path.rmdir()
            raise PermissionError(f"cannot mount a tmpfs: {done.stderr.strip()}")

    def fill(self) -> int:
        """Write until the filesystem is full; return the bytes written."""
        written = 0
        fd = os.open(self.path / FILLER, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for block in (65536, 4096, 512, 1):
                chunk = b"\0" * block
                while True:
                    try:
                        written += os.write(fd, chunk)
                    except OSError as exc:
                        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                            raise
                        break
        finally:
            os.close(fd)
        return written

    def free(self) -> None:
        """Delete the filler: the filesystem has room again."""
        (self.path / FILLER).unlink(missing_ok=True)

    @property
    def free_bytes(self) -> int:
        stats = os.statvfs(self.path)
        return stats.f_bavail * stats.f_frsize

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True, check=False)
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> TinyFilesystem:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
