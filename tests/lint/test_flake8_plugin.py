"""The flake8 entry point (``ARB``) loads and reports the same findings as the command line, honouring
the allow-list and inline suppressions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lint.test_lint_support import python_env, write_tree

FLAKE8 = Path(sys.executable).with_name("flake8")

pytestmark = pytest.mark.skipif(
    not FLAKE8.exists() and shutil.which("flake8") is None, reason="flake8 is not installed"
)


def _flake8(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    executable = str(FLAKE8) if FLAKE8.exists() else "flake8"
    return subprocess.run(
        [executable, "--select", "ARB", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=python_env(),
    )


def test_the_plugin_reports_with_its_codes(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/state.py": """\
                import threading

                _local = threading.local()
                _handlers = {}


                def add(item, into=[]):
                    into.append(item)
                """,
            "app/install.py": """\
                from app.state import _handlers


                def install(name, fn):
                    _handlers[name] = fn
                """,
        },
    )
    result = _flake8("app", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert [line.split(" ")[:2] for line in result.stdout.splitlines()] == [
        ["app/state.py:3:10:", "ARB004"],
        ["app/state.py:4:1:", "ARB001"],
        ["app/state.py:7:20:", "ARB007"],
    ]


def test_the_plugin_honours_the_allow_list_and_suppressions(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "pyproject.toml": '[tool.arbord.hidden-state]\nallow = ["app.allowed"]\n',
            "app/__init__.py": "",
            "app/allowed.py": "import threading\n_local = threading.local()\n",
            "app/suppressed.py": "import threading\n_local = threading.local()  # arbord: allow-state(C)\n",
            "app/bare.py": "import threading\n_local = threading.local()  # arbord: allow-state\n",
        },
    )
    result = _flake8("app", cwd=tmp_path)
    assert [line.split(" ")[:2] for line in result.stdout.splitlines()] == [
        ["app/bare.py:2:10:", "ARB004"],
        ["app/bare.py:2:29:", "ARB010"],
    ]
