"""How an evaluation names its files: by their path relative to the folder all of them are in, so that two
``1.csv`` from different folders stay apart (``valve1/1.csv``, ``valve2/1.csv``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def display_names(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Each path relative to the common parent folder of all of them (``/`` separated); a single file is
    named by its file name. Symbolic links are not followed: a path names what the user gave."""
    absolute = [Path(os.path.abspath(p)) for p in paths]
    if not absolute:
        return []
    common = Path(os.path.commonpath([p.parent for p in absolute]))
    return [p.relative_to(common).as_posix() for p in absolute]
