"""The systemd integration files: the unit has what the issue requires and passes systemd-analyze."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.daemon.conftest import ROOT

SYSTEMD = ROOT / "systemd"
UNIT = SYSTEMD / "arbord.service"


def directives(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Type", "notify"),
        ("WatchdogSec", "30s"),
        ("Restart", "on-failure"),
        ("RestartPreventExitStatus", "78"),
        ("RuntimeDirectory", "arbord"),
        ("RuntimeDirectoryMode", "0700"),
        ("ExecReload", "/opt/arbord/venv/bin/arborctl reload"),
        ("Environment", "PYTHONFAULTHANDLER=1"),
        ("UMask", "0077"),
        ("KillMode", "mixed"),
        ("User", "arbord"),
        # A crash-looping daemon stops being restarted (issue 12): 5 starts within 5 minutes at most.
        ("StartLimitIntervalSec", "5min"),
        ("StartLimitBurst", "5"),
    ],
)
def test_the_unit_sets(key: str, value: str) -> None:
    assert value in directives(UNIT)[key]


def test_the_unit_gives_the_stop_budget_room() -> None:
    timeout = directives(UNIT)["TimeoutStopSec"][0]
    assert timeout.endswith("s")
    assert float(timeout[:-1]) > 10.0  # the default [daemon] shutdown_timeout


def test_the_unit_runs_the_daemon_from_its_own_venv_with_the_installed_config() -> None:
    assert directives(UNIT)["ExecStart"] == [
        "/opt/arbord/venv/bin/arbord run --config /etc/arbord/arbord.toml"
    ]


def test_sysusers_and_tmpfiles_create_the_user_the_unit_runs_as() -> None:
    assert (SYSTEMD / "arbord.sysusers").read_text().count("\nu arbord ") == 1
    assert "d /etc/arbord 0750 root arbord -" in (SYSTEMD / "arbord.tmpfiles").read_text()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_make_lint_systemd_passes() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "lint-systemd"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SAFE" in result.stdout
