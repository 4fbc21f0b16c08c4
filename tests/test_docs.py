"""Every example in docs/*.md and in the library's docstrings runs, and gives what it says."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import daemon
import supervisor

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted(p for p in (ROOT / "docs").glob("*.md") if ">>>" in p.read_text())
# supervisor.lint's examples run in tests/lint; a __main__ module would run its program on import.
MODULES = sorted(
    [supervisor.__name__, daemon.__name__, "_arbord_entry"]
    + [
        m.name
        for package in (supervisor, daemon)
        for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
        if ".lint" not in m.name and not m.name.endswith("__main__")
    ]
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_doc_examples_run(path: Path) -> None:
    result = doctest.testfile(str(path), module_relative=False, optionflags=FLAGS, verbose=False)
    assert result.failed == 0, f"{result.failed} failing example(s) in {path.name}"


def _defined_in(module: ModuleType, obj: object) -> bool:
    """Whether ``obj`` is a function or class written in ``module``'s file: public objects of private
    modules say where users import them from (``Server.__module__ == "supervisor"``), which hides
    them from doctest's own finder, so their examples are found here by their source file."""
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        return False
    if inspect.isfunction(obj):
        return obj.__globals__ is vars(module)
    return any(
        inspect.isfunction(member) and member.__globals__ is vars(module) for member in vars(obj).values()
    ) or (getattr(obj, "__module__", None) == module.__name__)


def _doctests(module: ModuleType) -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder()
    tests = {test.name: test for test in finder.find(module)}
    for name, obj in vars(module).items():
        if _defined_in(module, obj) and getattr(obj, "__module__", None) != module.__name__:
            for test in finder.find(obj, f"{module.__name__}.{name}", module=False, globs=vars(module)):
                tests.setdefault(test.name, test)
    return [test for test in tests.values() if test.examples]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=FLAGS, verbose=False)
    for test in _doctests(module):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}"


def test_examples_of_public_objects_of_private_modules_are_found() -> None:
    private = ModuleType("supervisor._example")
    source = (
        "def shout(word):\n"
        '    """>>> shout("hi")\n'
        "    'HI'\n"
        '    """\n'
        "    return word.upper()\n"
        "shout.__module__ = 'supervisor'\n"  # as a private module's public object says
    )
    exec(source, vars(private))
    assert [t for t in doctest.DocTestFinder().find(private) if t.examples] == []
    assert [t.name for t in _doctests(private)] == ["supervisor._example.shout"]
