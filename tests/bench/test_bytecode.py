"""The agent benchmarks run the agent from compiled modules, as a device does (bench/bytecode.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from edgewatch.bench import bytecode
from edgewatch.bench.bytecode import ensure_bytecode


def _package(root: Path) -> Path:
    package = root / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("X = 1\n")
    (package / "sub" / "mod.py").write_text("def f():\n    return 2\n")
    return package


def test_writes_the_cache_even_when_the_environment_forbids_writing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    package = _package(tmp_path)
    assert ensure_bytecode(package) == "compiled"
    for source in (package / "__init__.py", package / "sub" / "mod.py"):
        assert Path(importlib.util.cache_from_source(str(source))).is_file()


def test_a_module_that_does_not_compile_is_reported(tmp_path):
    package = _package(tmp_path)
    (package / "broken.py").write_text("def f(:\n")
    assert ensure_bytecode(package).startswith("source (compileall failed")


def test_a_read_only_install_is_left_alone(tmp_path, monkeypatch):
    package = _package(tmp_path)
    monkeypatch.setattr(bytecode.os, "access", lambda path, mode: False)  # root may write anywhere
    assert ensure_bytecode(package).startswith("source (not writable")
    assert not (package / "__pycache__").exists()


def test_the_default_is_edgewatch_itself():
    import edgewatch

    result = ensure_bytecode()
    assert result == "compiled" or result.startswith("source (not writable")
    if result == "compiled":
        assert Path(importlib.util.cache_from_source(edgewatch.__file__)).is_file()
