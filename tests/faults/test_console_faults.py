"""F15: the console (aiomonitor's UI thread) fails or is disabled; the daemon is unaffected and binds
no port that is not loopback. In-process (tests/faults/in_process.py): the thread is the daemon's.

The thread is made to fail as a bug in it would: an exception raised in it
(``PyThreadState_SetAsyncExc``), which ends it.
"""

from __future__ import annotations

import ctypes
import socket
import threading
from pathlib import Path

import pytest

from supervisor.testing import wait_for
from tests.faults.in_process import running_in_process, settled

DECLARED = '[flags.beta]\nowner = "payments"\ndescription = "the new path"\n'


def listening_tcp_inodes() -> set[str]:
    """The socket inodes of this process's descriptors that listen on TCP (any address)."""
    mine: set[str] = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = fd.readlink()
        except OSError:
            continue
        if str(target).startswith("socket:["):
            mine.add(str(target)[len("socket:[") : -1])
    listening: set[str] = set()
    for table in ("tcp", "tcp6"):
        path = Path("/proc/self/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in mine:  # 0A: LISTEN
                listening.add(fields[9])
    return listening


def console_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.daemon and "_ui_main" in repr(getattr(t, "_target", None))]


async def test_f15_a_disabled_console_starts_no_thread_and_binds_no_port(short_tmp: Path) -> None:
    before = listening_tcp_inodes()
    async with running_in_process(short_tmp, DECLARED) as daemon:
        assert not console_threads()
        assert listening_tcp_inodes() == before
        await daemon.ping()


class ConsoleThreadDied(Exception):
    """Raised inside the console's UI thread by the test."""


# The thread's exception is reported by threading.excepthook, which pytest turns into a warning.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_f15_the_console_thread_failing_leaves_the_daemon_unaffected(short_tmp: Path) -> None:
    before = listening_tcp_inodes()
    async with running_in_process(short_tmp, "[console]\nenabled = true\n" + DECLARED) as daemon:
        [thread] = console_threads()
        assert thread.ident is not None
        tree = await settled(daemon.daemon.root)
        raised = ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(ConsoleThreadDied)
        )
        assert raised == 1
        # The UI loop is idle in select(): poke its listener so it runs Python and meets the error.
        with socket.socket(socket.AF_UNIX) as poke:
            poke.connect(str(short_tmp / "run" / "console.sock"))
        await wait_for(lambda: not thread.is_alive(), timeout=10.0, what="the console thread ended")
        # The daemon is unaffected: the same servers run, requests are answered, new tasks start.
        assert await settled(daemon.daemon.root) == tree
        for _ in range(3):
            await daemon.ping()
        assert listening_tcp_inodes() == before  # and it never listened on TCP
