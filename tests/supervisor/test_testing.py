"""``supervisor.testing``: the helpers users test their own servers with."""

from __future__ import annotations

import asyncio

import pytest

from supervisor import ChildSpec, Restart, Server, Supervisor
from supervisor.testing import ManualClock, capture, settle


class Crashy(Server):
    async def handle_cast(self, message: object) -> None:
        raise RuntimeError("boom")


async def test_settle_returns_once_queued_exits_are_handled() -> None:
    with capture(("supervisor", "child", "restart")) as seen:
        async with Supervisor([ChildSpec("c", Crashy)], intensity=5, period=5.0) as sup:
            [info] = await sup.which_children()
            assert info.server is not None
            info.server.cast("crash")
            await info.server.wait()
            await settle(sup)
            assert len(seen.of(("supervisor", "child", "restart"))) == 1


async def test_settle_on_a_supervisor_that_gave_up_returns_quietly() -> None:
    sup = await Supervisor.start([ChildSpec("c", Crashy, restart=Restart.PERMANENT)], intensity=0, period=5.0)
    [info] = await sup.which_children()
    assert info.server is not None
    info.server.cast("crash")
    await sup.wait()
    await settle(sup)
    assert not sup.alive


async def test_settle_on_a_stopped_supervisor_returns_at_once() -> None:
    sup = await Supervisor.start([])
    await sup.stop()
    async with asyncio.timeout(1.0):
        await settle(sup)


def test_manual_clock_refuses_to_go_back() -> None:
    clock = ManualClock(1.0)
    clock.advance(0.5)
    assert clock.monotonic() == 1.5
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(-1)
