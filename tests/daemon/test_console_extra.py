"""The console is the ``console`` extra: enabled without aiomonitor, the daemon refuses to start (78)
and ``arborctl console`` says what to install. "Not installed" is simulated the way the import system
spells it: ``sys.modules["aiomonitor"] = None`` makes every import of it fail."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from daemon.app import ExitCode
from daemon.cli import main as arbord_main
from daemon.ctl.arborctl import EXIT_ERROR
from daemon.ctl.arborctl import main as arborctl_main
from daemon.errors import ConfigError
from daemon.settings import load_settings

ENABLED = "[console]\nenabled = true\n"


@pytest.fixture
def without_aiomonitor(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in sys.modules if name == "aiomonitor" or name.startswith("aiomonitor.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "aiomonitor", None)
    monkeypatch.delitem(sys.modules, "daemon.ctl.attach", raising=False)


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "arbord.toml"
    path.write_text(text)
    return path


@pytest.mark.usefixtures("without_aiomonitor")
def test_an_enabled_console_needs_its_extra(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(config(tmp_path, ENABLED), {})
    (problem,) = caught.value.problems
    assert problem.startswith("console: the console needs the 'console' extra (aiomonitor is not installed)")
    assert "pip install 'arbord[console]'" in problem


@pytest.mark.usefixtures("without_aiomonitor")
def test_a_disabled_console_needs_nothing(tmp_path: Path) -> None:
    assert not load_settings(config(tmp_path, "[console]\nenabled = false\n"), {}).console.enabled  # type: ignore[attr-defined]


@pytest.mark.usefixtures("without_aiomonitor")
def test_the_daemon_refuses_to_start_with_78_naming_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert arbord_main(["run", "--config", str(config(tmp_path, ENABLED))]) == ExitCode.CONFIG
    assert "pip install 'arbord[console]'" in capsys.readouterr().err


@pytest.mark.usefixtures("without_aiomonitor")
def test_arborctl_console_says_what_to_install() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert arborctl_main(["console"], out=out, err=err) == EXIT_ERROR
    assert err.getvalue().startswith("arborctl: the console client needs the 'console' extra")
    assert err.getvalue().endswith("pip install 'arbord[console]'\n")
    assert err.getvalue().count("\n") == 1
