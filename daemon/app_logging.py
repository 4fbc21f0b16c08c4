"""Logging for the daemon: lines on stderr, plain text or JSON (``[daemon] log_format``), with syslog
priority prefixes under journald, and the error context on every record.

Under systemd, stderr is connected to the journal and ``$JOURNAL_STREAM`` holds its ``device:inode``;
a line starting with ``<N>`` is then recorded with priority N (``SyslogLevelPrefix=`` is on by default),
so ``journalctl -p warning`` works. Anywhere else the text lines carry a timestamp instead. The
handler carries ``daemon.context.ContextFilter``: JSON lines get the correlation id, trace and span
ids and the context's fields (docs/context.md, "Logs").

>>> syslog_priority(logging.ERROR), syslog_priority(logging.DEBUG)
(3, 7)
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Final, Literal, TextIO

from daemon.context import ContextFilter
from daemon.log_json import JsonFormatter

__all__ = [
    "LOGGER_NAMES",
    "JournalFormatter",
    "JournalJsonFormatter",
    "LogFormat",
    "configure_logging",
    "set_format",
    "set_level",
    "stderr_is_journal",
    "syslog_priority",
]

LOGGER_NAMES: Final = ("arbord", "supervisor", "daemon")
"""The loggers whose level ``[daemon] log_level`` sets."""

_HANDLER_NAME: Final = "arbord-stderr"

LogFormat = Literal["text", "json"]


def syslog_priority(level: int) -> int:
    """The syslog priority of a logging level (``<3>`` error ... ``<7>`` debug)."""
    if level >= logging.CRITICAL:
        return 2
    if level >= logging.ERROR:
        return 3
    if level >= logging.WARNING:
        return 4
    if level >= logging.INFO:
        return 6
    return 7


class JournalFormatter(logging.Formatter):
    """``<priority>logger: message``: the journal adds the time and the unit itself."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in text.splitlines())


class JournalJsonFormatter(JsonFormatter):
    """``<priority>{...}``: a JSON line the journal records at the record's priority."""

    def format(self, record: logging.LogRecord) -> str:
        return f"<{syslog_priority(record.levelno)}>{super().format(record)}"


def _formatter(log_format: str, journal: bool) -> logging.Formatter:
    if log_format == "json":
        return JournalJsonFormatter() if journal else JsonFormatter()
    if journal:
        return JournalFormatter("%(name)s: %(message)s")
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def stderr_is_journal(environ: Mapping[str, str], stream: TextIO) -> bool:
    """True when ``stream`` is the journal stream systemd announced in ``$JOURNAL_STREAM``."""
    announced = environ.get("JOURNAL_STREAM", "")
    if not announced:
        return False
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return announced == f"{info.st_dev}:{info.st_ino}"


def configure_logging(
    level: str, environ: Mapping[str, str], stream: TextIO | None = None, log_format: LogFormat = "text"
) -> None:
    """Send the daemon's logs to ``stream`` (stderr) at ``level``, as ``log_format`` lines, with the
    error context on each record; calling it again replaces the handler."""
    stream = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(ContextFilter())
    handler.setFormatter(_formatter(log_format, stderr_is_journal(environ, stream)))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    set_level(level)


def set_level(level: str) -> None:
    """Set the level of the daemon's loggers (``debug``, ``info``, ``warning``, ``error``)."""
    for name in LOGGER_NAMES:
        logging.getLogger(name).setLevel(level.upper())


def set_format(log_format: LogFormat) -> None:
    """Switch the daemon's handler to ``log_format`` lines (a reload of ``[daemon] log_format``)."""
    for handler in logging.getLogger().handlers:
        if handler.get_name() == _HANDLER_NAME:
            journal = isinstance(handler.formatter, (JournalFormatter, JournalJsonFormatter))
            handler.setFormatter(_formatter(log_format, journal))
