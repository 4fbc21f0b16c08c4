"""End to end: the real daemon (``tests/daemon/conftest.py`` starts it) driven through ``arborctl``
and the raw control socket."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.daemon.as_nobody import CONNECT_ONLY, NOBODY, needs_nobody, run_as_nobody, start_as_nobody
from tests.daemon.conftest import ROOT, RunningDaemon, StartArbord, spawn_arbord, wait_ready
from tests.daemon.test_control_slots import GREEDY


def arborctl(daemon: RunningDaemon, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon.ctl", "--socket", str(daemon.control_socket), *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )


class RawClient:
    """A blocking line client on the control socket (with a timeout on every read)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")

    def send(self, frame: bytes) -> None:
        self.sock.sendall(frame)

    def reply(self) -> dict[str, Any]:
        line = self.file.readline()
        if not line:
            raise ConnectionError("closed")
        reply = json.loads(line)
        assert isinstance(reply, dict)
        return reply

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_arborctl_drives_the_real_daemon(arbord_daemon: RunningDaemon) -> None:
    assert arborctl(arbord_daemon, "ping").stdout == "pong: yes\n"
    tree = json.loads(arborctl(arbord_daemon, "--json", "tree").stdout)
    ids = [child["id"] for child in tree["children"]]
    assert ids[-1] == "control"
    assert {"registry", "cache"} <= set(ids)
    drawn = arborctl(arbord_daemon, "tree").stdout
    assert "└── control  worker  running" in drawn
    status = json.loads(arborctl(arbord_daemon, "--json", "status").stdout)
    assert status["pid"] == arbord_daemon.pid
    assert (
        json.loads(arborctl(arbord_daemon, "--json", "config", "show").stdout)["control"]["max_frame_bytes"]
        == 1 << 20
    )


def test_socket_and_directory_modes(arbord_daemon: RunningDaemon) -> None:
    assert stat.S_IMODE(os.stat(arbord_daemon.control_socket).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(arbord_daemon.runtime_dir).st_mode) == 0o700


def test_malformed_oversized_and_slow_frames_leave_the_daemon_serving(start_arbord: StartArbord) -> None:
    daemon = start_arbord("[control]\nidle_timeout = 0.5\nmax_frame_bytes = 65536\n")
    slow = RawClient(daemon.control_socket)
    bad = RawClient(daemon.control_socket)
    try:
        slow.send(b'{"id": 1, "method": "pi')  # and nothing more
        bad.send(b"{not json\n")
        assert bad.reply()["error"]["code"] == "parse_error"
        bad.send(b'{"id": 2, "method": "ping"}\n')
        assert bad.reply() == {"id": 2, "result": {"pong": True}}
        bad.send(b'{"id": 3, "method": "ping", "params": {"pad": "' + b"x" * 70_000 + b'"}}\n')
        assert bad.reply()["error"]["code"] == "frame_too_large"
        with pytest.raises(ConnectionError):
            bad.reply()
        with pytest.raises(ConnectionError):
            slow.reply()  # cut after idle_timeout, without a reply
    finally:
        slow.close()
        bad.close()
    assert arborctl(daemon, "ping").returncode == 0


def test_a_stale_socket_is_replaced_and_a_second_instance_refuses(
    start_arbord: StartArbord, short_tmp: Path
) -> None:
    runtime_dir = short_tmp / "shared"
    runtime_dir.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(runtime_dir / "control.sock"))
    stale.close()  # left behind by a dead instance
    first_dir = short_tmp / "first"
    first_dir.mkdir()
    first = spawn_arbord(first_dir, "", runtime_dir=runtime_dir)
    try:
        wait_ready(first)
        assert arborctl(first, "ping").returncode == 0
        second_dir = short_tmp / "second"
        second_dir.mkdir()
        second = spawn_arbord(second_dir, "", runtime_dir=runtime_dir)
        try:
            code = second.wait(30)
            assert code != 0
            assert "already running" in second.stderr()
            assert f"pid {first.pid}" in second.stderr()
        finally:
            second.notify.close()
        assert arborctl(first, "ping").returncode == 0  # the first one is untouched
    finally:
        first.stop()
        first.notify.close()


@needs_nobody
def test_a_client_of_another_uid_is_refused(arbord_daemon: RunningDaemon) -> None:
    assert run_as_nobody(CONNECT_ONLY, str(arbord_daemon.control_socket)) == "EACCES"


