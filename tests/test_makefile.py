"""The Makefile's promises to a newcomer, read from ``make -n`` (what it would run, run by nobody)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_installs_only_what_running_needs(tmp_path: Path) -> None:
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.splitlines()
    installs = [line for line in planned if " -m pip install " in line and "--upgrade pip" not in line]
    assert [line.split(" -m pip install ", 1)[1] for line in installs] == ["--quiet -e ."]
    assert planned[-1] == f"{tmp_path / 'venv'}/bin/arbord run"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lint_runs_the_hidden_state_check_over_the_tests_too() -> None:
    # Issue 17: a test module's state leaks into the next test as a server's would, so the check
    # that keeps module-level mutable state out of supervisor/ and daemon/ covers tests/ as well.
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "check-state"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.splitlines()
    [check] = [line for line in planned if " -m supervisor.lint " in line]
    assert check.split(" -m supervisor.lint ", 1)[1].split() == ["supervisor", "daemon", "tests"]
    # `make -n lint` would run its recursive makes: read the recipe instead.
    recipe = (ROOT / "Makefile").read_text().split("\nlint: ", 1)[1].split("\n\n", 1)[0]
    assert "$(MAKE) --no-print-directory check-state" in recipe
