"""``supervisor.testing``: the helpers users test their own servers with."""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from supervisor import (
    Caller,
    ChildSpec,
    Restart,
    Server,
    Supervisor,
    Table,
    TableType,
    call,
    crash,
    demonitor,
    monitor,
    registered_names,
    telemetry,
)
from supervisor.testing import (
    Capture,
    LeakCheck,
    Leaked,
    ManualClock,
    UniqueNames,
    WaitTimeout,
    capture,
    crash_and_settle,
    running_children,
    settle,
    wait_for,
    wait_for_events,
    wait_until,
)


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


# --- wait_for and wait_for_events ---------------------------------------------------------------


async def test_wait_for_returns_the_first_truthy_value() -> None:
    box: list[int] = []
    asyncio.get_running_loop().call_soon(box.append, 7)
    assert await wait_for(lambda: box and box[0], 1.0) == 7


async def test_wait_for_awaits_what_the_predicate_returns() -> None:
    sup = await Supervisor.start([ChildSpec("idle", Server)])
    try:
        [info] = await wait_for(lambda: sup.which_children(), 1.0)
        assert info.id == "idle"

        async def no_children() -> bool:
            return (await sup.count_children()).active == 0

        with pytest.raises(WaitTimeout, match=r"no_children still false after 0.01 s .*last value: False"):
            await wait_for(no_children, 0.01)
    finally:
        await sup.stop()


async def test_wait_for_says_what_it_awaited_and_what_it_saw() -> None:
    orders: list[str] = []
    with pytest.raises(
        WaitTimeout, match=r"wait_for: lambda: orders still false after 0.01 s .*last value: \[\]"
    ):
        await wait_for(lambda: orders, 0.01)


def test_wait_until_returns_the_first_truthy_value_of_a_condition_another_thread_makes_true() -> None:
    done = threading.Event()
    threading.Timer(0.05, done.set).start()  # the other process of a real test
    assert wait_until(lambda: done.is_set() and "done", 10) == "done"


def test_wait_until_says_what_it_awaited_and_what_it_saw() -> None:
    with pytest.raises(
        WaitTimeout, match=r"wait_until: the daemon is up still false after 0.01 s .*last value: 0"
    ):
        wait_until(lambda: 0, 0.01, what="the daemon is up")


async def test_wait_for_events_counts_each_event_as_often_as_listed() -> None:
    tick = ("testing", "tick")
    with capture(tick) as seen:
        loop = asyncio.get_running_loop()
        for n in range(3):
            loop.call_soon(telemetry.execute, tick, {"n": n})
        found = await wait_for_events(seen, [tick, tick, tick], timeout=1.0)
    assert [c.measurements["n"] for c in found] == [0, 1, 2]


async def test_wait_for_events_in_order_waits_for_the_order() -> None:
    a, b = ("testing", "a"), ("testing", "b")
    with capture(a, b) as seen:
        telemetry.execute(b)
        telemetry.execute(a)
        with pytest.raises(WaitTimeout, match=r"(?s)in order.*missing: \(all, but not in this order\)"):
            await wait_for_events(seen, [a, b], timeout=0.01, ordered=True)
        asyncio.get_running_loop().call_soon(telemetry.execute, b)
        assert [c.event for c in await wait_for_events(seen, [a, b], 1.0, ordered=True)] == [a, b]


async def test_wait_for_events_failure_lists_what_was_seen_instead() -> None:
    start, stop = ("testing", "start"), ("testing", "stop")
    with capture(start, stop) as seen:
        telemetry.execute(start)
        with pytest.raises(WaitTimeout) as raised:
            await wait_for_events(seen, stop, timeout=0.01)
    assert str(raised.value).splitlines()[1:] == [
        "  missing: [('testing', 'stop')]",
        "  seen instead: [('testing', 'start')]",
    ]


# --- the plugin's fixtures, as arbord's own tests use them ---------------------------------------


class Echo(Server):
    async def handle_call(self, request: object, caller: Caller) -> object:
        return request


async def test_the_tree_is_a_started_root_under_the_tests_own_names(
    arbord_tree: Supervisor, arbord_names: UniqueNames
) -> None:
    assert arbord_tree.alive
    assert arbord_tree.name == arbord_names("root")
    await arbord_tree.start_child(ChildSpec("echo", Echo, name=arbord_names("echo")))
    assert await call(arbord_names("echo"), "hi") == "hi"
    assert [n for n in registered_names() if arbord_names.owns(n)] == [
        arbord_names("echo"),
        arbord_names("root"),
    ]


def test_names_differ_between_the_loop_runs_of_one_test() -> None:
    base = "tests/supervisor/test_x.py::test_y"
    assert UniqueNames.for_test(f"{base}[asyncio]").prefix != UniqueNames.for_test(f"{base}[uvloop]").prefix


