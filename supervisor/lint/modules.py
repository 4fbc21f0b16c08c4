"""Files and module names: which files a path stands for, and what dotted name each file imports as.

The check never imports the code it checks, so a module's name comes from the file system: the file's
stem, prefixed by every enclosing directory that has an ``__init__.py``. The *package* of a file is its
outermost such directory; the check reads the whole package so that state mutated from a sibling module
is seen whichever files were named on the command line (pre-commit names only the changed ones).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

from supervisor.lint.errors import UsageError

__all__ = ["is_package_init", "module_name", "package_root", "python_files"]

_SKIPPED_DIRECTORIES: Final = frozenset({"__pycache__", "node_modules"})


def _package_dirs(path: Path) -> list[Path]:
    """The directories enclosing ``path`` that are packages, innermost first."""
    dirs: list[Path] = []
    directory = path.resolve().parent
    while (directory / "__init__.py").is_file():
        dirs.append(directory)
        directory = directory.parent
    return dirs


def is_package_init(path: Path) -> bool:
    """Whether ``path`` is a package's ``__init__.py`` (its module name is the package's)."""
    return path.name == "__init__.py"


def module_name(path: Path) -> str:
    """The dotted name ``path`` imports as: ``supervisor/tables/_base.py`` is ``supervisor.tables._base``."""
    parts = [directory.name for directory in reversed(_package_dirs(path))]
    if not is_package_init(path):
        parts.append(path.stem)
    return ".".join(parts) if parts else path.stem


def package_root(path: Path) -> Path | None:
    """The outermost package directory that contains ``path``, or None if it is in no package."""
    dirs = _package_dirs(path)
    return dirs[-1] if dirs else None


def _skipped(directory: Path) -> bool:
    return (
        directory.name.startswith(".")
        or directory.name in _SKIPPED_DIRECTORIES
        or (directory / "pyvenv.cfg").is_file()  # a virtual environment, whatever its name
    )


def python_files(paths: Iterable[Path]) -> list[Path]:
    """The ``.py`` files the given paths stand for: a file as given, a directory searched recursively
    (skipping hidden directories, ``__pycache__`` and virtual environments). Raises ``UsageError`` for a path
    that does not exist."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(_walk(path))
        else:
            raise UsageError(f"{path}: no such file or directory")
    return found


def _walk(directory: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(directory.iterdir()):
        if entry.is_dir():
            if not _skipped(entry):
                found.extend(_walk(entry))
        elif entry.suffix == ".py":
            found.append(entry)
    return found
