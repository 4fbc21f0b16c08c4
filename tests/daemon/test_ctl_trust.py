"""``arborctl`` never talks to an impostor (issue 12, item 2): the socket's place and the uid serving it
are checked before a byte is sent (daemon/ctl/trust.py).

The impostor is a real process running as ``nobody``: the test binds a socket as root where the
scenario needs it, hands the file descriptor over, and ``nobody`` calls ``listen`` (the kernel records
the listener's credentials then, and reports them to whoever connects). After ``arborctl`` has
finished, the impostor says whether anyone connected and how many bytes it received.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.ctl.trust import UntrustedSocket, expected_server_uids, trusted_socket_path
from tests.daemon.as_nobody import NOBODY, SYSTEM_PYTHON, needs_nobody, start_as_nobody
from tests.daemon.conftest import ROOT

_IMPOSTOR = (
    "import socket, sys\n"
    "s = socket.socket(fileno=int(sys.argv[1]))\n"
    "s.listen(8)\n"
    "print('listening', flush=True)\n"
    "sys.stdin.readline()\n"
    "s.setblocking(False)\n"
    "try:\n    c, _ = s.accept()\n"
    "except BlockingIOError:\n    print('no connection'); sys.exit()\n"
    "c.settimeout(10)\n"
    "data = b''\n"
    "while chunk := c.recv(65536):\n    data += chunk\n"
    "print(f'received {len(data)}')\n"
)


class Impostor:
    """A socket at ``path`` served by ``nobody``; ``report()`` after the client ran."""

    def __init__(self, path: Path) -> None:
        assert SYSTEM_PYTHON is not None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        os.chmod(path, 0o666)
        self._process = start_as_nobody(_IMPOSTOR, str(sock.fileno()), pass_fds=(sock.fileno(),))
        sock.close()
        assert self._process.stdout is not None
        assert self._process.stdout.readline().strip() == "listening"

    def report(self) -> str:
        out, _ = self._process.communicate("done\n", timeout=20)
        return out.strip()

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


@pytest.fixture
def place(short_tmp: Path) -> Path:
    """A directory of root's, 0700, for the socket (the place is safe: only the peer is wrong)."""
    directory = short_tmp / "run"
    directory.mkdir(mode=0o700)
    return directory


