"""Start-up time and peak memory of a fresh Python process, e.g. one that loads a bundle and scores a reading.

Edge-safe: standard library only (the edge never imports TensorFlow, Keras, scikit-learn or pandas), so the
benchmarks (:mod:`edgewatch.bench.runtime`) and ``edgewatch compare`` (:mod:`edgewatch.bench.compare`)
share one way of measuring.

:func:`run_fresh_process` runs ``python -c CHILD_PRELUDE+script <launch time> args...`` and waits for it.
:data:`CHILD_PRELUDE` takes the launch time off ``sys.argv`` again (the script sees its own ``args`` as
``sys.argv[1:]``) and defines ``fresh_report(ready, **fields)``, which the script calls exactly once, as
its last output: it prints one JSON line with the script's ``fields`` plus

* ``startup_s`` — seconds from the launch time to ``ready``. The launch time is ``time.time()`` taken by
  the parent immediately before it spawns the process and passed on the command line; ``ready`` is the
  script's own ``time.time()`` at the moment it counts as started (e.g. right after its first score). Both
  are wall-clock times of the same machine, so the figure includes interpreter start-up and all imports;
* ``vmhwm_kb`` — ``VmHWM`` (peak resident set size, KiB) from ``/proc/self/status``, read inside
  ``fresh_report``: the peak up to that call. ``None`` where there is no ``/proc`` (not Linux);
* ``ru_maxrss_kb`` — ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux). Not used as the peak on
  Linux: ``ru_maxrss`` survives fork+exec, so a child spawned by a large parent (one with TensorFlow loaded
  is ~800 MB) reports the *parent's* high-water mark; VmHWM belongs to the new address space only.

The parent also times launch → arrival of the first line on the child's stdout itself
(:attr:`FreshProcess.launch_to_output_s`, ``time.perf_counter``), for callers that print that line right
after the first score (the ``runtime`` benchmark's "launch → first score, measured by the parent").
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Only ``sys`` and ``time`` are imported before the script runs; json and resource are imported inside
# fresh_report, after ``ready``, so the prelude adds nothing measurable to a script's start-up.
CHILD_PRELUDE = r"""
import sys, time
_fresh_launch = float(sys.argv.pop(1))
def fresh_report(ready, **fields):
    import json, resource
    hwm = None
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                    break
    except OSError:
        pass
    fields.update(startup_s=ready - _fresh_launch, vmhwm_kb=hwm,
                  ru_maxrss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(json.dumps(fields), flush=True)
"""


@dataclass(frozen=True)
class FreshProcess:
    """What one fresh process reported (see the module docstring for how each figure is taken)."""

    startup_s: float  # launch time passed on the command line → the script's ``ready``, seconds
    launch_to_output_s: float  # measured by the parent: just before spawning → first stdout line, seconds
    peak_rss_kb: int  # VmHWM; ru_maxrss only where VmHWM is unavailable (not Linux)
    ru_maxrss_kb: int  # as reported, for the record (inherited from the parent on Linux)
    report: dict[str, Any]  # the whole JSON report: the script's fields plus the three above


class FreshProcessError(RuntimeError):
    """The fresh process exited non-zero or printed no JSON report; names the command and its stderr."""

    def __init__(self, message: str, *, command: Sequence[str], returncode: int, stderr: str) -> None:
        self.command = list(command)
        self.returncode = returncode
        self.stderr = stderr
        tail = stderr.strip()[-2000:] or "(no stderr)"
        super().__init__(f"{message} (exit status {returncode}): {_describe(command)}\nstderr:\n{tail}")


def run_fresh_process(
    script: str,
    args: Sequence[str] = (),
    *,
    python: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300.0,
) -> FreshProcess:
    """Run ``script`` in a fresh ``python -c`` process and return its start-up time and peak RSS.

    ``script`` runs after :data:`CHILD_PRELUDE` with ``args`` as ``sys.argv[1:]`` and must end by calling
    ``fresh_report(ready, **fields)`` once, ``ready`` being its ``time.time()`` when it counts as started;
    ``fields`` must be JSON-serialisable. ``python`` defaults to this interpreter, ``env`` (the child's whole
    environment) to this process's. Raises :class:`FreshProcessError` if the process exits non-zero or its
    last stdout line is not the report, and :class:`subprocess.TimeoutExpired` (after killing it) if it
    runs longer than ``timeout`` seconds.
    """
    source = CHILD_PRELUDE + script
    exe = python or sys.executable
    # stderr goes to a file, not a pipe: a chatty child can never block on a full pipe while we read stdout.
    with tempfile.TemporaryFile() as err_file:
        start = time.perf_counter()
        launch = time.time()
        command = [exe, "-c", source, repr(launch), *args]
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=err_file, text=True, env=None if env is None else dict(env)
        )
        expired = threading.Event()

        def _kill() -> None:
            expired.set()
            proc.kill()

        killer = threading.Timer(timeout, _kill)
        killer.start()
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            launch_to_output = time.perf_counter() - start
            stdout = first + proc.stdout.read()
            proc.wait()
        finally:
            killer.cancel()
            if proc.stdout is not None:
                proc.stdout.close()
        err_file.seek(0)
        stderr = err_file.read().decode(errors="replace")
    shown = [exe, "-c", script, *args]
    if expired.is_set():
        raise subprocess.TimeoutExpired(shown, timeout, output=stdout, stderr=stderr)
    if proc.returncode != 0:
        raise FreshProcessError("fresh process failed", command=shown, returncode=proc.returncode, stderr=stderr)
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        report = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        report = None
    if not isinstance(report, dict) or "startup_s" not in report:
        raise FreshProcessError(
            "fresh process printed no fresh_report() line on stdout",
            command=shown,
            returncode=proc.returncode,
            stderr=stderr,
        )
    ru_maxrss = int(report["ru_maxrss_kb"])
    return FreshProcess(
        startup_s=float(report["startup_s"]),
        launch_to_output_s=launch_to_output,
        peak_rss_kb=int(report["vmhwm_kb"] or ru_maxrss),
        ru_maxrss_kb=ru_maxrss,
        report=report,
    )


def _describe(command: Sequence[str]) -> str:
    """``python -c '<first line of the script> …' args`` — the command, without the whole script."""
    parts = list(command)
    if len(parts) >= 3 and parts[1] == "-c":
        code = [line for line in parts[2].splitlines() if line.strip()]
        head = (code[0][:60] + (" …" if len(code) > 1 or len(code[0]) > 60 else "")) if code else ""
        parts[2] = head
    return shlex.join(parts)
