"""Shared fixtures for the daemon's tests: a fake systemd notify receiver and the real daemon.

``arbord_daemon`` starts ``python -m daemon run --config <file>`` as a subprocess with its own short
runtime directory (``sun_path`` is 108 bytes: pytest's ``tmp_path`` is too long for a socket) and a
``NOTIFY_SOCKET`` pointing at a ``NotifyReceiver``; it yields once ``READY=1`` has arrived, and stops
the daemon afterwards. ``start_arbord`` starts one with a given configuration, for tests that need
their own. Everything is synchronous (subprocess + blocking socket with timeouts), so both sync and
async tests can use it; from a coroutine, wait on the receiver with ``asyncio.to_thread``.

``spawn`` (async tests) makes owners for the registry's tests: tasks that live until the test ends.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from daemon.app_logging import LOGGER_NAMES

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0

# Variables that would make the child daemon behave differently from the configuration under test.
_SCRUBBED_PREFIXES = (
    "ARBORD_",
    "NOTIFY_SOCKET",
    "WATCHDOG_",
    "RUNTIME_DIRECTORY",
    "XDG_RUNTIME_DIR",
    "LISTEN_",
    "STATE_DIRECTORY",
    "XDG_STATE_HOME",
)


@dataclass
class NotifyReceiver:
    """A fake service manager: a datagram socket that records every sd_notify message."""

    path: Path
    sock: socket.socket
    messages: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def bind(cls, path: Path) -> NotifyReceiver:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        return cls(path, sock)

    def close(self) -> None:
        self.sock.close()

    def _receive(self, timeout: float) -> dict[str, str] | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return None
        fields = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
        self.messages.append(fields)
        return fields

    def wait_for(
        self, key: str, value: str | None = None, *, timeout: float = START_TIMEOUT, after: int = 0
    ) -> dict[str, str]:
        """The first message (from index ``after`` on) with ``key`` (equal to ``value`` if given)."""

        def matches(message: dict[str, str]) -> bool:
            return key in message and (value is None or message[key] == value)

        for seen in self.messages[after:]:
            if matches(seen):
                return seen
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self._receive(left)
            if message is not None and matches(message):
                return message
        raise AssertionError(f"no {key}={value or '*'} within {timeout} s; got {self.messages}")

    def drain(self) -> None:
        """Record whatever has already arrived, without waiting."""
        while self._receive(0.001) is not None:
            pass


@dataclass
class RunningDaemon:
    """A daemon subprocess and where to reach it."""

    process: subprocess.Popen[bytes]
    workdir: Path
    config_path: Path
    runtime_dir: Path
    control_socket: Path
    notify: NotifyReceiver
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        return self.process.wait(timeout)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait for the exit code (kills it if it does not stop in time)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def write_config(self, text: str) -> None:
        """Replace the configuration file (for reload tests); the runtime directory stays."""
        self.config_path.write_text(config_with_runtime_dir(text, self.runtime_dir))


def config_with_runtime_dir(text: str, runtime_dir: Path) -> str:
    """``text`` with ``[daemon] runtime_dir`` set (added to an existing ``[daemon]`` table if any)."""
    line = f'runtime_dir = "{runtime_dir}"\n'
    if "[daemon]\n" in text:
        return text.replace("[daemon]\n", "[daemon]\n" + line, 1)
    return f"[daemon]\n{line}\n{text}"


def daemon_environ(notify_path: Path | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's environment: ours minus anything arbord or systemd reads, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONFAULTHANDLER"] = "1"
    if notify_path is not None:
        env["NOTIFY_SOCKET"] = str(notify_path)
    env.update(extra or {})
    return env


def spawn_arbord(
    workdir: Path,
    config: str | None,
    *,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    runtime_dir: Path | None = None,
) -> RunningDaemon:
    """Start ``python -m daemon run`` without waiting for it. ``config`` None: no ``--config``."""
    runtime_dir = runtime_dir or workdir / "run"
    config_path = workdir / "arbord.toml"
    command = [sys.executable, "-m", "daemon", "run", *args]
    if config is not None:
        config_path.write_text(config_with_runtime_dir(config, runtime_dir))
        command += ["--config", str(config_path)]
    notify = NotifyReceiver.bind(workdir / "notify")
    stderr_path = workdir / "stderr.log"
    # Each daemon keeps its state (the flags' database) in its own directory, not in the checkout.
    env = {"STATE_DIRECTORY": str(workdir / "state"), **(env or {})}
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=daemon_environ(notify.path, env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return RunningDaemon(
        process, workdir, config_path, runtime_dir, runtime_dir / "control.sock", notify, stderr_path
    )


@contextmanager
def ready_daemon(config: str | None) -> Iterator[RunningDaemon]:
    """A daemon started on ``config`` in a short temporary directory (``sun_path`` is 108 bytes),
    ready; stopped and its directory removed on exit. For module-scoped fixtures that share one."""
    workdir = Path(tempfile.mkdtemp(prefix="arb-", dir="/tmp"))
    running = spawn_arbord(workdir, config)
    try:
        wait_ready(running)
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()
        running.notify.close()
        shutil.rmtree(workdir, ignore_errors=True)


T = TypeVar("T")


def wait_ready(running: RunningDaemon, timeout: float = START_TIMEOUT) -> None:
    """Wait for ``READY=1``; fail with the daemon's stderr if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise AssertionError(f"arbord exited {running.process.returncode}:\n{running.stderr()}")
        message = running.notify._receive(0.2)
        if message is not None and message.get("READY") == "1":
            return
    raise AssertionError(f"arbord sent no READY=1 within {timeout} s:\n{running.stderr()}")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the logging configuration back after a test that calls ``configure_logging``: the
    daemon's loggers' levels and the root handler outlive the test otherwise, and change what the
    next test's ``caplog`` sees."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in LOGGER_NAMES}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


Spawn = Callable[[], asyncio.Task[None]]


@pytest.fixture
async def spawn() -> AsyncIterator[Spawn]:
    """Owners: tasks that run until the test ends (or is cancelled by it)."""
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    def make() -> asyncio.Task[None]:
        async def live() -> None:
            await stop.wait()

        task = asyncio.create_task(live())
        tasks.append(task)
        return task

    yield make
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A directory under /tmp with a short path (for Unix sockets), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="arb-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


StartArbord = Callable[..., RunningDaemon]


@pytest.fixture
def start_arbord(short_tmp: Path) -> Iterator[StartArbord]:
    """``start_arbord(config_text="", env=None, wait=True)``: start a daemon (each in its own dir)."""
    started: list[RunningDaemon] = []

    def start(
        config: str | None = "", *, env: Mapping[str, str] | None = None, wait: bool = True
    ) -> RunningDaemon:
        workdir = short_tmp / str(len(started))
        workdir.mkdir()
        running = spawn_arbord(workdir, config, env=env)
        started.append(running)
        if wait:
            wait_ready(running)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()
        running.notify.close()


@pytest.fixture
def arbord_daemon(start_arbord: StartArbord) -> Iterator[RunningDaemon]:
    """A daemon on the default configuration, READY; stopped with SIGTERM afterwards."""
    running = start_arbord("")
    yield running
    if running.process.poll() is None:
        running.stop()


@pytest.fixture(autouse=True)
def _own_state_directory(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A daemon run in-process keeps its state (the flags' database) in a directory of the test's
    own, not in the checkout's state/ shared by every test."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path_factory.mktemp("state")))
