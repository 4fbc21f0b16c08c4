"""JSON lines for the daemon's log (``[daemon] log_format = "json"``): one object per record, for
journald and log shippers.

Each line has ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``; the error context that
``daemon.context.ContextFilter`` put on the record (``correlation_id``, ``operation_id``,
``trace_id``, ``span_id``, ``crash_id``, ``context`` and the counts of redacted and truncated
values), present when set; the structured fields a call passed with ``extra=`` (a supervisor
report's ``supervisor``, ``child_id``, ...); and ``exception``, the traceback with its notes. Values
JSON cannot hold are written as their ``repr``.

>>> record = logging.makeLogRecord({"name": "arbord", "levelname": "ERROR", "levelno": 40,
...     "msg": "failed %s", "args": ("x",), "created": 0.0, "correlation_id": "c0ffee"})
>>> print(JsonFormatter().format(record))
{"time": "1970-01-01T00:00:00.000000+00:00", "level": "error", "logger": "arbord", "message": "failed x", \
"correlation_id": "c0ffee"}

Under journald the daemon prefixes each line with ``<N>``, the syslog priority
(``daemon.app_logging.JournalJsonFormatter``), so ``journalctl -p`` still filters by level.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Final

__all__ = ["CONTEXT_KEYS", "JsonFormatter"]

CONTEXT_KEYS: Final = (
    "correlation_id",
    "operation_id",
    "trace_id",
    "span_id",
    "crash_id",
    "context",
    "context_redacted",
    "context_truncated",
)
"""The keys ``ContextFilter`` adds, written in this order and only when they hold something."""

_STANDARD: Final = frozenset(
    {
        *vars(logging.makeLogRecord({})),
        "message",
        "asctime",
        *CONTEXT_KEYS,
    }
)


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON (see the module)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="microseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        given = record.__dict__
        for key in CONTEXT_KEYS:
            value = given.get(key)
            if value is not None and value != {} and value != 0:
                line[key] = value
        for key, value in given.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=repr, ensure_ascii=False)