def _arborctl(
    socket_path: Path, *argv: str, environ: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ARBORD_DAEMON_USER"}
    env.update(PYTHONPATH=str(ROOT), **(environ or {}))
    return subprocess.run(
        [sys.executable, "-m", "daemon.ctl", "--timeout", "5", "--socket", str(socket_path), *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        env=env,
        check=False,
    )


# --- the peer: who listens ------------------------------------------------------------------------


@needs_nobody
def test_a_socket_served_by_another_uid_is_refused_before_anything_is_sent(place: Path) -> None:
    impostor = Impostor(place / "control.sock")
    try:
        done = _arborctl(place / "control.sock", "cache", "put", "token", "s3cret")
        assert impostor.report() == "received 0"
    finally:
        impostor.close()
    assert done.returncode == 4, done.stderr
    assert f"served by uid {NOBODY}" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@needs_nobody
def test_the_daemon_user_named_in_the_environment_is_trusted(place: Path) -> None:
    # The same impostor, declared the daemon's user: now arborctl talks to it (so the refusal above is
    # the peer check's doing, and a daemon running as a service user stays reachable).
    # It never answers: arborctl gives up after its timeout.
    impostor = Impostor(place / "control.sock")
    try:
        environ = {"ARBORD_DAEMON_USER": str(NOBODY)}
        done = _arborctl(place / "control.sock", "--timeout", "1", "ping", environ=environ)
        received = impostor.report()
    finally:
        impostor.close()
    assert received not in ("received 0", "no connection")
    assert done.returncode == 1, done.stderr
    assert "no reply" in done.stderr


# --- the place: where it is -----------------------------------------------------------------------


@needs_nobody
def test_a_socket_in_a_directory_another_user_owns_is_not_even_connected_to(short_tmp: Path) -> None:
    # The attack as found: in a sticky, world-writable directory (a /tmp of our own), another user
    # made arbord-<uid> before the daemon did.
    tmp = short_tmp / "tmp"
    tmp.mkdir()
    os.chmod(tmp, 0o1777)
    planted = tmp / "arbord-0"
    planted.mkdir(mode=0o755)
    os.chown(planted, NOBODY, NOBODY)
    impostor = Impostor(planted / "control.sock")
    try:
        done = _arborctl(planted / "control.sock", "ping")
        assert impostor.report() == "no connection"
    finally:
        impostor.close()
    assert done.returncode == 4, done.stderr
    assert f"owned by uid {NOBODY}" in done.stderr


def test_a_group_or_world_writable_directory_is_refused(short_tmp: Path) -> None:
    shared = short_tmp / "shared"
    shared.mkdir()
    for mode in (0o770, 0o777):
        os.chmod(shared, mode)
        with pytest.raises(UntrustedSocket, match="writable by others"):
            trusted_socket_path(shared / "control.sock", {})


def test_a_sticky_world_writable_directory_above_is_fine(short_tmp: Path) -> None:
    # /tmp: others may create names there but not rename ours (short_tmp lives under /tmp).
    mine = short_tmp / "mine"
    mine.mkdir(mode=0o700)
    real, owner = trusted_socket_path(mine / "control.sock", {})
    assert real == Path(os.path.realpath(mine)) / "control.sock"
    assert owner == os.getuid()


def test_a_symbolic_link_is_judged_by_where_it_leads(short_tmp: Path) -> None:
    shared = short_tmp / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    link = short_tmp / "link"
    link.symlink_to(shared)
    with pytest.raises(UntrustedSocket, match="writable by others"):
        trusted_socket_path(link / "control.sock", {})


@needs_nobody
def test_a_directory_root_gave_to_a_service_user_is_trusted_and_so_is_that_user(short_tmp: Path) -> None:
    # /run/arbord under User=arbord: made by root in a root-only parent, then owned by the service user.
    parent = short_tmp / "run"
    parent.mkdir(mode=0o755)
    service = parent / "arbord"
    service.mkdir(mode=0o700)
    os.chown(service, NOBODY, NOBODY)
    _, owner = trusted_socket_path(service / "control.sock", {}, caller=1000)
    assert owner == NOBODY
    assert NOBODY in expected_server_uids(owner, {}, caller=1000)
    # The same directory under a parent others may write to proves nothing about who made it.
    os.chmod(parent, 0o1777)  # sticky, like /tmp
    with pytest.raises(UntrustedSocket, match=f"owned by uid {NOBODY}"):
        trusted_socket_path(service / "control.sock", {}, caller=1000)


def _others_can_read_the_checkout() -> bool:
    return all(os.stat(p).st_mode & 0o005 == 0o005 for p in (ROOT, *ROOT.parents))


@needs_nobody
@pytest.mark.skipif(not _others_can_read_the_checkout(), reason="nobody cannot import the checkout")
def test_a_socket_directory_the_caller_may_not_search_is_one_line_and_exit_4(short_tmp: Path) -> None:
    # /run/arbord 0700 of a service user, seen by an operator: arborctl (on the system python, which
    # nobody can read, with the checkout on its path) finds it there and says it may not use it.
    os.chmod(short_tmp, 0o711)
    locked = short_tmp / "arbord"
    locked.mkdir(mode=0o700)
    assert SYSTEM_PYTHON is not None
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sys; from daemon.ctl.arborctl import main; sys.exit(main())", "ping"],
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        capture_output=True,
        text=True,
        cwd="/",
        env={"PYTHONPATH": str(ROOT), "RUNTIME_DIRECTORY": str(locked), "PATH": "/usr/bin:/bin"},
        timeout=30,
        check=False,
    )
    assert done.returncode == 4, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert "permission denied" in done.stderr


async def test_the_console_client_checks_the_place_too(short_tmp: Path) -> None:
    from daemon.ctl.attach import UnixTelnetClient

    shared = short_tmp / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(shared / "console.sock"))
        listener.listen(1)
        with pytest.raises(UntrustedSocket, match="writable by others"):
            async with UnixTelnetClient(shared / "console.sock"):
                pass
    finally:
        listener.close()
