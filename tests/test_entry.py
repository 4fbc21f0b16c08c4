"""The console scripts refuse, in one line, to run on packages another distribution has replaced.

arbord's import names, ``supervisor`` and ``daemon``, are also supervisord's and python-daemon's
(_arbord_entry.py). tests/test_packaging.py installs those two distributions over arbord in a scratch
environment, as a user would with ``pip install``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import _arbord_entry
from _arbord_entry import MARKER, PACKAGES, collision_message, replaced_package

ROOT = Path(__file__).resolve().parents[1]


def test_arbords_packages_begin_with_the_marker() -> None:
    for name in PACKAGES:
        assert (ROOT / name / "__init__.py").read_bytes().startswith(MARKER + b"\n"), name
    assert replaced_package() is None


def test_the_message_is_one_line_naming_the_package_and_the_remedy() -> None:
    assert collision_message("arbord", "supervisor") == (
        "arbord: another distribution has replaced arbord's 'supervisor' package: "
        "install arbord in its own virtual environment"
    )


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize(("script", "code"), [("arbord", 78), ("arborctl", 1)])
def test_a_shadowing_package_is_named_in_one_line(
    tmp_path: Path, package: str, script: str, code: int
) -> None:
    # Another distribution's package earlier on sys.path shadows arbord's (an editable install's case).
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("# this is a package\n")
    run = subprocess.run(
        [sys.executable, "-c", f"import _arbord_entry; _arbord_entry.{script}()", "--help"],
        cwd=tmp_path,  # first on sys.path
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (run.returncode, run.stdout) == (code, "")
    assert run.stderr == collision_message(script, package) + "\n"


def test_the_scripts_run_when_the_packages_are_arbords() -> None:
    assert _arbord_entry.arborctl.__module__ == "_arbord_entry"
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, _arbord_entry; sys.argv[1:] = ['--help']; _arbord_entry.arborctl()",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("usage: arborctl")
