"""``[tool.arbord.hidden-state]``: the allow-list matches exact modules and paths, never substrings; the
file is found by walking up from the working directory; a malformed section is a usage error."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from supervisor.lint import Config, ConfigError, load_config
from tests.lint.test_lint_support import check_tree

STATE = "_spans = []\n\ndef push(span):\n    _spans.append(span)\n"
TELEMETRY = {
    "app/__init__.py": "",
    "app/telemetry/__init__.py": "",
    "app/telemetry/span.py": STATE,
    "app/telemetry/span_manager.py": STATE,
    "app/telemetry/spans/__init__.py": "",
    "app/telemetry/spans/store.py": STATE,
}


def _pyproject(root: Path, section: str) -> Path:
    path = root / "pyproject.toml"
    path.write_text(textwrap.dedent(section), encoding="utf-8")
    return path


def test_allow_by_module_is_exact(tmp_path: Path) -> None:
    # Foundation's whitelist `telemetry/span` also exempted `span_manager`: a substring test.
    config = Config(root=tmp_path, allow=("app.telemetry.span",))
    assert check_tree(tmp_path, TELEMETRY, config=config) == [
        "app/telemetry/span_manager.py:1 ARB001",
        "app/telemetry/spans/store.py:1 ARB001",
    ]


def test_a_package_entry_allows_its_init_only(tmp_path: Path) -> None:
    config = Config(root=tmp_path, allow=("app.telemetry",))
    assert len(check_tree(tmp_path, TELEMETRY, config=config)) == 3


def test_allow_by_file_path_is_exact(tmp_path: Path) -> None:
    config = Config(root=tmp_path, allow=("app/telemetry/span.py",))
    assert check_tree(tmp_path, TELEMETRY, config=config) == [
        "app/telemetry/span_manager.py:1 ARB001",
        "app/telemetry/spans/store.py:1 ARB001",
    ]


def test_allow_by_directory_matches_whole_path_components(tmp_path: Path) -> None:
    config = Config(root=tmp_path, allow=("app/telemetry/span",))
    assert check_tree(tmp_path, TELEMETRY, config=config) == [
        "app/telemetry/span.py:1 ARB001",
        "app/telemetry/span_manager.py:1 ARB001",
        "app/telemetry/spans/store.py:1 ARB001",
    ]
    config = Config(root=tmp_path, allow=("app/telemetry/spans/",))
    assert check_tree(tmp_path, TELEMETRY, config=config) == [
        "app/telemetry/span.py:1 ARB001",
        "app/telemetry/span_manager.py:1 ARB001",
    ]


def test_load_config_reads_the_section(tmp_path: Path) -> None:
    (tmp_path / "legacy").mkdir()
    source = _pyproject(
        tmp_path,
        """\
        [tool.arbord.hidden-state]
        allow = ["app.registry", "legacy/"]  # comments are fine
        context = ["app.context"]
        """,
    )
    config = load_config(source)
    assert config == Config(
        root=tmp_path.resolve(), allow=("app.registry", "legacy/"), context=("app.context",), source=source
    )
    assert config.is_context(tmp_path / "app" / "context.py", "app.context")
    assert not config.is_context(tmp_path / "app" / "context_tools.py", "app.context_tools")


def test_the_nearest_pyproject_above_the_working_directory_is_used(tmp_path: Path) -> None:
    _pyproject(tmp_path, '[tool.arbord.hidden-state]\nallow = ["app.registry"]\n')
    nested = tmp_path / "app" / "deep"
    nested.mkdir(parents=True)
    assert load_config(cwd=nested).allow == ("app.registry",)
    assert load_config(cwd=nested).root == tmp_path.resolve()


def test_a_pyproject_without_the_section_gives_the_empty_config(tmp_path: Path) -> None:
    _pyproject(tmp_path, "[project]\nname = 'x'\n")
    config = load_config(cwd=tmp_path)
    assert (config.allow, config.context, config.root) == ((), (), tmp_path.resolve())


@pytest.mark.parametrize(
    ("section", "error"),
    [
        ('allowed = ["x"]', "unknown key(s) in [tool.arbord.hidden-state]: allowed"),
        ('allow = "app.registry"', "allow must be a list of strings"),
        ("context = [1]", "context must be a list of strings"),
        ('allow = ["app registry"]', "'app registry' is neither a dotted module name nor a path"),
        ('allow = ["gone/old.py"]', "'gone/old.py' names no file or directory"),
    ],
)
def test_a_malformed_section_is_a_config_error(tmp_path: Path, section: str, error: str) -> None:
    source = _pyproject(tmp_path, f"[tool.arbord.hidden-state]\n{section}\n")
    with pytest.raises(ConfigError, match=re.escape(error)):
        load_config(source)


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(_pyproject(tmp_path, "[tool.arbord.hidden-state\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
