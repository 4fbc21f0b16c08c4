"""The control socket's safety: modes whatever the umask, the directory checks, a previous instance
(stale or live), peers of another uid, and the drain on stop."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from daemon.component import verb_table
from daemon.control import ControlSettings, control_child_spec
from daemon.control.server import ControlServer
from daemon.ctl.client import open_control_client
from daemon.errors import AlreadyRunning, ConfigError, UnsafeSocketPath
from daemon.verbs.component import CORE
from daemon.verbs.method import VerbTable
from supervisor import StartFailed, Supervisor, whereis
from supervisor.testing import wait_for
from tests.daemon.as_nobody import NOBODY, needs_nobody, run_as_nobody
from tests.daemon.test_control_helpers import FakeDaemon, running_control, short_tmpdir

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root to act as another uid")


@pytest.fixture
def tmpdir_short() -> Iterator[Path]:
    with short_tmpdir() as path:
        yield path


@pytest.fixture
def umask_zero() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


async def _start(settings: ControlSettings, path: Path) -> ControlServer:
    root = Supervisor()
    fake = FakeDaemon(root, path.parent)
    return await ControlServer.start(settings, path, fake, verb_table([CORE]))


async def _start_error(settings: ControlSettings, path: Path) -> BaseException:
    with pytest.raises(StartFailed) as caught:
        await _start(settings, path)
    error = caught.value.reason.exception
    assert error is not None
    return error


# --- modes ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("umask_zero")
async def test_socket_is_0600_in_a_0700_directory_whatever_the_umask() -> None:
    async with running_control() as h:
        assert stat.S_IMODE(os.stat(h.path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(h.path.parent).st_mode) == 0o700
        assert stat.S_ISSOCK(os.stat(h.path).st_mode)


@needs_root
@pytest.mark.usefixtures("umask_zero")
async def test_a_control_group_gets_a_0660_socket_in_a_0710_directory(tmpdir_short: Path) -> None:
    path = tmpdir_short / "run" / "control.sock"
    server = await _start(ControlSettings(group="nogroup"), path)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
        assert os.stat(path).st_gid == NOBODY
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o710
        assert os.stat(path.parent).st_gid == NOBODY
    finally:
        await server.stop()
    assert not path.exists()


async def test_an_unknown_group_is_refused(tmpdir_short: Path) -> None:
    error = await _start_error(ControlSettings(group="no-such-group-here"), tmpdir_short / "c.sock")
    assert isinstance(error, ConfigError)
    assert "control.group" in str(error)
    assert "no-such-group-here" in str(error)


# --- the directory -------------------------------------------------------------------------------


async def test_a_group_writable_directory_is_refused(tmpdir_short: Path) -> None:
    directory = tmpdir_short / "shared"
    directory.mkdir()
    os.chmod(directory, 0o770)
    error = await _start_error(ControlSettings(), directory / "control.sock")
    assert isinstance(error, UnsafeSocketPath)
    assert "0770" in str(error)
    assert not (directory / "control.sock").exists()


@needs_root
async def test_a_directory_owned_by_another_uid_is_refused(tmpdir_short: Path) -> None:
    directory = tmpdir_short / "theirs"
    directory.mkdir(mode=0o700)
    os.chown(directory, NOBODY, NOBODY)
    error = await _start_error(ControlSettings(), directory / "control.sock")
    assert isinstance(error, UnsafeSocketPath)
    assert f"uid {NOBODY}" in str(error)


@needs_root
async def test_a_directory_under_one_another_uid_owns_is_refused(tmpdir_short: Path) -> None:
    # They could rename our directory away and put their own in its place.
    theirs = tmpdir_short / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, NOBODY, NOBODY)
    error = await _start_error(ControlSettings(), theirs / "ours" / "control.sock")
    assert isinstance(error, UnsafeSocketPath)
    assert f"{theirs} is owned by uid {NOBODY}" in str(error)


async def test_a_directory_under_a_writable_non_sticky_one_is_refused(tmpdir_short: Path) -> None:
    shared = tmpdir_short / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    error = await _start_error(ControlSettings(), shared / "ours" / "control.sock")
    assert isinstance(error, UnsafeSocketPath)
    assert "lets others replace what is in it" in str(error)


@needs_root
async def test_a_symbolic_link_above_is_judged_by_its_owner_and_its_target(tmpdir_short: Path) -> None:
    shared = tmpdir_short / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # a /tmp of our own
    planted = shared / "link"
    planted.symlink_to(tmpdir_short)
    os.lchown(planted, NOBODY, NOBODY)  # another user's link: they may re-point it
    error = await _start_error(ControlSettings(), planted / "ours" / "control.sock")
    assert isinstance(error, UnsafeSocketPath)
    assert f"{planted} is owned by uid {NOBODY}" in str(error)


# --- a previous instance -------------------------------------------------------------------------


async def test_a_stale_socket_is_replaced(tmpdir_short: Path) -> None:
    path = tmpdir_short / "control.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: what a killed daemon leaves behind
    server = await _start(ControlSettings(), path)
    try:
        async with open_control_client(path) as client:
            assert await client.call("ping") == {"pong": True}
    finally:
        await server.stop()


async def test_a_second_instance_refuses_to_start_and_leaves_the_first_alone() -> None:
    async with running_control() as h:
        error = await _start_error(ControlSettings(), h.path)
        assert isinstance(error, AlreadyRunning)
        assert error.peer_pid == os.getpid()
        assert str(h.path) in str(error)
        async with open_control_client(h.path) as client:
            assert await client.call("ping") == {"pong": True}


async def test_a_path_holding_a_file_is_refused(tmpdir_short: Path) -> None:
    path = tmpdir_short / "control.sock"
    path.write_text("not a socket")
    error = await _start_error(ControlSettings(), path)
    assert isinstance(error, UnsafeSocketPath)
    assert "not a socket" in str(error)
    assert path.read_text() == "not a socket"


def test_a_path_over_the_sun_path_limit_is_a_value_error() -> None:
    settings = ControlSettings()
    assert settings.socket_path(Path("/r" + "x" * 92)).name == "control.sock"  # 107 bytes: fits
    with pytest.raises(ValueError, match="108 bytes"):
        settings.socket_path(Path("/r" + "x" * 93))


# --- peers of another uid ------------------------------------------------------------------------

_RAW_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("EACCES"); sys.exit(0)
try:
    s.sendall(b'{"id": 1, "method": "ping"}\\n')
except OSError:
    pass  # refused: the daemon may have closed before our request was written
print(s.makefile("rb").readline().decode().strip())
"""