def test_arborctl_hold_keeps_a_registration_exactly_while_it_runs(arbord_daemon: RunningDaemon) -> None:
    held = subprocess.Popen(
        [
            *(sys.executable, "-m", "daemon.ctl", "--socket", str(arbord_daemon.control_socket)),
            *("--hold", "--json", "registry", "register", "held-1", 'metadata={"node": "a"}'),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert held.stdout is not None
        assert '"key": "held-1"' in _read_reply(held.stdout)  # registered, and still running
        looked_up = arborctl(arbord_daemon, "--json", "registry", "lookup", "held-1")
        assert looked_up.returncode == 0, looked_up.stderr
        assert json.loads(looked_up.stdout)["metadata"] == {"node": "a"}
        held.terminate()
        assert held.wait(timeout=20) == 0
    finally:
        if held.poll() is None:
            held.kill()
            held.wait()
        for pipe in (held.stdout, held.stderr):
            if pipe is not None:
                pipe.close()
    # The connection is gone: the registry drops its entry once it handles the owner's exit.
    deadline = time.monotonic() + 20
    while arborctl(arbord_daemon, "registry", "lookup", "held-1").returncode == 0:
        assert time.monotonic() < deadline, "the held entry outlived its connection"


def _read_reply(stream: Any) -> str:
    """The first JSON document arborctl printed (--json indents it: up to the closing brace)."""
    lines: list[str] = []
    for line in stream:
        lines.append(line)
        if line.startswith("}"):
            break
    return "".join(lines)


def test_shutdown_through_arborctl_exits_0(arbord_daemon: RunningDaemon) -> None:
    assert arborctl(arbord_daemon, "shutdown").stdout == "stopping: yes\n"
    assert arbord_daemon.wait(20) == 0
    assert not arbord_daemon.control_socket.exists()
    assert arborctl(arbord_daemon, "ping").returncode == 3


def test_the_console_socket_is_owner_only(start_arbord: StartArbord) -> None:
    daemon = start_arbord("[console]\nenabled = true\n")
    console = daemon.runtime_dir / "console.sock"
    assert stat.S_IMODE(os.stat(console).st_mode) == 0o600
    tree = json.loads(arborctl(daemon, "--json", "tree").stdout)
    assert "console" in [child["id"] for child in tree["children"]]


def _read_until(fd: int, text: bytes, timeout: float = 15.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {text!r} within {timeout} s; got {seen[-500:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # the terminal's other side closed
                break
    return seen


def test_arborctl_console_attaches_in_a_terminal(start_arbord: StartArbord) -> None:
    daemon = start_arbord("[console]\nenabled = true\n")
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "daemon.ctl", "--socket", str(daemon.control_socket), "console"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TERM": "dumb"},
        start_new_session=True,
    )
    os.close(follower)
    try:
        _read_until(leader, b"exit (or Ctrl-D) to leave")
        os.write(leader, b"tree\r")
        assert b"(arbord.control)" in _read_until(leader, b"(arbord.control)")
        os.write(leader, b"exit\r")
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)


@needs_nobody
def test_the_console_refuses_another_uid(start_arbord: StartArbord) -> None:
    daemon = start_arbord("[console]\nenabled = true\n")
    assert run_as_nobody(CONNECT_ONLY, str(daemon.runtime_dir / "console.sock")) == "EACCES"


@needs_nobody
def test_another_user_holding_every_slot_it_may_cannot_keep_the_operator_out(
    start_arbord: StartArbord, short_tmp: Path
) -> None:
    # Issue 12: one party could take every connection slot. Here nobody, a member of the control
    # group, opens as many as it can and holds them; root can still get in and stop the daemon.
    daemon = start_arbord(
        f'[control]\ngroup = "{NOBODY}"\nmax_connections = 6\nreserved_connections = 2\n'
        "max_connections_per_uid = 100\n"
    )
    os.chmod(short_tmp, 0o711)  # let nobody reach the runtime directory (0710) ...
    os.chown(daemon.runtime_dir, -1, NOBODY)  # ... and traverse it, as systemd's Group= would
    greedy = start_as_nobody(GREEDY, str(daemon.control_socket), "8")
    try:
        assert greedy.stdout is not None
        assert greedy.stdout.readline().split() == ["ok"] * 4 + ["busy"] * 4
        assert arborctl(daemon, "status").returncode == 0
        stopped = arborctl(daemon, "shutdown")
        assert stopped.returncode == 0, stopped.stderr
        assert daemon.wait() == 0
    finally:
        greedy.communicate("go\n", timeout=20)
