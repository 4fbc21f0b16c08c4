"""systemd/install.sh, function by function: a wheel or the checkout with the console extra, the unit
rendered for the chosen venv (Documentation= included), verified before it is installed, and the
control socket the service will really listen on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon.conftest import ROOT
from tests.daemon.test_process_systemd import directives

INSTALL_SH = ROOT / "systemd" / "install.sh"
VENV = Path(sys.prefix)
needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def call(function: str, *args: str, unit_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run one function of install.sh (sourced: its main does not run)."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "UNIT_DIR": str(unit_dir or "/nonexistent")}
    return subprocess.run(
        ["bash", "-c", '. "$1" && shift && "$@"', "-", str(INSTALL_SH), function, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_wheel_is_installed_with_the_console_extra(tmp_path: Path) -> None:
    wheel = tmp_path / "arbord-0.1.0-cp311-cp311-linux_x86_64.whl"
    wheel.write_bytes(b"")
    done = call("requirement", str(wheel))
    assert (done.returncode, done.stdout) == (0, f"arbord[console] @ file://{wheel}\n")


def test_without_a_wheel_the_checkout_is_installed_with_the_console_extra() -> None:
    done = call("requirement")
    assert (done.returncode, done.stdout) == (0, f"{ROOT}[console]\n")


def test_what_is_not_a_wheel_is_refused(tmp_path: Path) -> None:
    done = call("requirement", str(tmp_path / "arbord.tar.gz"))
    assert done.returncode == 2
    assert "is not a wheel file" in done.stderr


def test_the_unit_follows_a_custom_venv_documentation_included(tmp_path: Path) -> None:
    unit = tmp_path / "arbord.service"
    assert call("render_unit", "/srv/arb/venv", str(unit)).returncode == 0
    found = directives(unit)
    assert found["Documentation"] == ["file:///srv/arb/share/docs/operations.md"]
    assert found["ExecStart"] == ["/srv/arb/venv/bin/arbord run --config /etc/arbord/arbord.toml"]
    assert found["ExecReload"] == ["/srv/arb/venv/bin/arborctl reload"]
    assert "/opt/arbord" not in unit.read_text()


@needs_systemd_analyze
def test_a_unit_that_does_not_verify_is_not_installed(tmp_path: Path) -> None:
    unit, unit_dir = tmp_path / "arbord.service", tmp_path / "system"
    call("render_unit", "/nonexistent/venv", str(unit))  # ExecStart= names a missing program
    done = call("install_unit", str(unit), unit_dir=unit_dir)
    assert done.returncode == 1
    assert "the unit does not verify, not installed" in done.stderr
    assert not unit_dir.exists()


@needs_systemd_analyze
def test_a_unit_that_verifies_is_installed(tmp_path: Path) -> None:
    unit, unit_dir = tmp_path / "arbord.service", tmp_path / "system"
    call("render_unit", str(VENV), str(unit))
    done = call("install_unit", str(unit), unit_dir=unit_dir)
    assert done.returncode == 0, done.stderr
    assert (unit_dir / "arbord.service").read_text() == unit.read_text()


@pytest.mark.parametrize(
    ("config", "socket"),
    [
        ("", "/run/arbord/control.sock"),
        ("[control]\nsocket = 'ctl/arbord.sock'\n", "/run/arbord/ctl/arbord.sock"),
    ],
)
def test_the_printed_socket_is_the_services(tmp_path: Path, config: str, socket: str) -> None:
    path = tmp_path / "arbord.toml"
    path.write_text(config)
    done = call("socket_path", str(VENV), str(path))
    assert (done.returncode, done.stdout) == (0, socket + "\n"), done.stderr
