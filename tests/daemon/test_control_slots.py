"""Connection slots cannot be exhausted by one party (issue 12, item 9): a cap per peer uid, the last
slots kept for root and the daemon's uid, a short deadline for a frame begun and not finished, and
refused peers warned about at a bounded rate.

The other party is a real process running as ``nobody``, let in as a member of the control group.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from daemon.control.dispatch import REJECTED
from daemon.ctl.client import open_control_client
from supervisor import telemetry
from tests.daemon.as_nobody import NOBODY, needs_nobody, run_as_nobody, start_as_nobody
from tests.daemon.test_control_helpers import Harness, running_control

GREEDY = """
import json, socket, sys
held, answers = [], []
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    held.append(s)
    try:
        s.sendall(b'{"id": 1, "method": "ping"}\\n')
        line = s.makefile("rb").readline()
    except OSError:
        line = b""
    reply = json.loads(line) if line else None
    answers.append("closed" if reply is None else reply.get("error", {}).get("code", "ok"))
print(" ".join(answers), flush=True)
sys.stdin.readline()
"""
"""Opens ``argv[2]`` connections one after the other, pings on each, keeps them all open, prints
what each was answered (``ok``, ``busy``, ...), and holds them until told to go."""


@asynccontextmanager
async def greedy_nobody(harness: Harness, connections: int) -> AsyncIterator[list[str]]:
    """``nobody`` holding as many of ``connections`` as it was given; yields the answers."""
    # Started in a thread: uvloop's subprocess_exec has no ``user=``.
    process = await asyncio.to_thread(start_as_nobody, GREEDY, str(harness.path), str(connections))
    try:
        assert process.stdout is not None
        line = await asyncio.to_thread(process.stdout.readline)
        yield line.split()
    finally:
        await asyncio.to_thread(process.communicate, "go\n", 20)


def _let_nobody_in(harness: Harness) -> None:
    os.chmod(harness.path.parent.parent, 0o711)  # the temporary directory above the runtime one


@needs_nobody
async def test_one_uid_holds_at_most_its_share_of_the_slots() -> None:
    async with running_control(group=str(NOBODY), max_connections_per_uid=3) as h:
        _let_nobody_in(h)
        async with greedy_nobody(h, 5) as answers:
            assert answers == ["ok", "ok", "ok", "busy", "busy"]
            async with open_control_client(h.path) as operator:
                assert await operator.call("ping") == {"pong": True}


@needs_nobody
async def test_the_last_slots_are_kept_for_root_and_the_daemons_uid() -> None:
    async with running_control(group=str(NOBODY), max_connections=5, reserved_connections=2) as h:
        _let_nobody_in(h)
        async with (
            greedy_nobody(h, 5) as answers,
            open_control_client(h.path) as operator,
            open_control_client(h.path) as another,
        ):
            assert answers == ["ok", "ok", "ok", "busy", "busy"]
            assert await operator.call("ping") == {"pong": True}
            await another.call("shutdown")  # the operator can always stop the daemon
            assert h.daemon.shutdown_requested.is_set()


async def test_a_frame_begun_and_not_finished_is_cut_after_frame_timeout() -> None:
    # idle_timeout is long: without a deadline of its own, the half frame would hold its slot 60 s.
    async with (
        running_control(idle_timeout=60, frame_timeout=0.2) as h,
        open_control_client(h.path) as slow,
        open_control_client(h.path) as bystander,
    ):
        await slow.send_raw(b'{"id": 1, "meth')
        assert await bystander.call("ping") == {"pong": True}
        async with asyncio.timeout(20):
            with pytest.raises(ConnectionError):
                await slow.read_reply()


_KNOCKER = """
import socket, sys
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.makefile("rb").readline()
    s.close()
print("done")
"""


@needs_nobody
async def test_refused_peers_are_warned_about_at_a_bounded_rate(caplog: pytest.LogCaptureFixture) -> None:
    async with running_control() as h:
        os.chmod(h.path.parent.parent, 0o711)
        os.chmod(h.path.parent, 0o711)  # an administrator's mistake: only the credentials keep it out
        os.chmod(h.path, 0o666)
        with (
            caplog.at_level(logging.WARNING, logger="daemon.control"),
            telemetry.capture(REJECTED) as counted,
        ):
            assert await asyncio.to_thread(run_as_nobody, _KNOCKER, str(h.path), "30") == "done"
        refused = [r for r in caplog.records if "refused pid" in r.getMessage()]
        assert len(refused) == 1
        stats: Any = await _statistics()
        assert stats.refused == 30
        assert [c.metadata["reason"] for c in counted] == ["permission_denied"] * 30  # counted, not logged


async def _statistics() -> Any:
    from supervisor import whereis

    control = whereis("arbord.control")
    assert control is not None
    return await control.call("statistics")
