"""The repository keeps its own rule: zero findings outside the allow-list, every allow-list entry says
why, the check passes over its own sources (docstrings full of bad examples included), and its
documented examples run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import tomllib
from pathlib import Path

import pytest

import supervisor.lint
from supervisor.lint import Config, check_paths, load_config
from tests.lint.test_lint_support import ROOT, run_lint, write_tree

LINT_MODULES = sorted(m.name for m in pkgutil.walk_packages(supervisor.lint.__path__, "supervisor.lint."))


def test_the_supervisor_package_has_no_finding_outside_the_allow_list() -> None:
    config = load_config(ROOT / "pyproject.toml")
    assert [f.format() for f in check_paths([ROOT / "supervisor"], config)] == []


def test_the_check_passes_its_own_check_without_any_allow_list_entry() -> None:
    lint = ROOT / "supervisor" / "lint"
    sources = "\n".join(path.read_text() for path in lint.glob("*.py"))
    # Its docstrings and doctests are full of what it flags; as strings, they must not count.
    for example in ("_cache = {}", "threading.local()", "global ", "# arbord: allow-state"):
        assert example in sources
    assert [f.format() for f in check_paths([lint], Config(root=ROOT))] == []


def test_every_allow_list_entry_says_why() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    section = tomllib.loads(text)["tool"]["arbord"]["hidden-state"]
    lines = text.splitlines()
    for entry in section["allow"]:
        (index,) = [n for n, line in enumerate(lines) if line.strip() == f'"{entry}",']
        assert lines[index - 1].strip().startswith("#"), f"{entry} has no comment saying why"


@pytest.mark.parametrize("name", LINT_MODULES)
def test_the_checks_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0


def test_the_pre_commit_hook_runs_the_check(tmp_path: Path) -> None:
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    fields = dict(re.findall(r"^[\s-]+(id|entry|language): (.+)$", hooks, re.MULTILINE))
    assert fields == {"id": "arbord-hidden-state", "entry": "python -m supervisor.lint", "language": "python"}
    write_tree(tmp_path, {"app/__init__.py": "", "app/m.py": "def f(x=[]):\n    return x\n"})
    # pre-commit runs `entry` with the staged file names appended.
    result = run_lint("app/m.py", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("app/m.py:1:9 ARB007 ")


def test_the_public_surface_is_all() -> None:
    exported = supervisor.lint.__all__
    assert sorted(exported) == sorted(set(exported))
    assert [name for name in exported if not hasattr(supervisor.lint, name)] == []
