"""The layout docs/ARCHITECTURE.md describes holds: every path it names exists, packages import each other in one
direction only, commands do not import each other, and the edge side never loads the training stack."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "edgewatch"
EDGE = ("bundle", "core", "runtime", "agent", "transports")
# what each edge package may import from edgewatch besides itself (errors and records are the foundation)
EDGE_MAY_IMPORT = {
    "bundle": {"errors", "records"},
    "core": {"errors", "records", "bundle", "runtime"},  # runtime: type hints only
    "runtime": {"errors", "records", "bundle", "data"},
    "transports": {"errors"},
    "agent": {"errors", "records", "bundle", "core", "runtime", "transports"},
}


def _imports(path: Path) -> set[str]:
    """The ``edgewatch.<first level>`` names a module imports (at any depth of the file)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found |= {n.split(".")[1] for n in names if n.startswith("edgewatch.") and n.count(".") >= 1}
    return found


def _package_of(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def test_every_path_the_architecture_names_exists() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    paths = set(re.findall(r"`((?:src|tests|docs|deploy|benchmarks|scripts)/[\w./-]+)`", text))
    modules = set(re.findall(r"`(edgewatch(?:\.\w+)+)`", text))
    assert paths and modules
    missing = [p for p in sorted(paths) if not (ROOT / p).exists()]
    for module in sorted(modules):
        parts = module.split(".")[1:]
        candidates = [SRC.joinpath(*parts).with_suffix(".py"), SRC.joinpath(*parts, "__init__.py")]
        # a name inside a module (edgewatch.bundle.Manifest) is fine when its module exists
        candidates += [SRC.joinpath(*parts[:-1]).with_suffix(".py"), SRC.joinpath(*parts[:-1], "__init__.py")]
        if not any(c.exists() for c in candidates):
            missing.append(module)
    assert not missing, f"docs/ARCHITECTURE.md names what does not exist: {missing}"


def test_packages_import_each_other_in_one_direction_only() -> None:
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        package = _package_of(path)
        graph.setdefault(package, set()).update(_imports(path) - {package})
    mutual = sorted((a, b) for a in graph for b in graph[a] if a < b and a in graph.get(b, set()))
    assert not mutual, f"packages importing each other: {mutual}"


def test_edge_packages_import_only_what_they_may() -> None:
    wrong = {}
    for package, allowed in EDGE_MAY_IMPORT.items():
        for path in (SRC / package).rglob("*.py"):
            extra = _imports(path) - allowed - {package}
            if extra:
                wrong[str(path.relative_to(ROOT))] = sorted(extra)
    assert not wrong, wrong


def test_commands_do_not_import_each_other() -> None:
    offenders = {p.name: sorted(_imports(p)) for p in (SRC / "commands").glob("*.py") if "commands" in _imports(p)}
    assert not offenders, offenders


@pytest.mark.slow
def test_the_edge_side_loads_no_training_stack(dense_bundle: Path) -> None:
    """The agent, the transports, a bundle and both runtimes, loaded in a fresh process: only the standard
    library, numpy, paho-mqtt and the runtimes (yaml only when a YAML config is read)."""
    code = f"""
import sys
from edgewatch.agent import cli, service, loop, outbox, config, health, homeassistant, metrics, state
from edgewatch.transports import mqtt
from edgewatch.bundle import load_bundle
from edgewatch.runtime import open_backend
from edgewatch.core.pipeline import Pipeline
bundle = load_bundle({str(dense_bundle)!r})
for runtime in ("litert", "onnx"):
    Pipeline(bundle.manifest, open_backend(bundle, runtime))
top = {{m.split(".")[0] for m in sys.modules}}
print(",".join(sorted(top & {{"tensorflow", "keras", "sklearn", "pandas", "scipy", "onnx", "tf2onnx", "pyarrow"}})))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1:] in ([], [""]), done.stdout


#: standard-library modules ``edgewatch run`` does not import until it needs them (issue 13: the agent's memory):
#: TLS, proxies and OpenSSL (paho's, deferred by ``transports/deferred.py``; the edge hashes without hashlib),
#: the deploy path's archive and file handling, the suggestion for a misspelt payload key
RUN_PATH_DEFERRED = (
    "ssl", "_ssl", "hashlib", "_hashlib", "urllib.request", "http.client", "email",
    "tarfile", "bz2", "lzma", "shutil", "tempfile", "difflib",
)  # fmt: skip


def test_the_agent_run_path_leaves_tls_openssl_and_archives_unimported() -> None:
    """What ``edgewatch run`` imports (the command dispatcher, the run command, the agent service), in a fresh
    process: none of :data:`RUN_PATH_DEFERRED` (the run-time side, a plain connection scoring readings, is
    checked by ``tests/transports/test_deferred.py`` and ``tests/agent/test_health.py``)."""
    code = f"""
import sys
import edgewatch.cli, edgewatch.commands.run, edgewatch.agent.service
print(sorted(m for m in {RUN_PATH_DEFERRED!r} if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
