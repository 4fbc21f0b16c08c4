"""Faults inside the supervision tree, in-process (cheaper than a subprocess, and the clock is ours).

F1: every server of the daemon's tree is crashed in turn, in an order drawn from the fault plan's
seed, and after each crash the invariants of the matrix are checked (docs/testing.md, "The fault
suite"): I1 the tree is back to its spec, and only the crashed server and what it supervises were
replaced; I3 one restart per crash; I4 one error report per crash, and none at the stop; I5 the
control socket answers ``ping``; I2 and I6 no more tasks and descriptors than before the crash once
its restart settled, and nothing left behind once the daemon has stopped (the leak check). Crash
points inside callbacks (``init``, ``handle_call``, ``handle_cast``, ``handle_info``, timer
callbacks, ``terminate``) come from a ``FaultPlan``.
F2 a sibling failing to start during a group restart; F3 a restart storm escalating at exactly
intensity + 1; F4 a stop arriving in a restart loop; F5 a child swallowing its cancellation; F6 a
slow handler times out only its caller; F8 a table's owner dying (the registry's heir).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from daemon.cache.cache import Cache
from daemon.ctl.client import ControlClient, ControlReplyError, open_control_client
from daemon.flags.server import Flags
from supervisor import (
    Caller,
    CallTimeout,
    ChildSpec,
    ChildState,
    Server,
    ServerDown,
    ServerExited,
    Strategy,
    Supervisor,
    SupervisorFlags,
    whereis,
)
from supervisor.testing import (
    Capture,
    Fault,
    FaultInjected,
    FaultPlan,
    LeakCheck,
    ManualClock,
    Snapshot,
    wait_for,
    wait_for_events,
)
from tests.faults.in_process import InProcess, back_to_bounds, running_in_process, settled, tree_of

RESTART = ("supervisor", "child", "restart")
START = ("supervisor", "child", "start")
ESCALATE = ("supervisor", "escalate")
DECLARED = '[flags.beta]\nowner = "payments"\ndescription = "the new path"\n'


# --- the daemon in-process -------------------------------------------------------------------------


@pytest.fixture
async def in_process(short_tmp: Path) -> AsyncIterator[InProcess]:
    """The whole daemon in this test's loop (tests/faults/in_process.py); the root tolerates 100
    restarts (every server of the tree is crashed once within its period)."""
    async with running_in_process(short_tmp, "[tree.root]\nintensity = 100\n" + DECLARED) as running:
        yield running


def error_reports(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


# --- F1: a crash in every server, invariants after each ---------------------------------------------


async def crash_and_check(
    in_process: InProcess,
    path: str,
    crash: Callable[[Server], Awaitable[object]],
    restarts: Capture,
    caplog: pytest.LogCaptureFixture,
    bounds: Snapshot,
) -> None:
    """Crash the server at ``path`` by ``crash(server)`` (which returns once the crash is done), wait
    for its restart; check I1, I2, I3, I4, I5 and I6 after it. ``bounds`` is the tasks and descriptors
    of the daemon at rest, taken once before the first crash: a snapshot right after a restart
    can catch a store still opening its files, and a later count above it is not a leak."""
    root = in_process.daemon.root
    before = await settled(root)
    reports = len(error_reports(caplog))
    crashes = len(restarts) + 1
    await asyncio.wait_for(crash(before[path]), 10)
    await wait_for_events(restarts, [RESTART] * crashes, timeout=10.0)
    after = await settled(root, f"the tree back after {path}")
    # I1: the tree is its spec again, and one_for_one replaced only the crashed server and what it
    # supervises.
    assert after.keys() == before.keys()
    replaced = {p for p in after if after[p] is not before[p]}
    assert replaced == {p for p in after if p == path or p.startswith(path + "/")}, path
    # I3: restarts equal crashes (none spread to a server the crash did not name).
    assert len(restarts) == crashes
    assert restarts[-1].metadata["child_id"] == path.rsplit("/", 1)[-1]
    # I4: exactly one error report for the crash, naming the child.
    new = error_reports(caplog)[reports:]
    assert len(new) == 1, [r.getMessage() for r in new]
    assert repr(path.rsplit("/", 1)[-1]) in new[0].getMessage()
    # I2 and I6: the dead server left no task and no descriptor behind (its restart replaced them).
    await back_to_bounds(bounds, f"the crash of {path}")
    await in_process.ping()  # I5


async def kill(server: Server) -> None:
    """A crash at whatever point the server was: its task is cancelled."""
    server.kill()


async def crash_in_turn(
    in_process: InProcess, order: list[str], restarts: Capture, caplog: pytest.LogCaptureFixture
) -> None:
    """Kill the servers at ``order``'s paths one after the other; check I1-I6 after each."""
    await settled(in_process.daemon.root)
    await in_process.ping()
    bounds = Snapshot.take()
    for path in order:
        await crash_and_check(in_process, path, kill, restarts, caplog, bounds)
    assert in_process.daemon.root.alive


