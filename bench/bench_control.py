"""Benchmarks of the control socket: ``ping`` requests per second with 1 and 32 concurrent clients.

The baseline is the least a JSON-lines server over a Unix socket can do: ``asyncio.start_unix_server``,
parse each line, answer ``{"id", "result"}``. arbord's control server adds the peer check, the frame
cap, the idle timeout, request validation and the dispatch. Both servers run in this process on the
loop under test, with the same client code, so the ratio is server cost against server cost. When
``redis-server`` is installed, its ``PING`` over a Unix socket is measured too (another process: an
informative ratio, target 0).

Fairness (issue 12): a ``ping``'s wait on one connection while another connection has 10k pings
pipelined (written at once, all buffered in the daemon), against the same ping's wait on an idle
daemon. The server yields between the buffered frames of one connection, so the ping waits a few of
the other's turns, not for its whole backlog: target at most 10x.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from bench.harness import Row
from bench.loops import run_on
from daemon.component import verb_table
from daemon.control import ControlServer, ControlSettings
from daemon.verbs.component import CORE
from supervisor import Supervisor

ROUNDS = 3
REQUESTS_SINGLE = 4_000
REQUESTS_PER_CLIENT = 250
CLIENTS = 32
PING = b'{"id": 1, "method": "ping"}\n'
PIPELINED = 10_000
FAIRNESS_ROUNDS = 7
ENTRIES = 5_000
NON_READERS = 16


class _Daemon:
    """The least ``DaemonContext`` the ping method needs."""

    def __init__(self, root: Supervisor, runtime_dir: Path) -> None:
        self.root = root
        self.settings = ControlSettings()
        self.runtime_dir = runtime_dir

    def status(self) -> dict[str, str]:
        return {}

    async def reload(self) -> dict[str, bool]:
        return {"ok": True}

    def request_shutdown(self) -> None:
        pass


async def _echo_server(path: Path) -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            writer.write(json.dumps({"id": request["id"], "result": {"pong": True}}).encode() + b"\n")
            await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(serve, str(path), limit=1 << 20)


async def _client(path: Path, requests: int, frame: bytes, reply_prefix: bytes) -> None:
    reader, writer = await asyncio.open_unix_connection(str(path))
    for _ in range(requests):
        writer.write(frame)
        line = await reader.readline()
        assert line.startswith(reply_prefix), line
    writer.close()


async def _rate(path: Path, clients: int, per_client: int, *, frame: bytes, reply_prefix: bytes) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(_client(path, per_client, frame, reply_prefix) for _ in range(clients)))
    return clients * per_client / (time.perf_counter() - start)


async def _ping_wait(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> float:
    start = time.perf_counter()
    writer.write(PING)
    await reader.readline()
    return time.perf_counter() - start


async def _fairness(path: Path) -> tuple[float, float]:
    """(median wait of a ping while another connection has ``PIPELINED`` pings buffered, median wait
    of a ping on an idle server), in seconds."""
    reader, writer = await asyncio.open_unix_connection(str(path))
    flood_reader, flood_writer = await asyncio.open_unix_connection(str(path), limit=1 << 20)
    try:
        idle = statistics.median([await _ping_wait(reader, writer) for _ in range(FAIRNESS_ROUNDS * 3)])
        busy = []
        for _ in range(FAIRNESS_ROUNDS):
            flood_writer.write(PING * PIPELINED)
            await flood_reader.readline()  # the daemon is working through the backlog now
            drained = asyncio.ensure_future(_read_lines(flood_reader, PIPELINED - 1))
            busy.append(await _ping_wait(reader, writer))
            await drained
        return statistics.median(busy), idle
    finally:
        writer.close()
        flood_writer.close()


async def _read_lines(reader: asyncio.StreamReader, count: int) -> None:
    for _ in range(count):
        await reader.readline()


@contextlib.asynccontextmanager
async def _control(tmp: Path) -> AsyncIterator[Path]:
    path = tmp / "ctl" / "control.sock"
    async with Supervisor() as root:
        server = await ControlServer.start(
            ControlSettings(max_connections=256), path, _Daemon(root, tmp), verb_table([CORE])
        )
        try:
            yield path
        finally:
            await server.stop()


@contextlib.asynccontextmanager
async def _redis(tmp: Path) -> AsyncIterator[Path | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    path = tmp / "redis.sock"
    process = await asyncio.create_subprocess_exec(
        binary, "--port", "0", "--unixsocket", str(path), "--save", "", "--appendonly", "no",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    drain: asyncio.Future[bytes] | None = None
    try:
        async with asyncio.timeout(10):
            while b"ready to accept connections" not in (await process.stdout.readline()).lower():
                pass
        drain = asyncio.ensure_future(process.stdout.read())  # keep its log from filling the pipe
        yield path
    finally:
        process.terminate()
        await process.wait()
        if drain is not None:
            drain.cancel()


@contextlib.asynccontextmanager
async def _daemon_process(tmp: Path) -> AsyncIterator[tuple[Path, int]]:
    """The real daemon (``python -m daemon run``, its default uvloop) in its own process: its control
    socket and its pid."""
    runtime_dir = tmp / "daemon"
    config = tmp / "arbord.toml"
    config.write_text(f'[daemon]\nruntime_dir = "{runtime_dir}"\n')
    scrubbed = ("ARBORD_", "NOTIFY_SOCKET", "WATCHDOG_", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(scrubbed)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "daemon", "run", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )  # fmt: skip
    assert process.stderr is not None
    drain: asyncio.Future[bytes] | None = None
    try:
        async with asyncio.timeout(30):
            while b"running (pid" not in (line := await process.stderr.readline()):
                if not line:
                    raise RuntimeError("the daemon exited before it was running")
        drain = asyncio.ensure_future(process.stderr.read())
        yield runtime_dir / "control.sock", process.pid
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
        if drain is not None:
            drain.cancel()


async def _measure(run: Callable[[int, int], Awaitable[float]], clients: int, per_client: int) -> float:
    return statistics.median([await run(clients, per_client) for _ in range(ROUNDS)])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def _non_readers(tmp: Path, loop_name: str) -> Row:
    """The daemon's RSS with ``NON_READERS`` unread ``registry.list`` replies / before them."""
    async with _daemon_process(tmp) as (path, pid):
        reader, writer = await asyncio.open_unix_connection(str(path), limit=1 << 24)
        metadata = {"blob": "x" * 2000}
        for start in range(0, ENTRIES, 500):
            for i in range(start, start + 500):
                params = {"key": f"entry-{i}", "metadata": metadata}
                writer.write(
                    json.dumps({"id": i, "method": "registry.register", "params": params}).encode() + b"\n"
                )
            for _ in range(500):
                await reader.readline()
        before = _rss_mb(pid)
        idle = []
        frame = b'{"id": 1, "method": "registry.list", "params": {"limit": 10000}}\n'
        for _ in range(NON_READERS):
            _, idle_writer = await asyncio.open_unix_connection(str(path))
            idle_writer.write(frame)
            await idle_writer.drain()
            idle.append(idle_writer)
        # The daemon answers each at once; wait until it has (a ping on a fresh connection is answered
        # after the loop went through them), then measure.
        ping_reader, ping_writer = await asyncio.open_unix_connection(str(path))
        for _ in range(3):
            await _ping_wait(ping_reader, ping_writer)
        after = _rss_mb(pid)
        for w in (*idle, writer, ping_writer):
            w.close()
    label = f"daemon RSS, {NON_READERS} unread registry.list / before"
    return Row("control", label, loop_name, after, before, "MB", 1.5)


