"""Monitors: one ``Down`` per monitor when the target exits (docs/otp-conformance.md#monitors).

Groups: ``Down`` on a server's exit, an already-dead target (``noproc``), ``demonitor`` and its flush,
plain asyncio tasks as targets, who may monitor (``NotInServer``, ``watcher=``), many monitors.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest

from supervisor._exits import KILLED, NOPROC, NORMAL, Exit, ExitKind, shutdown
from supervisor._monitors import Down, MonitorRef, demonitor, monitor
from supervisor._server import Caller, Server, Stop
from supervisor.errors import NotInServer


class Boom(Exception):
    """The crash the test servers raise on purpose."""


class Watcher(Server):
    """Monitors what it is asked to; every ``Down`` goes to ``downs`` (and ``arrived``).

    Calls: ``("monitor", target)`` → the ref; ``"downs"`` → the ``Down`` messages so far. The cast
    ``"hold"`` keeps the mailbox busy until ``gate`` is set.
    """

    async def init(self, *targets: Any) -> None:
        self.downs: list[Down] = []
        self.arrived: asyncio.Queue[Down] = asyncio.Queue()
        self.gate = asyncio.Event()
        self.holding = asyncio.Event()
        self.init_refs = [monitor(target) for target in targets]

    async def handle_call(self, request: Any, caller: Caller) -> object:
        match request:
            case ("monitor", target):
                return monitor(target)
            case "downs":
                return list(self.downs)
        return request

    async def handle_cast(self, message: object) -> None:
        if message == "hold":
            self.holding.set()
            await self.gate.wait()

    async def handle_info(self, message: object) -> None:
        if isinstance(message, Down):
            self.downs.append(message)
            self.arrived.put_nowait(message)

    async def next_down(self) -> Down:
        async with asyncio.timeout(5):
            return await self.arrived.get()


class Target(Server):
    """Exits as told: a cast of an ``Exit`` stops with it, ``"crash"`` raises ``Boom``."""

    async def handle_cast(self, message: object) -> None:
        if isinstance(message, Exit):
            raise Stop(message)
        raise Boom("target crashed")


async def watch(target: Any) -> tuple[Watcher, MonitorRef]:
    watcher = await Watcher.start()
    ref = await watcher.call(("monitor", target))
    assert isinstance(ref, MonitorRef)
    return watcher, ref


# --- Down on a server's exit -----------------------------------------------------------------------


async def test_monitor_delivers_one_down_with_the_targets_exit_reason() -> None:
    target = await Target.start()
    watcher, ref = await watch(target)
    assert (ref.active, ref.watcher, ref.target) == (True, watcher, target)
    await target.stop()
    down = await watcher.next_down()
    assert down == Down(ref, target, NORMAL)
    assert not ref.active
    assert await watcher.call("downs") == [down]  # exactly one
    await watcher.stop()


@pytest.mark.parametrize(
    ("how", "kind"),
    [("crash", ExitKind.CRASH), ("kill", ExitKind.KILLED), ("shutdown", ExitKind.SHUTDOWN)],
)
async def test_down_carries_the_reason_the_target_exited_with(how: str, kind: ExitKind) -> None:
    target = await Target.start()
    watcher, _ref = await watch(target)
    if how == "crash":
        target.cast("crash")
    elif how == "kill":
        target.kill()
    else:
        target.cast(shutdown("maintenance"))
    down = await watcher.next_down()
    assert down.reason == target.exit_reason
    assert down.reason.kind is kind
    if how == "crash":
        assert isinstance(down.reason.exception, Boom)
    await watcher.stop()


async def test_a_server_can_monitor_from_init() -> None:
    target = await Target.start()
    watcher = await Watcher.start(target)
    [ref] = watcher.init_refs
    await target.stop(shutdown("bye"))
    assert await watcher.next_down() == Down(ref, target, shutdown("bye"))
    await watcher.stop()


# --- an already-dead target ------------------------------------------------------------------------


async def test_monitoring_an_exited_server_delivers_down_with_noproc() -> None:
    target = await Target.start()
    await target.stop()
    watcher, ref = await watch(target)
    assert await watcher.next_down() == Down(ref, target, NOPROC)
    assert await watcher.call("downs") == [Down(ref, target, NOPROC)]
    await watcher.stop()


async def test_monitoring_a_server_never_started_delivers_down_with_noproc() -> None:
    target = Target()
    watcher, ref = await watch(target)
    assert await watcher.next_down() == Down(ref, target, NOPROC)
    await watcher.stop()


async def test_monitoring_a_finished_task_delivers_down_with_noproc() -> None:
    task = asyncio.create_task(asyncio.sleep(0))
    await task
    watcher, ref = await watch(task)
    assert await watcher.next_down() == Down(ref, task, NOPROC)
    await watcher.stop()


# --- demonitor -------------------------------------------------------------------------------------


async def test_demonitor_before_the_exit_means_no_down() -> None:
    target = await Target.start()
    watcher, ref = await watch(target)
    assert demonitor(ref) is True
    assert not ref.active
    await target.stop()
    # A Down is sent synchronously at the exit, so it would be queued before this call.
    assert await watcher.call("downs") == []
    await watcher.stop()


async def test_demonitor_of_a_dead_target_before_its_noproc_arrives_means_no_down() -> None:
    target = await Target.start()
    await target.stop()
    watcher = await Watcher.start()
    watcher.cast("hold")
    await watcher.holding.wait()
    ref = monitor(target, watcher=watcher)
    assert demonitor(ref) is True
    watcher.gate.set()
    assert await watcher.call("downs") == []
    await watcher.stop()


async def test_demonitor_with_flush_drops_a_down_already_queued() -> None:
    target = await Target.start()
    watcher, ref = await watch(target)
    watcher.cast("hold")
    await watcher.holding.wait()
    await target.stop()
    assert watcher.statistics().mailbox_depth == 1  # the Down waits behind "hold"
    assert demonitor(ref, flush=True) is False  # already delivered to the mailbox
    assert watcher.statistics().mailbox_depth == 0
    watcher.gate.set()
    assert await watcher.call("downs") == []
    await watcher.stop()


async def test_demonitor_without_flush_leaves_a_queued_down() -> None:
    target = await Target.start()
    watcher, ref = await watch(target)
    watcher.cast("hold")
    await watcher.holding.wait()
    await target.stop()
    assert demonitor(ref) is False
    watcher.gate.set()
    assert await watcher.call("downs") == [Down(ref, target, NORMAL)]
    await watcher.stop()


async def test_demonitor_with_flush_keeps_other_messages_and_other_downs() -> None:
    target = await Target.start()
    watcher, ref = await watch(target)
    other = await watcher.call(("monitor", target))
    watcher.cast("hold")
    await watcher.holding.wait()
    await target.stop()
    watcher.send("unrelated")
    demonitor(ref, flush=True)
    assert watcher.statistics().mailbox_depth == 2
    watcher.gate.set()
    assert await watcher.call("downs") == [Down(other, target, NORMAL)]
    await watcher.stop()


# --- plain asyncio tasks as targets ----------------------------------------------------------------


async def test_a_task_that_returns_gives_down_normal() -> None:
    release = asyncio.Event()
    task = asyncio.create_task(release.wait())
    watcher, ref = await watch(task)
    release.set()
    assert await watcher.next_down() == Down(ref, task, NORMAL)
    await watcher.stop()


async def test_a_cancelled_task_gives_down_killed() -> None:
    task = asyncio.create_task(asyncio.Event().wait())
    watcher, ref = await watch(task)
    task.cancel()
    assert await watcher.next_down() == Down(ref, task, KILLED)
    await watcher.stop()


async def test_a_task_that_raises_gives_down_with_the_crash() -> None:
    release = asyncio.Event()

    async def fail() -> None:
        await release.wait()
        raise Boom("task crashed")

    task = asyncio.create_task(fail())
    watcher, ref = await watch(task)
    release.set()
    down = await watcher.next_down()
    assert down.ref is ref
    assert down.target is task
    assert down.reason.kind is ExitKind.CRASH
    assert isinstance(down.reason.exception, Boom)
    with pytest.raises(Boom):
        await task
    await watcher.stop()


async def test_demonitor_of_a_task_means_no_down() -> None:
    release = asyncio.Event()
    task = asyncio.create_task(release.wait())
    watcher, ref = await watch(task)
    assert demonitor(ref) is True
    release.set()
    await task
    await asyncio.sleep(0)  # a task's done callbacks run one loop turn after it finishes
    assert await watcher.call("downs") == []
    await watcher.stop()


# --- who may monitor -------------------------------------------------------------------------------


async def test_monitor_outside_a_server_without_a_watcher_raises_not_in_server() -> None:
    target = await Target.start()
    with pytest.raises(NotInServer):
        monitor(target)
    await target.stop()


def test_monitor_outside_an_event_loop_raises_not_in_server() -> None:
    with pytest.raises(NotInServer):
        monitor(Target())


async def test_monitor_with_an_explicit_watcher_works_from_anywhere() -> None:
    target = await Target.start()
    watcher = await Watcher.start()
    ref = monitor(target, watcher=watcher)
    assert ref.watcher is watcher
    await target.stop()
    assert await watcher.next_down() == Down(ref, target, NORMAL)
    await watcher.stop()


async def test_a_monitor_ends_when_its_watcher_exits() -> None:
    target = await Target.start()
    watcher, ref = await watch(target)
    await watcher.stop()
    assert not ref.active  # OTP: a process's monitors go away with it
    assert demonitor(ref) is False
    await target.stop()
    assert watcher.statistics().mailbox_depth == 0


async def test_a_live_target_does_not_keep_its_exited_watchers_alive() -> None:
    target = await Target.start()
    watcher, _ = await watch(target)
    await watcher.stop()
    gone = weakref.ref(watcher)
    del watcher, _
    gc.collect()
    assert gone() is None
    await target.stop()


async def test_a_monitor_of_a_task_ends_when_its_watcher_exits() -> None:
    task = asyncio.create_task(asyncio.Event().wait())
    watcher, ref = await watch(task)
    watcher.kill()
    await watcher.wait()
    assert not ref.active
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- many monitors ---------------------------------------------------------------------------------


async def test_each_of_many_monitors_on_one_target_gets_exactly_one_down() -> None:
    target = await Target.start()
    watcher = await Watcher.start()
    refs = [await watcher.call(("monitor", target)) for _ in range(5)]
    other = await Watcher.start()
    other_ref = await other.call(("monitor", target))
    await target.stop()
    downs = await watcher.call("downs")
    assert [d.ref for d in downs] == refs
    assert all(d == Down(d.ref, target, NORMAL) for d in downs)
    assert await other.call("downs") == [Down(other_ref, target, NORMAL)]
    await watcher.stop()
    await other.stop()


async def test_demonitoring_one_of_several_monitors_leaves_the_others() -> None:
    target = await Target.start()
    watcher = await Watcher.start()
    first, second = [await watcher.call(("monitor", target)) for _ in range(2)]
    demonitor(first)
    await target.stop()
    assert await watcher.call("downs") == [Down(second, target, NORMAL)]
    await watcher.stop()


def test_a_down_is_a_named_tuple_of_ref_target_reason() -> None:
    assert Down._fields == ("ref", "target", "reason")
