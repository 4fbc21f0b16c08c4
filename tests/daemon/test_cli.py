"""The ``arbord`` command line: commands, exit codes, and config errors without tracebacks."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import uvloop

import daemon
from daemon.app import ExitCode
from daemon.cli import loop_factory, main
from tests.daemon.conftest import ROOT, daemon_environ


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "arbord.toml"
    path.write_text(text)
    return path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out == f"arbord {daemon.__version__}\n"


def test_python_dash_m_daemon_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "daemon", "version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=daemon_environ(None),
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, f"arbord {daemon.__version__}\n")


def test_check_config_accepts_a_good_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[daemon]\nruntime_dir = "/run/arbord-test"\n')
    assert main(["check-config", str(path)]) == ExitCode.OK
    assert capsys.readouterr().out == f"{path}: OK (control socket: /run/arbord-test/control.sock)\n"


def test_check_config_accepts_the_documented_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(ROOT / "config" / "arbord.toml")]) == ExitCode.OK


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[daemon\n", "TOML syntax error: Expected ']' at the end of a table declaration (at line 1"),
        ("[daemon]\nwatchdog = 'sometimes'\n", "daemon.watchdog: expected a valid boolean"),
        ("[control]\nmax_conections = 3\n", "control.max_conections: unknown key; expected one of:"),
        (f"[daemon]\nruntime_dir = '/tmp/{'d' * 100}'\n", "control.socket: control socket path"),
    ],
)
def test_check_config_refuses_a_bad_file_with_exit_78_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    assert main(["check-config", str(write(tmp_path, text))]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert err.startswith("arbord: configuration refused:\n  ")
    assert expected in err
    assert "Traceback" not in err


def test_check_config_of_a_missing_file_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(tmp_path / "missing.toml")]) == ExitCode.CONFIG
    assert "missing.toml: configuration file not found" in capsys.readouterr().err


def test_run_with_a_missing_config_exits_78_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == ExitCode.CONFIG
    assert "configuration file not found" in capsys.readouterr().err


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == 2


def test_the_loop_setting_picks_the_loop_factory() -> None:
    assert loop_factory("uvloop") is uvloop.new_event_loop
    assert loop_factory("asyncio") is asyncio.new_event_loop
