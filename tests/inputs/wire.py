"""Talking to the real daemon's control socket, and reading its log, for the bad-input suite.

``Wire`` is ``tests/daemon/test_control_daemon.py``'s ``RawClient`` plus what the suite checks: the
one final reply a request gets (after a stream's ``more`` frames), or ``None`` when the daemon closed
the connection instead. ``LogCursor`` reads what the daemon logged since the last look and picks out
the error-level lines and tracebacks, which no bad input may cause.

>>> error_lines("2026-01-01 00:00:00,000 WARNING daemon.control: x\\n2026-01-01 00:00:01,000 ERROR a: b\\n")
['2026-01-01 00:00:01,000 ERROR a: b']
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.daemon.conftest import RunningDaemon
from tests.daemon.test_control_daemon import RawClient

__all__ = ["LogCursor", "Wire", "error_lines", "ping_answers"]

_ERROR_LINE = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) |^Traceback |Exception in callback|Task exception")


def error_lines(text: str) -> list[str]:
    """The lines of a daemon log (``asctime levelname name: message``) at ERROR or worse, and the
    first line of any traceback or unhandled asyncio exception."""
    return [line for line in text.splitlines() if _ERROR_LINE.search(line)]


class LogCursor:
    """Reads a daemon's stderr from where it last stopped."""

    def __init__(self, daemon: RunningDaemon) -> None:
        self._path = daemon.stderr_path
        self._offset = self._path.stat().st_size

    def new_text(self) -> str:
        with self._path.open("rb") as log:
            log.seek(self._offset)
            data = log.read()
        self._offset += len(data)
        return data.decode(errors="replace")

    def new_errors(self) -> list[str]:
        return error_lines(self.new_text())


class Wire(RawClient):
    """A raw client that reads whole answers and tells a closed connection from a reply."""

    def __init__(self, path: Path, timeout: float = 15.0) -> None:
        try:
            super().__init__(path)
        except OSError:
            if hasattr(self, "sock"):  # created, then the connect failed: not leaked
                self.sock.close()
            raise
        self.sock.settimeout(timeout)

    def answer(self) -> list[dict[str, Any]] | None:
        """The frames that answer one request (``more`` ones, then the final one), or ``None`` if the
        daemon closed the connection before the final frame."""
        frames: list[dict[str, Any]] = []
        while True:
            try:
                line = self.file.readline()
            except ConnectionResetError:
                return None
            if not line:
                return None
            frame = json.loads(line)
            assert isinstance(frame, dict), frame
            frames.append(frame)
            if not frame.get("more"):
                return frames

    def call(self, method: str, params: dict[str, Any] | None = None, request_id: int = 1) -> dict[str, Any]:
        """One request's final frame (the connection must stay open)."""
        self.send(json.dumps({"id": request_id, "method": method, "params": params or {}}).encode() + b"\n")
        frames = self.answer()
        assert frames is not None, f"{method}: the daemon closed the connection"
        return frames[-1]

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ping_answers(daemon: RunningDaemon) -> bool:
    """Whether a new connection's ``ping`` is answered ``pong``."""
    try:
        with Wire(daemon.control_socket) as wire:
            return wire.call("ping", request_id=-1) == {"id": -1, "result": {"pong": True}}
    except OSError:
        return False