async def _cross_process(tmp: Path, redis_path: Path, loop_name: str) -> list[Row]:
    rows = []
    async with _daemon_process(tmp) as (daemon_path, _):
        for clients, per_client in ((1, REQUESTS_SINGLE), (CLIENTS, REQUESTS_PER_CLIENT)):
            arbord = functools.partial(_rate, daemon_path, frame=PING, reply_prefix=b'{"id":1,"result"')
            redis = functools.partial(_rate, redis_path, frame=b"PING\r\n", reply_prefix=b"+PONG")
            ours = await _measure(arbord, clients, per_client)
            theirs = await _measure(redis, clients, per_client)
            label = f"arbord process ping vs redis-server, {clients} client(s)"
            rows.append(Row("control", label, loop_name, ours, theirs, "/s", 0.0, higher_is_better=True))
    return rows


async def _bench(loop_name: str) -> list[Row]:
    rows: list[Row] = []
    tmp = Path(tempfile.mkdtemp(prefix="arb-bench-", dir="/tmp"))
    try:
        echo_path = tmp / "echo.sock"
        echo = await _echo_server(echo_path)
        async with echo, _control(tmp) as control_path, _redis(tmp) as redis_path:
            for clients, per_client in ((1, REQUESTS_SINGLE), (CLIENTS, REQUESTS_PER_CLIENT)):
                baseline = functools.partial(_rate, echo_path, frame=PING, reply_prefix=b'{"id": 1, "result"')
                arbord = functools.partial(_rate, control_path, frame=PING, reply_prefix=b'{"id":1,"result"')
                base = await _measure(baseline, clients, per_client)
                ours = await _measure(arbord, clients, per_client)
                label = f"control ping, {clients} client{'s' if clients > 1 else ''} (req/s)"
                rows.append(Row("control", label, loop_name, ours, base, "/s", 0.5, higher_is_better=True))
                if redis_path is not None:
                    redis = functools.partial(_rate, redis_path, frame=b"PING\r\n", reply_prefix=b"+PONG")
                    theirs = await _measure(redis, clients, per_client)
                    label = f"control ping vs redis-server PING, {clients} client(s)"
                    rows.append(
                        Row("control", label, loop_name, ours, theirs, "/s", 0.0, higher_is_better=True)
                    )
            busy, idle = await _fairness(control_path)
            label = f"ping wait beside {PIPELINED} pipelined pings / idle ping"
            rows.append(Row("control", label, loop_name, busy * 1e6, idle * 1e6, "us", 10.0))
            if loop_name == "uvloop":
                rows.append(await _non_readers(tmp, loop_name))
            if redis_path is not None and loop_name == "uvloop":
                # Like for like: both servers in their own process (the daemon on its default uvloop).
                rows.extend(await _cross_process(tmp, redis_path, loop_name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def run(loop_name: str) -> list[Row]:
    """The control benchmarks on ``loop_name``."""
    return run_on(loop_name, _bench(loop_name))
