"""The hidden-state check as a flake8 plugin: ``flake8 --select ARB`` reports the same findings.

flake8 calls the plugin once per file. The per-file rules need only that file, but ARB001 needs the
whole package (a mutation may sit in a sibling module), so each flake8 process reads a package once and
keeps what it read for the other files of the run: the one piece of state in this package, allowed
inline with its reason. The configuration is the nearest ``pyproject.toml`` above the working directory.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

from supervisor.lint.checker import SourceFile, display_path, read_source, report
from supervisor.lint.config import Config, load_config
from supervisor.lint.index import StateIndex
from supervisor.lint.modules import package_root, python_files

__all__ = ["HiddenStatePlugin"]

_VERSION: Final = version("arbord")  # flake8 shows it; pyproject.toml holds it


class _Session:
    """One flake8 process's configuration and the packages it has read (flake8 runs one plugin instance
    per file, so without this every file would re-read its whole package)."""

    __slots__ = ("_packages", "config")

    def __init__(self, config: Config) -> None:
        self.config = config
        self._packages: dict[Path, dict[Path, SourceFile]] = {}

    def package(self, root: Path) -> dict[Path, SourceFile]:
        """Every file of the package at ``root``, read and walked once."""
        files = self._packages.get(root)
        if files is None:
            files = {
                path.resolve(): read_source(path, self.config, display=display_path(path))
                for path in python_files([root])
            }
            self._packages[root] = files
        return files


@functools.cache  # arbord: allow-state(one session per flake8 process, which calls the plugin once per file)
def _session(cwd: str) -> _Session:
    return _Session(load_config(cwd=Path(cwd)))


class HiddenStatePlugin:
    """flake8's view of the check: ``run`` yields ``(line, col, "CODE message", type)`` per finding."""

    name = "arbord-hidden-state"
    version = _VERSION

    def __init__(self, tree: ast.AST, filename: str, lines: list[str]) -> None:
        self._tree = tree
        self._filename = filename
        self._source = "".join(lines)

    def run(self) -> Iterator[tuple[int, int, str, type[Any]]]:
        """The findings for this file, after the allow-list and inline suppressions."""
        session = _session(str(Path.cwd()))
        path = Path(self._filename)
        file = read_source(path, session.config, display=self._filename, source=self._source)
        siblings: list[SourceFile] = []
        root = package_root(path) if path.is_file() else None
        if root is not None:
            resolved = path.resolve()
            siblings = [other for key, other in session.package(root).items() if key != resolved]
        index = StateIndex(f.facts for f in (file, *siblings) if f.facts is not None)
        for finding in report(file, index, session.config):
            yield finding.line, finding.col, f"{finding.code} {finding.message}", type(self)
