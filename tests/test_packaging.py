"""What a user installs: the wheel and the sdist as built from this checkout, and the wheel installed into
a scratch environment beside supervisord and python-daemon.

The builds need PyPI (the build backend, setuptools >= 77, is fetched into an isolated environment);
without it these tests are skipped, saying why. One sdist is built for the module, and one wheel from it.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from pathlib import Path

import pytest

from _arbord_entry import collision_message

ROOT = Path(__file__).resolve().parents[1]
PIP_TIMEOUT = 240.0
# Not marked slow: building and installing wheels is a check `make test` runs on every commit. One
# pytest-xdist worker takes them all, so the sdist and the wheel are built once.
pytestmark = [pytest.mark.timeout(4 * PIP_TIMEOUT), pytest.mark.xdist_group("packaging")]


def _run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False, env=env, cwd=cwd
    )


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return _run(sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args)


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, built from a copy of the checkout (a build writes into its source tree)."""
    work = tmp_path_factory.mktemp("sdist")
    backend = work / "backend"
    _run(sys.executable, "-m", "venv", str(backend))
    installed = _run(str(backend / "bin" / "python"), "-m", "pip", "install", "--quiet", "setuptools>=77")
    if installed.returncode != 0:
        pytest.skip(f"cannot install setuptools >= 77 (is PyPI reachable?): {installed.stderr[-300:]}")
    source = work / "source"
    shutil.copytree(
        ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "*cache*", "build", "*.egg-info", "*.so")
    )
    code = "import setuptools.build_meta as b, sys; print(b.build_sdist(sys.argv[1]))"
    built = _run(str(backend / "bin" / "python"), "-c", code, str(work / "dist"), cwd=source)
    assert built.returncode == 0, built.stderr[-2000:]
    return work / "dist" / built.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def wheel(sdist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the sdist, as pip builds it for a user (without the C core: nothing checked
    here depends on it, and no compiler is needed)."""
    out = tmp_path_factory.mktemp("wheel")
    built = _run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(sdist),
        env={**os.environ, "ARBORD_NO_EXTENSIONS": "1"},
    )  # fmt: skip
    if built.returncode != 0:
        pytest.skip(f"cannot build arbord's wheel (is PyPI reachable?): {built.stderr[-300:]}")
    (found,) = out.glob("arbord-*.whl")
    return found


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode())


def test_the_wheel_carries_the_license_its_metadata_names(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (license_file,) = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        text = archive.read(license_file).decode()
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert _metadata(wheel)["License-Expression"] == "Apache-2.0"


def test_the_wheel_names_the_project_urls(wheel: Path) -> None:
    urls = dict(url.split(", ", 1) for url in _metadata(wheel).get_all("Project-URL") or [])
    assert set(urls) >= {"Homepage", "Documentation", "Source", "Issues", "Changelog"}


def test_the_console_is_an_extra_and_aiorwlock_is_gone(wheel: Path) -> None:
    requires = _metadata(wheel).get_all("Requires-Dist") or []
    always = [r for r in requires if "extra ==" not in r]
    assert not [r for r in always if r.startswith(("aiomonitor", "aiorwlock"))], always
    assert any(r.startswith("aiomonitor") and 'extra == "console"' in r for r in requires), requires
    assert not [r for r in requires if r.startswith("aiorwlock")]


def test_the_wheel_ships_no_c_source_and_the_sdist_does(wheel: Path, sdist: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "supervisor/_speedups.pyi" in names
    assert not [n for n in names if n.endswith(".c")], names
    with tarfile.open(sdist) as archive:
        members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
    assert {"supervisor/_speedups.c", "LICENSE", "_arbord_entry.py", "systemd/install.sh"} <= members


def test_supervisord_and_python_daemon_installed_over_arbord_are_named(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    assert _run(sys.executable, "-m", "venv", "--without-pip", str(venv)).returncode == 0
    python = str(venv / "bin" / "python")

    def script(name: str) -> tuple[int, str, str]:
        run = _run(str(venv / "bin" / name), "--help")
        return run.returncode, run.stdout, run.stderr

    # --no-deps: what matters is which files land where; none of arbord's dependencies is imported
    # before the check.
    assert _pip("--python", python, "install", "--no-deps", str(wheel)).returncode == 0
    for other, package in (("supervisor", "supervisor"), ("python-daemon", "daemon")):
        installed = _pip("--python", python, "install", "--no-deps", other)
        if installed.returncode != 0:
            pytest.skip(f"cannot install {other} from PyPI: {installed.stderr[-300:]}")
        assert script("arbord") == (78, "", collision_message("arbord", package) + "\n")
        assert script("arborctl") == (1, "", collision_message("arborctl", package) + "\n")
        # Reinstalling arbord puts its own files back (and leaves the other distribution broken).
        restored = _pip("--python", python, "install", "--no-deps", "--force-reinstall", str(wheel))
        assert restored.returncode == 0, restored.stderr
        assert "another distribution" not in script("arborctl")[2]
