"""The console scripts refuse, in one line, to run on packages another distribution has replaced.

arbord's import names, ``supervisor`` and ``daemon``, are also supervisord's and python-daemon's
(_arbord_entry.py). The last test installs those two distributions over arbord in a scratch
environment, as a user would with ``pip install``; it needs PyPI and is skipped, saying why, without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import _arbord_entry
from _arbord_entry import MARKER, PACKAGES, collision_message, replaced_package

ROOT = Path(__file__).resolve().parents[1]
PIP_TIMEOUT = 240.0


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


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
        check=False,
    )


def _script(venv: Path, name: str) -> tuple[int, str, str]:
    run = subprocess.run(
        [str(venv / "bin" / name), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    return run.returncode, run.stdout, run.stderr


@pytest.mark.timeout(3 * PIP_TIMEOUT)
def test_supervisord_and_python_daemon_installed_over_arbord_are_named(tmp_path: Path) -> None:
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = str(venv / "bin" / "python")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT)],
        env={**os.environ, "ARBORD_NO_EXTENSIONS": "1"},  # the check runs before the C core is needed
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
        check=False,
    )
    if built.returncode != 0:
        pytest.skip(
            f"cannot build arbord's wheel (PyPI unreachable for its build backend?): {built.stderr[-300:]}"
        )
    (wheel,) = wheels.glob("arbord-*.whl")
    # --no-deps: what matters is which files land where; arbord's own dependencies are never imported
    # before the check.
    assert _pip("--python", python, "install", "--no-deps", str(wheel)).returncode == 0

    for other, package in (("supervisor", "supervisor"), ("python-daemon", "daemon")):
        installed = _pip("--python", python, "install", "--no-deps", other)
        if installed.returncode != 0:
            pytest.skip(f"cannot install {other} from PyPI: {installed.stderr[-300:]}")
        assert _script(venv, "arbord") == (78, "", collision_message("arbord", package) + "\n")
        assert _script(venv, "arborctl") == (1, "", collision_message("arborctl", package) + "\n")
        # Reinstalling arbord puts its own files back (and the other distribution is then broken).
        restored = _pip("--python", python, "install", "--no-deps", "--force-reinstall", str(wheel))
        assert restored.returncode == 0, restored.stderr
        code, _, stderr = _script(venv, "arborctl")
        assert "another distribution" not in stderr
        assert code != 1 or "No module named" in stderr  # past the check: arbord's deps are not installed
