"""edgewatch.bench.fresh_process: start-up and own peak RSS of a fresh ``python -c`` process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgewatch.bench.fresh_process import FreshProcessError, run_fresh_process

LINUX = Path("/proc/self/status").exists()


def test_tiny_child_reports_positive_startup_and_rss() -> None:
    script = "import json\nfresh_report(time.time(), argv=sys.argv[1:])\n"
    run = run_fresh_process(script, ["a b", "2"])
    assert run.report["argv"] == ["a b", "2"]  # the launch timestamp is taken off argv again
    assert 0 < run.startup_s < 60
    assert 0 < run.launch_to_output_s < 60
    assert run.peak_rss_kb > 0 and run.ru_maxrss_kb > 0
    if LINUX:
        assert run.peak_rss_kb == run.report["vmhwm_kb"]


@pytest.mark.skipif(not LINUX, reason="VmHWM needs /proc")
def test_peak_is_the_childs_own_not_the_inherited_ru_maxrss() -> None:
    ballast = np.ones(96 * 2**20 // 8)  # the parent's resident memory grows by 96 MiB, all pages touched
    run = run_fresh_process("fresh_report(time.time())\n")
    assert ballast.sum() > 0
    assert run.ru_maxrss_kb >= 96 * 1024  # ru_maxrss carries the parent's high-water mark across fork+exec
    assert run.peak_rss_kb < 48 * 1024  # VmHWM: a bare interpreter


def test_failing_child_names_command_and_stderr() -> None:
    script = "sys.stderr.write('no such bundle: /nowhere\\n')\nsys.exit(3)\n"
    with pytest.raises(FreshProcessError) as info:
        run_fresh_process(script, ["/nowhere", "litert"])
    err = info.value
    assert err.returncode == 3
    assert "no such bundle: /nowhere" in err.stderr
    message = str(err)
    assert "exit status 3" in message and "no such bundle: /nowhere" in message
    assert sys.executable in message and "-c" in message and "/nowhere litert" in message
    assert isinstance(err, RuntimeError)


def test_child_without_report_is_an_error() -> None:
    with pytest.raises(FreshProcessError, match="no fresh_report"):
        run_fresh_process("print('hello')\n")


def test_timeout_kills_the_child() -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        run_fresh_process("time.sleep(30)\n", timeout=0.5)