async def _as_nobody(path: Path) -> str:
    return await asyncio.to_thread(run_as_nobody, _RAW_CLIENT, str(path))


@needs_nobody
async def test_another_uid_cannot_even_connect_by_default() -> None:
    async with running_control() as h:
        assert await _as_nobody(h.path) == "EACCES"


@needs_nobody
async def test_another_uid_is_refused_by_its_credentials_even_if_the_modes_let_it_in() -> None:
    async with running_control() as h:
        os.chmod(h.path.parent.parent, 0o711)  # the temporary directory above the runtime one
        os.chmod(h.path.parent, 0o711)  # an administrator's mistake: the kernel no longer stops it
        os.chmod(h.path, 0o666)
        reply = json.loads(await _as_nobody(h.path))
        assert reply["id"] is None
        assert reply["error"]["code"] == "permission_denied"
        stats = await whereis_control().call("statistics")
        assert stats.refused == 1
        async with open_control_client(h.path) as client:
            assert await client.call("ping") == {"pong": True}


@needs_nobody
async def test_a_member_of_the_control_group_is_served() -> None:
    async with running_control(group="nogroup") as h:
        os.chmod(h.path.parent.parent, 0o711)  # the temporary directory above the runtime one
        reply = json.loads(await _as_nobody(h.path))
        assert reply == {"id": 1, "result": {"pong": True}}


def _connections_at_least(count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool((await whereis_control().call("statistics")).connections >= count)

    return check


def whereis_control() -> ControlServer:
    server = whereis("arbord.control")
    assert isinstance(server, ControlServer)
    return server


# --- stopping ------------------------------------------------------------------------------------


async def test_stopping_drains_in_flight_requests_and_closes_idle_connections() -> None:
    async with (
        running_control() as h,
        open_control_client(h.path) as busy,
        open_control_client(h.path) as idle,
    ):
        assert await idle.call("ping") == {"pong": True}
        await busy.send_raw(b'{"id": 7, "method": "test.wait"}\n{"id": 8, "method": "ping"}\n{"id": 9}\n')
        await wait_for(_connections_at_least(2))
        stopping = asyncio.create_task(h.root.terminate_child("control"))
        async with asyncio.timeout(5):
            with pytest.raises(ConnectionError):
                await idle.read_reply()  # closed at once: it had nothing in flight
        await wait_for(lambda: not h.path.exists())  # no new connections once the stop began
        assert not stopping.done()
        h.gate.set()
        assert await busy.read_reply() == {"id": 7, "result": {"waited": True}}
        for pipelined in (8, 9):  # received behind the drained request: refused, not dropped
            reply = await busy.read_reply()
            assert reply["id"] == pipelined
            assert reply["error"]["code"] == "shutting_down"
        async with asyncio.timeout(5):
            await stopping
            with pytest.raises(ConnectionError):
                await busy.read_reply()


async def test_the_drain_is_bounded_by_drain_timeout() -> None:
    async with running_control(drain_timeout=0.2) as h, open_control_client(h.path) as busy:
        await busy.send_raw(b'{"id": 1, "method": "test.wait"}\n')
        await wait_for(_connections_at_least(1))
        async with asyncio.timeout(5):
            await h.root.terminate_child("control")  # returns although the gate never opens
            with pytest.raises(ConnectionError):
                await busy.read_reply()


async def test_the_child_spec_registers_the_server_and_allows_the_drain(tmpdir_short: Path) -> None:
    settings = ControlSettings(drain_timeout=3.0)
    root = Supervisor()
    spec = control_child_spec(
        settings, tmpdir_short / "c.sock", FakeDaemon(root, tmpdir_short), VerbTable({})
    )
    assert spec.name == "arbord.control"
    assert spec.shutdown == 5.0


async def test_a_killed_control_server_is_restarted_on_the_same_socket() -> None:
    async with running_control() as h:
        first = whereis_control()
        first.kill()
        await first.wait()
        await wait_for(lambda: whereis("arbord.control") not in (None, first))
        await whereis_control().call("statistics")  # answered once its init (the bind) is done
        async with open_control_client(h.path) as client:
            assert await client.call("ping") == {"pong": True}
        assert stat.S_IMODE(os.stat(h.path).st_mode) == 0o600