async def test_the_trees_restart_intensity_runs_on_the_manual_clock(
    arbord_tree: Supervisor, arbord_capture: Callable[..., Capture], manual_clock: ManualClock
) -> None:
    restarted = arbord_capture(("supervisor", "child", "restart"))
    await arbord_tree.start_child(ChildSpec("crashy", Crashy))
    for n in range(1, 6):  # more crashes than the intensity (3 in 5 s), each in a window of its own
        [info] = await arbord_tree.which_children()
        assert info.server is not None
        info.server.cast("crash")
        await wait_for_events(restarted, [("supervisor", "child", "restart")] * n, timeout=5.0)
        manual_clock.advance(5.0)
    assert arbord_tree.alive


# --- the leak check ----------------------------------------------------------------------------


async def test_the_leak_check_names_every_kind_of_leak() -> None:
    leaks = LeakCheck()
    watcher = await Echo.start()
    leaks.reset()  # the watcher is baseline now: a new monitor it holds is a leak
    server = await Echo.start(name="leaky-echo-2")
    ref = monitor(server, watcher=watcher)
    table = Table("leaky-table", type=TableType.SET, named=True)
    telemetry.attach("leaky-handler", ("testing", "leak"), lambda *_: None)
    read_end, write_end = os.pipe()
    task = asyncio.get_running_loop().create_task(asyncio.Event().wait(), name="leaky-task")
    try:
        found = leaks.leaks()
        assert any(line.startswith("server: <Echo 'leaky-echo-2'") for line in found)
        assert any(line.startswith("monitor: 1 new monitor(s)") for line in found)
        assert "name: 'leaky-echo-2'" in found
        assert any(line.startswith("table: ") and "leaky-table" in line for line in found)
        assert "telemetry handler: 'leaky-handler'" in found
        assert any(line.startswith(f"file descriptor {read_end}: pipe:") for line in found)
        assert any(line.startswith("task: leaky-task running <coroutine") for line in found)
        with pytest.raises(Leaked, match="the test left behind"):
            await leaks.check(grace=0.01)
    finally:
        task.cancel()
        os.close(read_end)
        os.close(write_end)
        telemetry.detach("leaky-handler")
        table.delete_table()
        demonitor(ref)
        await server.stop()
    await leaks.check()
    await watcher.stop()


async def test_uvloops_reserve_descriptor_is_not_a_leak_and_a_second_one_is(tmp_path: Path) -> None:
    # On uvloop, libuv opens a descriptor on /dev/null at the loop's first socket or pipe (its
    # reserve against EMFILE) and keeps it as long as the loop: not the test's. On asyncio there is
    # none. Either way a descriptor the test opens on /dev/null itself is a leak.
    leaks = LeakCheck()
    server = await asyncio.start_unix_server(lambda r, w: None, tmp_path / "first.sock")
    server.close()
    await server.wait_closed()
    assert leaks.leaks() == []
    mine = os.open(os.devnull, os.O_RDONLY)  # which of two on /dev/null is the loop's, nothing tells
    try:
        [found] = leaks.leaks()
        assert re.fullmatch(r"file descriptor \d+: /dev/null", found)
    finally:
        os.close(mine)
    await leaks.check()


# --- a supervisor's children -------------------------------------------------------------------


async def test_crash_and_settle_returns_once_the_child_is_restarted() -> None:
    async with Supervisor([ChildSpec("echo", Echo)], clock=ManualClock()) as sup:
        [before] = await running_children(sup)
        exited = await crash_and_settle(sup, "echo")
        assert isinstance(exited.exception, RuntimeError)
        [after] = await running_children(sup)
        assert after is not before
        assert after.alive
        [info] = await sup.which_children()
        assert info.restarts == 1


async def test_crash_and_settle_past_the_intensity_returns_with_the_supervisor_stopped() -> None:
    sup = await Supervisor.start([ChildSpec("echo", Echo)], intensity=0, clock=ManualClock())
    await crash_and_settle(sup, "echo", reason=crash(ValueError("once too often")))
    assert not sup.alive


async def test_crash_and_settle_names_a_child_it_cannot_crash() -> None:
    async with Supervisor([ChildSpec("echo", Echo, restart=Restart.TEMPORARY)]) as sup:
        with pytest.raises(AssertionError, match="no child 'other'"):
            await crash_and_settle(sup, "other")


async def test_running_children_leaves_out_children_that_do_not_run() -> None:
    async with Supervisor([ChildSpec("a", Echo), ChildSpec("b", Echo)]) as sup:
        await sup.terminate_child("a")
        assert [await s.call("who") for s in await running_children(sup)] == ["who"]
        assert len(await sup.which_children()) == 2


async def test_unique_names_registered_lists_the_names_still_held(arbord_names: UniqueNames) -> None:
    server = await Echo.start(name=arbord_names("held"))
    assert arbord_names.registered() == [arbord_names("held")]
    await server.stop()
    assert arbord_names.registered() == []
