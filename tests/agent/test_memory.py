"""``agent/memory.py``: the agent process caps glibc's malloc arenas itself, unless the operator set them."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

CODE = "from edgewatch.agent.memory import limit_malloc_arenas; print(limit_malloc_arenas())"


def _run(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only"
)
def test_the_arena_cap_is_applied_on_glibc_unless_the_environment_sets_one() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert _run(env) == "True"
    assert _run({**env, "MALLOC_ARENA_MAX": "4"}) == "False"  # the operator's setting wins
