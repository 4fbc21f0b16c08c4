"""The aiomonitor console: owner-only Unix socket, loopback-only TCP, failed binds are errors, and the
commands reach the daemon's tree through the control methods."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pydantic
import pytest

from daemon.component import verb_table
from daemon.console import ConsoleSettings, console_child_spec
from daemon.console.server import ConsoleServer
from daemon.errors import AlreadyRunning, ConsoleError
from daemon.verbs.component import CORE
from daemon.verbs.method import VerbTable
from supervisor import StartFailed, whereis
from supervisor.errors import InitIgnored
from tests.daemon.as_nobody import needs_nobody, run_as_nobody
from tests.daemon.test_control_helpers import Harness, running_control

IAC, SB, SE = b"\xff", b"\xfa", b"\xf0"
TTYPE, IS = b"\x18", b"\x00"
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\xff[\xfb-\xfe].|\r")


@asynccontextmanager
async def running_console(
    settings: ConsoleSettings | None = None,
) -> AsyncIterator[tuple[Harness, ConsoleServer]]:
    """A control harness plus a console server on the same tree and method table."""
    async with running_control() as h:
        console_settings = settings or ConsoleSettings(enabled=True)
        server = await ConsoleServer.start(console_settings, h.path.parent, h.daemon, verb_table([CORE]))
        try:
            yield h, server
        finally:
            await server.stop()


class TelnetSession:
    """Just enough telnet to drive a prompt_toolkit session: announce a terminal type, read text."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.seen = b""

    @classmethod
    @asynccontextmanager
    async def open_unix(cls, path: Path) -> AsyncIterator[TelnetSession]:
        reader, writer = await asyncio.open_unix_connection(str(path))
        async with cls._session(reader, writer) as session:
            yield session

    @classmethod
    @asynccontextmanager
    async def open_tcp(cls, host: str, port: int) -> AsyncIterator[TelnetSession]:
        reader, writer = await asyncio.open_connection(host, port)
        async with cls._session(reader, writer) as session:
            yield session

    @classmethod
    @asynccontextmanager
    async def _session(
        cls, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> AsyncIterator[TelnetSession]:
        session = cls(reader, writer)
        writer.write(IAC + SB + TTYPE + IS + b"dumb" + IAC + SE)
        await writer.drain()
        try:
            yield session
        finally:
            writer.close()

    async def expect(self, text: str, timeout: float = 10.0) -> str:
        """Read until ``text`` shows (escape sequences removed); returns what was read so far."""
        wanted = text.encode()
        async with asyncio.timeout(timeout):
            while wanted not in ANSI.sub(b"", self.seen):
                chunk = await self.reader.read(4096)
                if not chunk:
                    raise ConnectionError(f"closed before {text!r}; got {self.seen[-400:]!r}")
                self.seen += chunk
        shown = ANSI.sub(b"", self.seen).decode(errors="replace")
        self.seen = b""
        return shown

    async def command(self, line: str) -> None:
        self.writer.write(line.encode() + b"\r")
        await self.writer.drain()


# --- where it listens ----------------------------------------------------------------------------


async def test_disabled_console_starts_nothing() -> None:
    async with running_control() as h:
        with pytest.raises(InitIgnored):
            await ConsoleServer.start(ConsoleSettings(), h.path.parent, h.daemon, VerbTable({}))
        assert not (h.path.parent / "console.sock").exists()


async def test_console_listens_on_an_owner_only_unix_socket_and_runs_commands() -> None:
    async with running_console() as (h, server):
        path = h.path.parent / "console.sock"
        assert await server.call("address") == str(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        async with TelnetSession.open_unix(path) as session:
            await session.expect("arbord >>>")
            await session.command("tree")
            shown = await session.expect("control")
            assert "core" in shown
            assert "echo" in shown
            await session.command("children root/core")
            shown = await session.expect("other")
            assert "RESTARTS" in shown
            await session.command("help")
            shown = await session.expect("where")
            assert "restart" in shown
            assert "tables" in shown
            assert " console " not in shown  # the REPL is not offered
            await session.command("call ping")
            assert "pong" in await session.expect("pong")
    assert not path.exists()


async def test_console_restart_replaces_the_child() -> None:
    async with running_console() as (h, _):
        before = whereis("test.echo")
        async with TelnetSession.open_unix(h.path.parent / "console.sock") as session:
            await session.expect("arbord >>>")
            await session.command("restart root/core/echo")
            await session.expect("restarted root/core/echo")
            await session.command("restart root/core/nope")
            await session.expect("no child 'nope'")
        after = whereis("test.echo")
        assert after is not None
        assert after is not before


async def test_the_log_names_the_real_address_not_aiomonitors_defaults(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with running_console() as (h, _):
        messages = [r.getMessage() for r in caplog.records]
        assert f"console listening on {h.path.parent / 'console.sock'} (arborctl console)" in messages
        assert not [m for m in messages if "telnet://" in m or "http://" in m]
    # Only that one record was dropped: aiomonitor's logger is left as it was.
    assert not logging.getLogger("aiomonitor.monitor").filters


async def test_a_second_console_on_the_same_socket_fails_to_start() -> None:
    async with running_console() as (h, _):
        with pytest.raises(StartFailed) as caught:
            await ConsoleServer.start(ConsoleSettings(enabled=True), h.path.parent, h.daemon, VerbTable({}))
        error = caught.value.reason.exception
        assert isinstance(error, ConsoleError)
        assert "already running" in str(error)
        assert AlreadyRunning.__name__  # the cause is named in the message, not chained


async def test_tcp_is_loopback_only_and_loudly_warned(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(pydantic.ValidationError, match="loopback"):
        ConsoleSettings(enabled=True, tcp_host="0.0.0.0", tcp_port=1)
    with pytest.raises(pydantic.ValidationError, match="together"):
        ConsoleSettings(enabled=True, tcp_host="127.0.0.1")
    caplog.set_level(logging.WARNING, logger="daemon.console")
    async with running_console(ConsoleSettings(enabled=True, tcp_host="127.0.0.1", tcp_port=0)) as (
        _,
        server,
    ):
        address = await server.call("address")
        host, port = address.rsplit(":", 1)
        assert host == "127.0.0.1"
        assert any("UNAUTHENTICATED" in r.getMessage() for r in caplog.records)
        async with TelnetSession.open_tcp(host, int(port)) as session:
            await session.expect("arbord >>>")


async def test_a_busy_port_is_an_error_not_a_hang() -> None:
    taken = socket.create_server(("127.0.0.1", 0))
    try:
        port = taken.getsockname()[1]
        async with running_control() as h:
            settings = ConsoleSettings(enabled=True, tcp_host="127.0.0.1", tcp_port=port)
            async with asyncio.timeout(20):
                with pytest.raises(StartFailed) as caught:
                    await ConsoleServer.start(settings, h.path.parent, h.daemon, VerbTable({}))
            assert isinstance(caught.value.reason.exception, ConsoleError)
            assert str(port) in str(caught.value.reason.exception)
    finally:
        taken.close()


def test_the_child_spec_names_the_console() -> None:
    spec = console_child_spec(ConsoleSettings(enabled=True), Path("/run/x"), None, VerbTable({}))  # type: ignore[arg-type]
    assert spec.name == "arbord.console"
    assert spec.id == "console"


# --- other uids ----------------------------------------------------------------------------------

_RAW = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("EACCES"); sys.exit(0)
print(s.makefile("rb").read().decode(errors="replace").strip())
"""


async def _as_nobody(path: Path) -> str:
    return await asyncio.to_thread(run_as_nobody, _RAW, str(path))


@needs_nobody
async def test_the_console_refuses_other_uids() -> None:
    async with running_console() as (h, _):
        path = h.path.parent / "console.sock"
        assert await _as_nobody(path) == "EACCES"
        os.chmod(h.path.parent.parent, 0o711)  # open every door the kernel checks...
        os.chmod(h.path.parent, 0o711)
        os.chmod(path, 0o666)
        assert "permission denied" in await _as_nobody(path)  # ...the peer check still says no
