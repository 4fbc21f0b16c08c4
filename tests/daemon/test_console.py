"""The aiomonitor console: owner-only Unix socket, loopback-only TCP, failed binds are errors, and the
commands reach the daemon's tree through the control methods."""

from __future__ import annotations

import asyncio
import io
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

from daemon.app import ExitCode
from daemon.cli import main as cli_main
from daemon.component import verb_table
from daemon.console import ConsoleSettings, console_child_spec
from daemon.console.commands import ConsoleContext, build_cli
from daemon.console.monitor import ArbordMonitor
from daemon.console.repl import ReplSession, run_repl
from daemon.console.server import ConsoleServer
from daemon.control.peer import AccessPolicy, PeerCredentials
from daemon.errors import AlreadyRunning, ConsoleError
from daemon.verbs.component import CORE
from daemon.verbs.method import VerbTable
from supervisor import StartFailed, whereis
from supervisor.errors import InitIgnored
from tests.daemon.as_nobody import NOBODY, needs_nobody, run_as_nobody
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


# --- the Python prompt (repl) ----------------------------------------------------------------------


async def test_the_repl_runs_python_in_the_daemon_with_helpers_and_logs_the_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="daemon.console")
    settings = ConsoleSettings(enabled=True, repl=True)
    async with (
        running_console(settings) as (h, _),
        TelnetSession.open_unix(h.path.parent / "console.sock") as session,
    ):
        await session.expect("arbord >>>")
        await session.command("help")
        assert "A Python prompt in the daemon" in await session.expect("where")
        await session.command("repl")
        await session.expect("Ctrl-D returns to the console")
        await session.command("whereis('test.echo') is not None")
        await session.expect("True")
        await session.command("drawn = await tree()")
        await session.command("print('tree has echo:', 'echo' in drawn)")
        await session.expect("tree has echo: True")
        await session.command("__import__('os').getpid() * 1")
        await session.expect(str(os.getpid()))
        await session.command("for n in range(2):")
        await session.command("    print('line', n)")
        await session.command("")
        await session.expect("line 1")
        await session.command("exit()")
        assert "use Ctrl-D" in await session.expect("use Ctrl-D")
        await session.command("\x04")  # Ctrl-D: back to the console's commands
        await session.expect("arbord >>>")
        await session.command("call ping")
        await session.expect("pong")
    messages = [r.getMessage() for r in caplog.records]
    uid, pid = os.geteuid(), os.getpid()
    assert f"console: Python prompt opened for pid {pid} uid {uid}" in messages
    assert any(m.startswith(f"console: Python prompt closed for pid {pid} uid {uid}") for m in messages)


async def test_the_repl_is_not_offered_unless_configured() -> None:
    async with (
        running_console() as (h, _),
        TelnetSession.open_unix(h.path.parent / "console.sock") as session,
    ):
        await session.expect("arbord >>>")
        await session.command("repl")
        assert "No such command" in await session.expect("No such command")


def test_repl_with_a_tcp_console_is_refused_at_config_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(pydantic.ValidationError, match="repl = true is refused with tcp_host and tcp_port"):
        ConsoleSettings(enabled=True, repl=True, tcp_host="127.0.0.1", tcp_port=1)
    config = tmp_path / "arbord.toml"
    config.write_text("[console]\nenabled = true\nrepl = true\ntcp_host = '127.0.0.1'\ntcp_port = 20101\n")
    for argv in (["check-config", str(config)], ["run", "--config", str(config)]):
        assert cli_main(argv) == ExitCode.CONFIG
        err = capsys.readouterr().err
        assert "console: repl = true is refused with tcp_host and tcp_port" in err


async def test_a_tcp_monitor_never_offers_the_repl() -> None:
    loop = asyncio.get_running_loop()
    with pytest.raises(ValueError, match="never offered on TCP"):
        ArbordMonitor(loop, build_cli({}, repl=True), tcp=("127.0.0.1", 0), repl=True)


@pytest.mark.parametrize(
    ("peer", "refused_for"),
    [(None, "a TCP session"), (PeerCredentials(4242, 65534, 65534), "pid 4242 uid 65534")],
    ids=["tcp", "another-uid"],
)
async def test_the_repl_itself_refuses_a_tcp_session_and_another_uid(
    peer: PeerCredentials | None, refused_for: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Behind the listener's own peer check and the configuration: the prompt checks again.
    caplog.set_level(logging.WARNING, logger="daemon.console")
    shown = io.StringIO()
    await run_repl(ReplSession({}), asyncio.get_running_loop(), shown, peer)
    assert "repl: refused" in shown.getvalue()
    assert f"console: Python prompt refused for {refused_for}" in [r.getMessage() for r in caplog.records]


_REPL_AS_NOBODY = r"""
import re, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(15)
s.connect(sys.argv[1])
s.sendall(b"\xff\xfa\x18\x00dumb\xff\xf0")
seen = b""
def until(text):
    global seen
    while text not in re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]|\xff[\xfb-\xfe].|\r", b"", seen):
        chunk = s.recv(4096)
        if not chunk:
            break
        seen += chunk
until(b"arbord >>>")
seen = b""
s.sendall(b"repl\r")
until(b"refused")
print(re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]|\xff[\xfb-\xfe].|\r", b"", seen).decode(errors="replace"))
"""


@needs_nobody
async def test_the_repl_refuses_another_uid_even_when_the_console_lets_it_in() -> None:
    # A console whose listener admits nobody's group (the control socket's kind of policy): the
    # commands are theirs, the Python prompt is not.
    async with running_control() as h:
        path = h.path.parent / "repl.sock"
        verbs = verb_table([CORE])
        monitor = ArbordMonitor(
            asyncio.get_running_loop(),
            build_cli(verbs.methods, repl=True),
            unix_path=path,
            policy=AccessPolicy(os.geteuid(), NOBODY),
            context=ConsoleContext(h.daemon, verbs),
            repl=True,
        )
        await monitor.open()
        try:
            os.chmod(h.path.parent.parent, 0o711)
            os.chmod(h.path.parent, 0o711)
            os.chmod(path, 0o666)
            shown = await asyncio.to_thread(run_as_nobody, _REPL_AS_NOBODY, str(path))
        finally:
            await monitor.aclose()
    assert "repl: refused" in shown
    assert ">>> " not in shown.split("repl: refused", 1)[1]


# --- spans: the same command, options and table as ``arborctl spans`` --------------------------


async def test_console_spans_takes_arborctls_options_and_prints_its_table() -> None:
    from daemon.spans import SPANS_NAME, SpanServer, end_span, start_span
    from daemon.spans.component import SPANS

    spans = await SpanServer.start(name=SPANS_NAME)
    try:
        async with running_control() as h:
            table = verb_table([CORE, SPANS])
            server = await ConsoleServer.start(ConsoleSettings(enabled=True), h.path.parent, h.daemon, table)
            span = start_span("console-load")
            try:
                async with TelnetSession.open_unix(h.path.parent / "console.sock") as session:
                    await session.expect("arbord >>>")
                    await session.command("spans")
                    shown = await session.expect("console-load")
                    assert span.trace_id in shown
                    await session.command(f"spans --trace {span.trace_id} --older-than 0")
                    assert span.trace_id in await session.expect("console-load")
                    await session.command("spans --older-than=3600")
                    await session.expect("no spans in flight")
                    await session.command("spans list --trace nothex")
                    await session.expect("invalid params")
            finally:
                end_span(span)
                await server.stop()
    finally:
        await spans.stop()
