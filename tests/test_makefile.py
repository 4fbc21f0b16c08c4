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