async def test_f1_every_server_of_the_daemon_crashed_in_turn_keeps_the_invariants(
    in_process: InProcess,
    arbord_capture: Callable[..., Capture],
    fault_plan: FaultPlan,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """T0: each of the tree's servers once (16 with the defaults), in an order the seed replays."""
    order = sorted(await settled(in_process.daemon.root))
    random.Random(fault_plan.seed).shuffle(order)
    await crash_in_turn(in_process, order, arbord_capture(RESTART), caplog)


@pytest.mark.slow
async def test_f1_random_chaos_of_80_crashes_keeps_the_invariants(
    in_process: InProcess,
    arbord_capture: Callable[..., Capture],
    fault_plan: FaultPlan,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """T1: 80 crashes drawn at random from the seed. A server under a nested supervisor (intensity 3
    in 5 s) is drawn at most 3 times, so that no crash escalates and the model stays one_for_one."""
    draw = random.Random(fault_plan.seed)
    paths = sorted(await settled(in_process.daemon.root))
    order: list[str] = []
    while len(order) < 80:
        path = draw.choice(paths)
        nested = path.count("/") > 0 or any(p.startswith(path + "/") for p in paths)
        if not nested or order.count(path) < 3:
            order.append(path)
    await crash_in_turn(in_process, order, arbord_capture(RESTART), caplog)


# The callbacks a crash point goes into, and how the test reaches each: ``handle_call`` by a call
# (its caller must get ServerExited, a ServerDown, never a hang), ``handle_cast`` by a cast,
# ``handle_info`` by a message (a timer callback is one: the daemon's timers are ``call_later(...,
# self.send, message)``, handled in ``handle_info``), ``terminate`` by a graceful stop (terminate
# raising turns the stop into a crash). The plan raises at the callback's entry, whatever the message.
CALLBACKS = ("handle_call", "handle_cast", "handle_info", "terminate")
PROBE = ("tests.faults", "probe")


def callback_points(tree: dict[str, Server]) -> list[tuple[str, str]]:
    """``(path, callback)`` for every callback of ``CALLBACKS`` that a server of the daemon (not a
    supervisor) defines itself or inherits from a daemon class, sorted."""
    return sorted(
        (path, callback)
        for path, server in tree.items()
        for callback in CALLBACKS
        if any(callback in c.__dict__ for c in type(server).__mro__ if c.__module__.startswith("daemon."))
    )


async def crash_at_callback_points(
    in_process: InProcess,
    points: list[tuple[str, str]],
    fault_plan: FaultPlan,
    restarts: Capture,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """For each ``(path, callback)``: a plan (the fixture's seed) raising once at the callback of the
    server's class, the callback reached, then I1-I6 (``crash_and_check``). Calls to the dead server
    answer ServerDown; every injection is recorded."""
    injected: list[str] = []
    await settled(in_process.daemon.root)
    await in_process.ping()
    bounds = Snapshot.take()
    for path, callback in points:

        async def crash(server: Server, path: str = path, callback: str = callback) -> None:
            with FaultPlan(fault_plan.seed) as plan:
                point = plan.server(type(server), callback, Fault.RAISE, limit=1)
                if callback == "handle_call":
                    with pytest.raises(ServerExited) as exited:
                        await server.call(PROBE, timeout=5)
                    assert isinstance(exited.value.reason.exception, FaultInjected)
                elif callback == "handle_cast":
                    server.cast(PROBE)
                elif callback == "handle_info":
                    server.send(PROBE)
                else:
                    await server.stop(timeout=5)
                reason = await server.wait()
                assert isinstance(reason.exception, FaultInjected), (path, callback, reason)
                assert [i.point for i in plan.injected] == [point]
                injected.append(point)
            with pytest.raises(ServerDown):  # the dead server's callers: an error, never a hang
                await server.call(PROBE, timeout=5)

        await crash_and_check(in_process, path, crash, restarts, caplog, bounds)
    assert len(injected) == len(points) == len(restarts)


async def test_f1_a_crash_in_each_callback_of_each_server_keeps_the_invariants(
    in_process: InProcess,
    arbord_capture: Callable[..., Capture],
    fault_plan: FaultPlan,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """T0: a FaultPlan crash in every ``handle_call``, ``handle_cast``, ``handle_info`` (timer
    callbacks) and ``terminate`` of every server of the daemon (31 with the defaults), in an order
    the seed replays; I1-I6 after each."""
    points = callback_points(await settled(in_process.daemon.root))
    assert {callback for _, callback in points} == set(CALLBACKS)
    random.Random(fault_plan.seed).shuffle(points)
    await crash_at_callback_points(in_process, points, fault_plan, arbord_capture(RESTART), caplog)


TIMERS = (
    "[telemetry.poller]\ninterval = 0.02\n[telemetry.events]\njanitor_interval = 0.02\n"
    "[cache.caches.default]\njanitor_interval = 0.02\n[flags.migration]\ninterval = 0.02\n"
)
"""The daemon's periodic timers at 20 ms, so that each fires within the test."""


async def test_f1_a_crash_in_each_timer_callback_keeps_the_invariants(
    short_tmp: Path,
    arbord_capture: Callable[..., Capture],
    fault_plan: FaultPlan,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The same crash in handle_info as above, reached by the server's own timer: nothing is sent,
    # the next message is the timer's (the poll, the janitors' sweeps, the migration's check).
    restarts = arbord_capture(RESTART)
    async with running_in_process(short_tmp, "[tree.root]\nintensity = 100\n" + TIMERS) as daemon:
        await settled(daemon.daemon.root)
        await daemon.ping()
        bounds = Snapshot.take()
        paths = ["poller", "telemetry", "cache/default", "migration"]
        random.Random(fault_plan.seed).shuffle(paths)
        for path in paths:

            async def crash(server: Server, path: str = path) -> None:
                with FaultPlan(fault_plan.seed) as plan:
                    point = plan.server(type(server), "handle_info", Fault.RAISE, limit=1)
                    reason = await server.wait()
                    assert isinstance(reason.exception, FaultInjected), (path, reason)
                    assert [i.point for i in plan.injected] == [point]

            await crash_and_check(daemon, path, crash, restarts, caplog, bounds)
        assert len(restarts) == len(paths)


async def test_f1_a_table_write_failing_in_a_callers_task_errs_that_caller_only(
    in_process: InProcess,
    arbord_capture: Callable[..., Capture],
    fault_plan: FaultPlan,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A cache write runs in the caller's task on the cache's table (no mailbox hop): a table write
    # failing there is the caller's crash, not the server's. The request gets an ``internal`` reply
    # (the error logged once), no server restarts, and the cache and the control socket answer.
    restarts = arbord_capture(RESTART)
    tree = await settled(in_process.daemon.root)
    entries = tree["cache/default"]._entries.name  # type: ignore[attr-defined]
    async with open_control_client(in_process.socket) as client:
        reports = len(error_reports(caplog))
        with fault_plan:
            point = fault_plan.table(entries, "insert", limit=1)
            with pytest.raises(ControlReplyError) as refused:
                await asyncio.wait_for(client.call("cache.put", {"key": "k", "value": 1}), 10)
        assert refused.value.code == "internal"
        assert [i.point for i in fault_plan.injected] == [point]
        assert len(error_reports(caplog)) == reports + 1
        await client.call("cache.put", {"key": "k", "value": 2})
        assert (await client.call("cache.get", {"key": "k"}))["value"] == 2
    assert len(restarts) == 0
    after = await settled(in_process.daemon.root)
    assert all(after[p] is tree[p] for p in tree)
    await in_process.ping()


async def test_f1_crash_points_in_callbacks_reply_an_error_never_hang(
    in_process: InProcess, arbord_capture: Callable[..., Capture], fault_plan: FaultPlan
) -> None:
    # The flags server crashes handling a write, then its restart's init fails once: two crashes,
    # two restarts; the caller gets an error reply, the flags in force are the store's.
    restarts = arbord_capture(RESTART)
    async with open_control_client(in_process.socket) as client:
        assert (await client.call("flags.enable", {"flag": "beta"}))["revision"] == 1
        fault_plan.server(Flags, "handle_call", Fault.RAISE, hits={1})
        fault_plan.server(Flags, "init", Fault.RAISE, hits={1})
        with pytest.raises(ControlReplyError) as refused:
            await asyncio.wait_for(client.call("flags.disable", {"flag": "beta"}), 10)
        # A call whose server exited before replying is ServerExited, a ServerDown, answered
        # server_down (the core verbs' error map): an error reply naming the exit, never a hang.
        assert refused.value.code == "server_down"
        assert "exited: Exit(crash: FaultInjected(" in str(refused.value)
        await wait_for_events(restarts, [RESTART, RESTART], timeout=10.0)
        assert [(i.point, i.hit) for i in fault_plan.injected] == [
            ("Flags.handle_call", 1),
            ("Flags.init", 1),
        ]
        assert len(restarts) == len(fault_plan.injected)
        flags = await settled(in_process.daemon.root)
        assert flags["flags"].alive
        assert (await client.call("flags.get", {"flag": "beta"}))["gates"]["boolean"] is True
    await in_process.ping()


async def test_f1_calls_while_a_server_restarts_answer_server_down_never_not_found(
    in_process: InProcess, arbord_capture: Callable[..., Capture], fault_plan: FaultPlan
) -> None:
    # Between a crash and the restart's registration a caller finds no running server: held open
    # here by the restart's init hanging. The flags and a configured cache answer server_down (the
    # matrix's "ServerDown"); a cache that is not configured is still not_found.
    restarts = arbord_capture(RESTART)
    fault_plan.server(Flags, "init", Fault.HANG, hits={1})
    fault_plan.server(Cache, "init", Fault.HANG, hits={1})
    tree = await settled(in_process.daemon.root)
    async with open_control_client(in_process.socket) as client:
        tree["flags"].kill()
        tree["cache/default"].kill()
        await wait_for(lambda: fault_plan.hits("Flags.init") == fault_plan.hits("Cache.init") == 1, 10.0)
        for method, params in (
            ("flags.enable", {"flag": "beta"}),
            ("flags.get", {"flag": "beta"}),
            ("cache.get", {"key": "k"}),
            ("cache.put", {"key": "k", "value": 1}),
        ):
            with pytest.raises(ControlReplyError) as refused:
                await asyncio.wait_for(client.call(method, params), 10)
            assert refused.value.code == "server_down", method
        with pytest.raises(ControlReplyError) as unknown:
            await client.call("cache.get", {"cache": "nope", "key": "k"})
        assert unknown.value.code == "not_found"
        # The hung inits are killed: each restart fails once, is retried, and the servers answer.
        for name in ("arbord.flags", "arbord.cache.default"):
            hung = whereis(name)
            assert hung is not None
            hung.kill()
        await wait_for_events(restarts, [RESTART, RESTART], timeout=10.0)
        await settled(in_process.daemon.root)
        assert (await client.call("flags.enable", {"flag": "beta"}))["revision"] == 1
        await client.call("cache.put", {"key": "k", "value": 1})
    await in_process.ping()


# --- small servers for F2-F8 -----------------------------------------------------------------------


class Worker(Server):
    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return request


class First(Worker):
    pass


class Second(Worker):
    pass


class Third(Worker):
    pass


@dataclass(frozen=True)
class Rig:
    """What the supervisor rows (F2 to F4) use: the events captured, the fault plan, the manual
    clock; the leak check runs around the test."""

    capture: Callable[..., Capture]
    plan: FaultPlan
    clock: ManualClock


@pytest.fixture
def rig(
    arbord_leak_check: LeakCheck,
    arbord_capture: Callable[..., Capture],
    fault_plan: FaultPlan,
    manual_clock: ManualClock,
) -> Rig:
    return Rig(arbord_capture, fault_plan, manual_clock)


async def running_server(supervisor: Supervisor, child_id: str) -> Server:
    """The running server of ``supervisor``'s child ``child_id``."""
    (info,) = [i for i in await supervisor.which_children() if i.id == child_id]
    assert info.server is not None
    return info.server


async def crash_by_call(supervisor: Supervisor) -> None:
    """Crash ``supervisor``'s only child through a call (the plan makes ``handle_call`` raise)."""
    [info] = await supervisor.which_children()
    assert info.server is not None
    with pytest.raises(ServerExited):
        await info.server.call("crash")


# --- F2: a sibling fails to start during a group restart --------------------------------------------


async def test_f2_a_sibling_failing_during_a_group_restart_is_retried_through_the_mailbox(rig: Rig) -> None:
    starts = rig.capture(START)
    restarts = rig.capture(RESTART)
    rig.plan.server(Third, "init", Fault.RAISE, hits={2})  # #1 is the first start; #2 the restart's
    children = [ChildSpec("first", First), ChildSpec("second", Second), ChildSpec("third", Third)]
    flags = SupervisorFlags(strategy=Strategy.ONE_FOR_ALL, intensity=5)
    async with Supervisor(children, flags=flags, clock=rig.clock) as group:
        (await running_server(group, "first")).kill()
        # The group restart: first and second start again, third fails; they are stopped again and
        # the whole group is retried (a second restart, through the mailbox), which succeeds.
        await wait_for_events(restarts, [RESTART, RESTART], timeout=10.0)
        running = await settled(group)
        assert [i for i in rig.plan.injected if i.point == "Third.init"]
        by_child = [s.metadata["child_id"] for s in starts]
        assert by_child.count("first") == 3  # start, the failed round, the retry
        assert by_child.count("second") == 3
        assert by_child.count("third") == 2  # start, the retry (its failed init reported no start)
        assert all(server.alive for server in running.values())


# --- F3: a restart storm escalates at exactly intensity + 1 ----------------------------------------


async def test_f3_restarts_escalate_at_exactly_intensity_plus_one_within_the_period(rig: Rig) -> None:
    restarts = rig.capture(RESTART)
    escalations = rig.capture(ESCALATE)
    rig.plan.server(First, "handle_call", Fault.RAISE)  # every call crashes it
    supervisor = await Supervisor.start(
        [ChildSpec("first", First)], flags=SupervisorFlags(intensity=2, period=5.0), clock=rig.clock
    )
    for crash in range(1, 4):
        await crash_by_call(supervisor)
        if crash <= 2:
            await wait_for_events(restarts, [RESTART] * crash, timeout=10.0)
            rig.clock.advance(1.0)  # all three within the 5 s period
    await wait_for_events(escalations, [ESCALATE], timeout=10.0)
    await wait_for(lambda: not supervisor.alive, timeout=10.0)
    assert len(restarts) == 2  # intensity 2: the 3rd crash escalates, no 3rd restart
    assert len(rig.plan.injected) == 3


async def test_f3_restarts_spaced_outside_the_period_never_escalate(rig: Rig) -> None:
    restarts = rig.capture(RESTART)
    rig.plan.server(First, "handle_call", Fault.RAISE)
    flags = SupervisorFlags(intensity=2, period=5.0)
    async with Supervisor([ChildSpec("first", First)], flags=flags, clock=rig.clock) as supervisor:
        for crash in range(1, 10):
            await crash_by_call(supervisor)
            await wait_for_events(restarts, [RESTART] * crash, timeout=10.0)
            rig.clock.advance(2.6)  # at most 2 restarts in any 5 s
        assert supervisor.alive
        assert len(restarts) == 9


# --- F4: a stop request arrives in a restart loop --------------------------------------------------


async def test_f4_a_stop_in_a_restart_loop_completes_and_shows_restarting(rig: Rig) -> None:
    restarts = rig.capture(RESTART)
    rig.plan.server(Second, "init", Fault.RAISE, hits=set(range(2, 100_000)))  # every restart fails
    flags = SupervisorFlags(intensity=1_000_000, period=5.0)
    supervisor = await Supervisor.start(
        [ChildSpec("first", First), ChildSpec("second", Second)], flags=flags, clock=rig.clock
    )
    (await running_server(supervisor, "second")).kill()
    await wait_for_events(restarts, [RESTART] * 3, timeout=10.0)  # looping
    states = {i.id: i.state for i in await supervisor.which_children()}
    assert states["second"] is ChildState.RESTARTING
    async with asyncio.timeout(10):  # OTP-9549: the stop is not starved by the loop
        await supervisor.stop()
    assert not supervisor.alive


# --- F5: a child that swallows its cancellation ----------------------------------------------------


class Deaf(Server):
    """Its ``terminate`` swallows every cancellation until ``release`` is set (by the test, once the
    supervisor has abandoned it: a task that never ends would hang the loop's own teardown)."""

    async def init(self) -> None:
        self.release = asyncio.Event()

    async def terminate(self, reason: Any) -> None:
        while not self.release.is_set():
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                continue


async def test_f5_a_child_swallowing_cancellation_is_abandoned_and_named(
    arbord_leak_check: LeakCheck, caplog: pytest.LogCaptureFixture, manual_clock: ManualClock
) -> None:
    supervisor = await Supervisor.start(
        [ChildSpec("deaf", Deaf, shutdown=0.05), ChildSpec("first", First)],
        flags=SupervisorFlags(kill_grace=0.05),
        clock=manual_clock,
    )
    [_, deaf] = await supervisor.which_children()
    assert isinstance(deaf.server, Deaf)
    async with asyncio.timeout(10):  # no hang: the offender is abandoned after its grace
        await supervisor.stop()
    assert not supervisor.alive
    offenders = [r for r in error_reports(caplog) if "'deaf'" in r.getMessage()]
    assert offenders, [r.getMessage() for r in caplog.records]
    assert deaf.server.alive  # abandoned, not stopped: the report is all a supervisor can do
    deaf.server.release.set()
    await deaf.server.wait()


# --- F6: a slow handler times out only its caller --------------------------------------------------


class Slow(Server):
    log_crashes = False  # the test kills it: its handler never returns

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        await asyncio.Event().wait()


async def test_f6_a_slow_handler_times_out_its_caller_only_and_the_watchdog_is_fed(
    in_process: InProcess, arbord_names: Callable[[str], str]
) -> None:
    slow = await Slow.start(name=arbord_names("slow"))
    try:
        seen = len(in_process.notifier.sent)
        pending = asyncio.ensure_future(slow.call("stuck", timeout=1.0))
        for _ in range(5):
            await in_process.ping()  # others are answered meanwhile
        await wait_for(  # the watchdog keeps being fed while the handler hangs
            lambda: sum("WATCHDOG" in m for m in in_process.notifier.sent[seen:]) >= 2, timeout=10.0
        )
        with pytest.raises(CallTimeout):
            await pending
    finally:
        slow.kill()
        await slow.wait()


# --- F8: a table's owner dies ----------------------------------------------------------------------


async def test_f8_the_registry_owner_dying_keeps_live_keys_and_only_its_owners_go(
    in_process: InProcess,
) -> None:
    async def register(client: ControlClient, key: str) -> None:
        await client.call("registry.register", {"key": key})

    async with open_control_client(in_process.socket) as alice:
        await register(alice, "alice")
        async with open_control_client(in_process.socket) as bob:
            await register(bob, "bob")
            tree = await settled(in_process.daemon.root)
            tree["registry/registry"].kill()  # the table's owner dies; the keeper is its heir
            await wait_for(lambda: _replaced(in_process, tree, "registry/registry"), timeout=10.0)
            listed = await alice.call("registry.list")
            assert sorted(e["key"] for e in listed["entries"]) == ["alice", "bob"]
        # bob's connection (the owner of "bob") is gone: only its key goes.
        await wait_for(lambda: _keys(alice), timeout=10.0)
        assert await _keys(alice) == ["alice"]


async def _replaced(in_process: InProcess, before: dict[str, Server], path: str) -> bool:
    now = await tree_of(in_process.daemon.root)
    return now is not None and now[path] is not before[path]


async def _keys(client: ControlClient) -> list[str] | None:
    keys = sorted(e["key"] for e in (await client.call("registry.list"))["entries"])
    return keys if keys == ["alice"] else None
