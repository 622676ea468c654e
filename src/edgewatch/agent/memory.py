"""The agent process's memory settings, applied by ``edgewatch run`` itself (issue 13: the agent's peak RSS).

:func:`limit_malloc_arenas` is called once at start-up, before any thread exists: glibc's ``malloc`` gives every
thread that allocates while another holds the main arena a heap of its own (up to 8 per core, each kept
mapped and partly resident once touched). The agent has two busy threads -- the loop and paho's network
thread -- and both run Python code under the GIL, so the second arena buys no parallelism; measured with
phase 4 of ``edgewatch bench agent`` (40,000 readings at 2,000/s), the network thread's arena held about
0.3 MB after start-up and 0.8 MB after the run, against 0.35 MB that the shared main heap grew instead.
``mallopt(M_ARENA_MAX, 1)`` is the documented equivalent of ``MALLOC_ARENA_MAX=1``; an environment variable
set by the operator still wins when it is set (glibc reads it at the first ``malloc``, and it is left alone
then). Elsewhere (musl, macOS: no ``mallopt``) it does nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys

#: glibc's ``M_ARENA_MAX`` parameter number (``malloc.h``)
M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int = 1) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` unless ``MALLOC_ARENA_MAX`` is set; whether it was applied."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
