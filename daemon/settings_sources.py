"""Where configuration values come from: the TOML file and the ``ARBORD_*`` environment.

Both sources are read into plain nested dicts *and* a record of where each key came from (the file and
line, or the environment variable), so that a refused value can be reported at its origin. The
environment wins over the file, and the file over the embedded defaults.

>>> doc = parse_toml('[daemon]\\nloop = "asyncio"\\n', "arbord.toml")
>>> doc.data, doc.origin(("daemon", "loop"))
({'daemon': {'loop': 'asyncio'}}, 'arbord.toml line 2')
>>> env = parse_environ({"ARBORD_DAEMON__LOG_LEVEL": "debug", "HOME": "/root"})
>>> env.data, env.origin(("daemon", "log_level"))
({'daemon': {'log_level': 'debug'}}, 'environment variable ARBORD_DAEMON__LOG_LEVEL')
>>> merge({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}})
{'a': {'b': 3, 'c': 2}}
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeAlias

from daemon.errors import ConfigError

__all__ = [
    "ENV_DELIMITER",
    "ENV_PREFIX",
    "MAX_CONFIG_BYTES",
    "EnvironSource",
    "Loc",
    "TomlSource",
    "merge",
    "parse_environ",
    "parse_toml",
    "read_toml",
]

ENV_PREFIX: Final = "ARBORD_"
ENV_DELIMITER: Final = "__"
MAX_CONFIG_BYTES: Final = 1024 * 1024
"""The largest configuration file read (1 MiB; the shipped one is under 10 KiB): a larger one is
refused before it is parsed, so reading a configuration path costs a bounded time and memory."""

Loc: TypeAlias = tuple[str | int, ...]

_HEADER: Final = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY: Final = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_PART: Final = re.compile(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""")


def _dotted(text: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in _PART.findall(text))


def _longest_prefix(loc: Loc, table: Mapping[tuple[str, ...], Any]) -> tuple[str, ...] | None:
    parts = tuple(str(p) for p in loc)
    for end in range(len(parts), 0, -1):
        if parts[:end] in table:
            return parts[:end]
    return None


@dataclass(frozen=True, slots=True)
class TomlSource:
    """A parsed TOML document and the line each key (or table header) is on."""

    data: dict[str, Any]
    path: str
    lines: Mapping[tuple[str, ...], int]

    def origin(self, loc: Loc) -> str | None:
        """``"<file> line <n>"`` for the deepest part of ``loc`` the file sets; None if it sets none."""
        found = _longest_prefix(loc, self.lines)
        return None if found is None else f"{self.path} line {self.lines[found]}"


def parse_toml(text: str, path: str) -> TomlSource:
    """Parse ``text``; a syntax error becomes a ``ConfigError`` naming the file and line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: TOML syntax error: {error}"]) from None
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    # A line scan, not a parser: good enough to point at keys in a file tomllib already accepted.
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _dotted(header.group(1))
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault((*table, *_dotted(key.group(1))), number)
    return TomlSource(data, path, lines)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _read_bounded(path: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes`` of them, read without ever
    blocking on what is not a file: opened ``O_NONBLOCK`` (a FIFO opens at once instead of waiting
    for a writer), checked with ``fstat`` on the open descriptor (no race with a rename), read up to
    one byte past the cap (a file that grows while read is still refused)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ConfigError([f"{path}: configuration file not found"]) from None
    except OSError as error:
        raise ConfigError([f"{path}: cannot read the configuration file: {error.strerror}"]) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError([f"{path}: not a regular file ({_kind(info.st_mode)}); give a TOML file"])
        too_large = ConfigError([f"{path}: the configuration file is larger than {max_bytes} bytes"])
        if info.st_size > max_bytes:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise too_large
        return b"".join(chunks)
    except OSError as error:
        raise ConfigError([f"{path}: cannot read the configuration file: {error.strerror}"]) from None
    finally:
        os.close(fd)


def read_toml(path: Path, *, max_bytes: int = MAX_CONFIG_BYTES) -> TomlSource:
    """Read and parse the file at ``path``; a missing or unreadable file is a ``ConfigError``, and so
    is anything but a regular file (a FIFO, ``/dev/zero``, a directory) or a file larger than
    ``max_bytes``: reading a configuration path takes a bounded time and memory, at start-up, on a
    reload and for ``config.check`` (issue 12; tests/daemon/test_settings_read.py)."""
    raw = _read_bounded(path, max_bytes)
    try:
        text = raw.decode()
    except UnicodeDecodeError as error:
        raise ConfigError([f"{path}: not UTF-8 text (byte {error.start})"]) from None
    return parse_toml(text, str(path))


@dataclass(frozen=True, slots=True)
class EnvironSource:
    """The ``ARBORD_*`` variables as nested data, and the variable each key came from."""

    data: dict[str, Any]
    names: Mapping[tuple[str, ...], str]

    def origin(self, loc: Loc) -> str | None:
        """``"environment variable NAME"`` for the variable that set ``loc`` (or a parent), else None."""
        found = _longest_prefix(loc, self.names)
        if found is None:
            # A parent table was refused: name a variable that set something under it.
            parts = tuple(str(p) for p in loc)
            below = sorted(name for key, name in self.names.items() if key[: len(parts)] == parts)
            return f"environment variable {', '.join(below)}" if below else None
        return f"environment variable {self.names[found]}"


def _env_value(raw: str) -> Any:
    """Values are strings (pydantic parses numbers and booleans); ``[...]``/``{...}`` are JSON."""
    if raw[:1] in ("[", "{"):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def parse_environ(environ: Mapping[str, str], ignore: Sequence[str] = ()) -> EnvironSource:
    """Collect ``ARBORD_SECTION__KEY=value`` variables (``__`` nests; names are case-insensitive)."""
    data: dict[str, Any] = {}
    names: dict[tuple[str, ...], str] = {}
    skip = {name.upper() for name in ignore}
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in skip:
            continue
        parts = tuple(part.lower() for part in upper[len(ENV_PREFIX) :].split(ENV_DELIMITER))
        if not all(parts):
            parts = tuple(p for p in parts if p) or ("",)
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = _env_value(environ[name])
        names[parts] = name
    return EnvironSource(data, names)


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``, table by table (a scalar replaces a table and vice versa)."""
    result = dict(base)
    for key, value in override.items():
        current = result.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            result[key] = merge(current, value)
        else:
            result[key] = value
    return result
