"""Helpers shared by the hidden-state check's tests (this module holds no tests).

Fixtures are small modules written into ``tmp_path`` from strings, so nothing in the repository
intentionally violates the check and nothing needs excluding from ruff, mypy or pytest collection.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from supervisor.lint import Config, Finding, check_paths, check_source

ROOT = Path(__file__).resolve().parent.parent.parent


def codes(source: str, *, config: Config | None = None) -> list[tuple[str, int, int]]:
    """``(code, line, col)`` of every finding in ``source``, columns 1-based as printed."""
    findings = check_source(textwrap.dedent(source), "fixture.py", config=config)
    return [(f.code, f.line, f.col + 1) for f in findings]


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Write ``files`` (relative path -> source, dedented) under ``root``."""
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")


def check_tree(root: Path, files: dict[str, str], *targets: str, config: Config | None = None) -> list[str]:
    """Write ``files`` under ``root``, check ``targets`` (default: all of ``root``) and return
    ``"relative/path:line CODE"`` for each finding."""
    write_tree(root, files)
    settings = Config(root=root) if config is None else config
    paths = [root / target for target in targets] or [root]
    return [_short(f, root) for f in check_paths(paths, settings)]


def _short(finding: Finding, root: Path) -> str:
    path = Path(finding.path)
    shown = path.relative_to(root) if path.is_absolute() else path.resolve().relative_to(root)
    return f"{shown.as_posix()}:{finding.line} {finding.code}"


def run_lint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m supervisor.lint ARGS`` in ``cwd``, with this checkout importable."""
    return subprocess.run(
        [sys.executable, "-m", "supervisor.lint", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=python_env(),
    )


def python_env() -> dict[str, str]:
    """The environment for a subprocess that must import this checkout's ``supervisor``."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}
