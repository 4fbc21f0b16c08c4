"""Every example in docs/*.md and in the library's docstrings runs, and gives what it says."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import daemon
import supervisor

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted(p for p in (ROOT / "docs").glob("*.md") if ">>>" in p.read_text())
# supervisor.lint's examples run in tests/lint; a __main__ module would run its program on import.
MODULES = sorted(
    m.name
    for package in (supervisor, daemon)
    for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
    if ".lint" not in m.name and not m.name.endswith("__main__")
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_doc_examples_run(path: Path) -> None:
    result = doctest.testfile(str(path), module_relative=False, optionflags=FLAGS, verbose=False)
    assert result.failed == 0, f"{result.failed} failing example(s) in {path.name}"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, verbose=False)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"
