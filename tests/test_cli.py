"""The command line and the packaging a new user meets first: ``edgewatch --help`` lists every command with
its purpose, without importing any command; the extras install what they say."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from edgewatch.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_each_command_with_its_one_line_purpose_without_importing_commands() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from edgewatch.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(out.getvalue())\n"
        "print('IMPORTED:', sorted(m for m in sys.modules if m.startswith('edgewatch.commands.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "100"}
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for name, command in COMMANDS.items():
        assert any(line.split() == [name, *command.summary.split()] for line in lines), (name, done.stdout)
        assert len(command.summary) <= 60, name  # one line next to the command name in an 80-column terminal
    assert lines[-1] == "IMPORTED: []"


def test_each_command_module_exists_and_its_help_shows_the_description(capsys) -> None:  # type: ignore[no-untyped-def]
    import importlib

    from edgewatch.cli import main

    for name, command in COMMANDS.items():
        module = importlib.import_module(command.module)
        assert callable(module.add_arguments) and callable(module.run), name
    try:
        main(["info", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    assert COMMANDS["info"].description in capsys.readouterr().out.replace("\n", " ")


def _extras() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    return extras


def _resolved(extra: str, extras: dict[str, list[str]]) -> set[str]:
    """The requirements an extra installs, its ``edgewatch[...]`` references followed."""
    out: set[str] = set()
    for requirement in extras[extra]:
        if requirement.startswith("edgewatch["):
            for inner in requirement[len("edgewatch[") : requirement.index("]")].split(","):
                out |= _resolved(inner.strip(), extras)
        else:
            out.add(requirement)
    return out


def test_the_edge_extra_is_litert_plus_onnx_and_each_has_one_runtime() -> None:
    extras = _extras()
    litert, onnx, edge = (_resolved(name, extras) for name in ("litert", "onnx", "edge"))
    names = {extra: {r.split(">")[0].split("=")[0].split("<")[0] for r in reqs} for extra, reqs in
             (("litert", litert), ("onnx", onnx), ("edge", edge))}
    # what `edge` installed before the split: numpy (always), paho-mqtt, both runtimes, pyyaml
    assert names["edge"] == {"paho-mqtt", "ai-edge-litert", "onnxruntime", "pyyaml"}
    assert names["litert"] == {"paho-mqtt", "ai-edge-litert", "pyyaml"}
    assert names["onnx"] == {"paho-mqtt", "onnxruntime", "pyyaml"}


def test_pandas_is_in_no_extra_and_nothing_imports_it() -> None:
    extras = _extras()
    for extra in extras:
        assert not any(r.startswith("pandas") for r in _resolved(extra, extras)), extra
    for path in (ROOT / "src").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import pandas" not in text and "from pandas" not in text, path
