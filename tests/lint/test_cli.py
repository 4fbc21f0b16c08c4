"""``python -m supervisor.lint``: exit 0 when clean, 1 on findings, 2 on a usage error; findings printed as
``file:line:col CODE message``; configuration from the nearest pyproject.toml or ``--config``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lint.test_lint_support import run_lint, write_tree

FILES = {
    "app/__init__.py": "",
    "app/clean.py": "LIMIT = 3\n",
    "app/state.py": "_seen = set()\n\n\ndef see(x):\n    _seen.add(x)\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_tree(tmp_path, FILES)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    return tmp_path


def test_a_clean_tree_exits_0_and_prints_nothing(project: Path) -> None:
    result = run_lint("app/clean.py", "app/__init__.py", cwd=project)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_findings_exit_1_in_the_documented_format(project: Path) -> None:
    result = run_lint("app", cwd=project)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "app/state.py:1:1 ARB001 `_seen` is module-level state (`.add()` at line 5): "
        "keep it in a server's state or an owned table, or pass it as an explicit parameter"
    ]
    assert "1 hidden-state finding(s) in 1 file(s)" in result.stderr


def test_the_allow_list_is_read_from_the_pyproject_above_the_working_directory(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.arbord.hidden-state]\nallow = ["app.state"]\n')
    (project / "app" / "sub").mkdir()
    assert run_lint("app", cwd=project).returncode == 0
    assert run_lint("..", cwd=project / "app" / "sub").returncode == 0


def test_config_names_the_file_explicitly(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("config") / "settings.toml"
    elsewhere.write_text('[tool.arbord.hidden-state]\nallow = ["app.state"]\n')
    assert run_lint("--config", str(elsewhere), "app", cwd=project).returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give at least one PATH"),
        (("missing",), "missing: no such file or directory"),
        (("--config", "nowhere.toml", "app"), "cannot read the configuration"),
        (("--frobnicate", "app"), "unrecognized arguments: --frobnicate"),
    ],
)
def test_usage_errors_exit_2(project: Path, args: tuple[str, ...], message: str) -> None:
    result = run_lint(*args, cwd=project)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_a_malformed_config_exits_2(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.arbord.hidden-state]\nallow = 'app.state'\n")
    result = run_lint("app", cwd=project)
    assert result.returncode == 2
    assert "allow must be a list of strings" in result.stderr


def test_list_rules_prints_every_code(project: Path) -> None:
    result = run_lint("--list-rules", cwd=project)
    assert result.returncode == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == [f"ARB{n:03}" for n in range(12)]
