"""``[tool.arbord.hidden-state]`` in ``pyproject.toml``: which modules may hold state, and which context.

.. code-block:: toml

    [tool.arbord.hidden-state]
    allow = [
        # why this module may hold state (every entry says why)
        "supervisor._runtime",          # a dotted module name: exactly that module
        "scripts/migrate.py",          # a path, relative to the directory of pyproject.toml
        "legacy/",                     # a directory: every file under it
    ]
    context = ["myapp.request_context"]  # modules that may declare ContextVars

Matching is exact, never by substring: Foundation's whitelist entry ``telemetry/span`` also exempted
``span_manager``, because it was a substring test. Here ``a.b`` matches the module ``a.b`` only (not
``a.b_c``, not ``a.b.c``), and a path matches that file, or the files under that directory, compared
component by component.

>>> config = Config(root=Path("/repo"), allow=("pkg.span", "legacy/"))
>>> config.is_allowed(Path("/repo/pkg/span.py"), "pkg.span")
True
>>> config.is_allowed(Path("/repo/pkg/span_manager.py"), "pkg.span_manager")
False
>>> config.is_allowed(Path("/repo/legacy/old.py"), "legacy.old")
True
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from supervisor.lint.errors import ConfigError

__all__ = ["Config", "find_pyproject", "load_config"]

_KEYS: Final = frozenset({"allow", "context"})


@dataclass(frozen=True, slots=True)
class Config:
    """The check's settings. ``root`` is the directory path entries are relative to (the directory of
    ``pyproject.toml``, or the working directory when there is none); ``source`` is the file read."""

    root: Path
    allow: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    source: Path | None = None

    def is_allowed(self, path: Path, module: str) -> bool:
        """Whether ``allow`` names this file, by its dotted module name or by its path."""
        return _matches(self.allow, self.root, path, module)

    def is_context(self, path: Path, module: str) -> bool:
        """Whether ``context`` names this file: such modules may declare ``ContextVar``s."""
        return _matches(self.context, self.root, path, module)


def _is_path_entry(entry: str) -> bool:
    return "/" in entry or "\\" in entry or entry.endswith(".py")


def _matches(entries: tuple[str, ...], root: Path, path: Path, module: str) -> bool:
    resolved = path.resolve()
    for entry in entries:
        if _is_path_entry(entry):
            target = (root / entry).resolve()
            if resolved == target or resolved.is_relative_to(target):
                return True
        elif entry == module:
            return True
    return False


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` or one of its parents, or None."""
    for directory in (start.resolve(), *start.resolve().parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None = None, *, cwd: Path | None = None) -> Config:
    """Read ``[tool.arbord.hidden-state]`` from ``path``, or from the ``pyproject.toml`` found by walking
    up from ``cwd`` (default: the working directory). No file, or no section, gives the empty config.
    Raises ``ConfigError`` for a malformed section or an unreadable file."""
    start = Path.cwd() if cwd is None else cwd
    source = path if path is not None else find_pyproject(start)
    if source is None:
        return Config(root=start.resolve())
    try:
        document = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{source}: cannot read the configuration: {error}") from None
    root = source.resolve().parent
    section = document.get("tool", {}).get("arbord", {}).get("hidden-state", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: [tool.arbord.hidden-state] must be a table")
    unknown = sorted(set(section) - _KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in [tool.arbord.hidden-state]: {', '.join(unknown)}")
    allow = _entries(section, "allow", source, root)
    context = _entries(section, "context", source, root)
    return Config(root=root, allow=allow, context=context, source=source)


def _entries(section: dict[str, object], key: str, source: Path, root: Path) -> tuple[str, ...]:
    value = section.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{source}: [tool.arbord.hidden-state] {key} must be a list of strings")
    entries: list[str] = value
    for entry in entries:
        if _is_path_entry(entry):
            if not (root / entry).exists():
                raise ConfigError(f"{source}: {key} entry {entry!r} names no file or directory under {root}")
        elif not all(part.isidentifier() for part in entry.split(".")):
            raise ConfigError(f"{source}: {key} entry {entry!r} is neither a dotted module name nor a path")
    return tuple(entries)
