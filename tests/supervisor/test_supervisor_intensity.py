"""Restart intensity, escalation and failed restarts (docs/otp-conformance.md#intensity).

The window is a sliding one on an injected ``ManualClock``, so no test needs real time. More than
``intensity`` restarts within ``period`` stops every child in reverse order and then the supervisor, with
``shutdown``; the parent restarts it only if it is permanent. A failed restart is retried through the
supervisor's own mailbox, so calls and a stop still get in (OTP-9549).
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from supervisor import SHUTDOWN, ChildSpec, ChildState, ChildType, Restart, Strategy, Supervisor, telemetry
from supervisor._flags import DEFAULT_INTENSITY, DEFAULT_PERIOD
from supervisor.errors import ChildRestarting
from supervisor.testing import LeakCheck, ManualClock, crash_and_settle
from tests.supervisor.test_supervisor_support import (
    EventLog,
    Flaky,
    Switch,
    by_id,
    crash_child,
    ids,
    server_of,
    worker,
)


def test_defaults_are_elixirs_three_restarts_in_five_seconds() -> None:
    assert (DEFAULT_INTENSITY, DEFAULT_PERIOD) == (3, 5.0)


async def test_intensity_restarts_within_the_period_are_tolerated() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)], intensity=3, period=5, clock=ManualClock()) as sup:
        for _ in range(3):
            await crash_and_settle(sup, "a")
        assert sup.alive
        assert by_id(await sup.which_children())["a"].restarts == 3


async def test_one_restart_too_many_stops_children_in_reverse_then_the_supervisor() -> None:
    log: EventLog = []
    clock = ManualClock()
    events = (("supervisor", "escalate"), ("supervisor", "shutdown"))
    with telemetry.capture(*events) as seen:
        sup = await Supervisor.start([worker(x, log) for x in "abc"], intensity=1, period=5, clock=clock)
        await crash_and_settle(sup, "b")
        log.clear()
        await crash_child(await server_of(sup, "b"))
        assert await sup.wait() == SHUTDOWN
    assert ids(log, "stop") == ["c", "a"]  # b is already dead
    assert ids(log, "start") == []
    assert [c.event for c in seen] == list(events)
    assert seen[0].metadata == {"supervisor": sup.label, "child_id": "b"}
    assert seen[0].measurements == {"intensity": 1}


async def test_escalation_is_logged_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    log: EventLog = []
    sup = await Supervisor.start([worker("a", log)], intensity=0, name="fragile-sup")
    await crash_child(await server_of(sup, "a"))
    await sup.wait()
    escalations = [r for r in caplog.records if "max restart intensity" in r.getMessage()]
    assert len(escalations) == 1
    assert escalations[0].levelno == logging.ERROR
    assert escalations[0].supervisor == "fragile-sup"  # type: ignore[attr-defined]


async def test_intensity_zero_means_the_first_restart_stops_the_supervisor() -> None:
    log: EventLog = []
    sup = await Supervisor.start([worker("a", log)], intensity=0, clock=ManualClock())
    await crash_child(await server_of(sup, "a"))
    assert await sup.wait() == SHUTDOWN


async def test_restarts_older_than_the_period_leave_the_window(
    manual_clock: ManualClock, arbord_leak_check: LeakCheck
) -> None:
    log: EventLog = []
    sup = await Supervisor.start([worker("a", log)], intensity=2, period=5, clock=manual_clock)
    await crash_and_settle(sup, "a")  # t=0
    manual_clock.advance(1)
    await crash_and_settle(sup, "a")  # t=1
    manual_clock.advance(4.5)  # t=5.5: the t=0 restart is out, the t=1 one in
    await crash_and_settle(sup, "a")
    assert sup.alive
    await crash_and_settle(sup, "a")  # t=5.5 again: 1, 5.5, 5.5 and this one: 3 > 2
    assert not sup.alive


async def test_a_restart_exactly_one_period_ago_still_counts(
    manual_clock: ManualClock, arbord_leak_check: LeakCheck
) -> None:
    # OTP's add_restart keeps R >= Now - Period.
    log: EventLog = []
    sup = await Supervisor.start([worker("a", log)], intensity=1, period=5, clock=manual_clock)
    await crash_and_settle(sup, "a")
    manual_clock.advance(5)
    await crash_and_settle(sup, "a")
    assert not sup.alive


async def test_spread_out_restarts_never_escalate(
    manual_clock: ManualClock, arbord_leak_check: LeakCheck
) -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)], intensity=1, period=5, clock=manual_clock) as sup:
        for _ in range(6):
            await crash_and_settle(sup, "a")
            manual_clock.advance(5.5)
        assert sup.alive


@pytest.mark.parametrize("strategy", [Strategy.ONE_FOR_ALL, Strategy.REST_FOR_ONE], ids=lambda s: s.value)
async def test_a_cascade_restart_counts_once(strategy: Strategy) -> None:
    log: EventLog = []
    sup = await Supervisor.start([worker(x, log) for x in "abcd"], strategy=strategy, intensity=1)
    await crash_and_settle(sup, "a")  # restarts four children: one restart
    assert sup.alive
    await crash_and_settle(sup, "a")
    assert not sup.alive


# --- escalation to the parent ----------------------------------------------------------------------


def inner_spec(log: EventLog, restart: Restart, **flags: object) -> ChildSpec:
    return ChildSpec(
        "inner",
        Supervisor,
        args=([worker("x", log)],),
        kwargs={"intensity": 0, **flags},
        restart=restart,
        type=ChildType.SUPERVISOR,
    )


async def escalate_inner(parent: Supervisor) -> Supervisor:
    inner = await server_of(parent, "inner")
    assert isinstance(inner, Supervisor)
    await crash_child(await server_of(inner, "x"))
    assert await inner.wait() == SHUTDOWN
    return inner


async def test_parent_restarts_an_escalated_permanent_supervisor_afresh() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log), inner_spec(log, Restart.PERMANENT)]) as parent:
        before = await server_of(parent, "a")
        inner = await server_of(parent, "inner")
        assert isinstance(inner, Supervisor)
        await inner.start_child(worker("added", log))
        log.clear()
        await escalate_inner(parent)
        fresh = await server_of(parent, "inner")
        assert fresh is not inner
        assert isinstance(fresh, Supervisor)
        # Only the children from init come back: the dynamically added one is lost.
        assert [info.id for info in await fresh.which_children()] == ["x"]
        assert log == [("stop", "added"), ("start", "x")]
        assert await server_of(parent, "a") is before
        assert by_id(await parent.which_children())["inner"].restarts == 1


@pytest.mark.parametrize("restart", [Restart.TRANSIENT, Restart.TEMPORARY], ids=lambda r: r.value)
async def test_parent_leaves_an_escalated_non_permanent_supervisor_stopped(restart: Restart) -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log), inner_spec(log, restart)]) as parent:
        await escalate_inner(parent)
        children = by_id(await parent.which_children())
        assert parent.alive
        if restart is Restart.TRANSIENT:
            assert children["inner"].state is ChildState.UNDEFINED
        else:
            assert "inner" not in children


async def test_escalation_propagates_up_when_the_parent_runs_out_of_intensity() -> None:
    log: EventLog = []
    parent = await Supervisor.start([worker("a", log), inner_spec(log, Restart.PERMANENT)], intensity=0)
    await escalate_inner(parent)
    assert await parent.wait() == SHUTDOWN
    assert ids(log, "stop") == ["a"]


# --- failed restarts: retried through the mailbox (OTP-9549) -----------------------------------------


def flaky_spec(log: EventLog, switch: Switch, **options: object) -> ChildSpec:
    return ChildSpec("f", Flaky, args=(log, "f", switch), **options)  # type: ignore[arg-type]


async def test_failed_restart_shows_restarting_and_refuses_restart_and_delete() -> None:
    log: EventLog = []
    switch = Switch()
    async with Supervisor([flaky_spec(log, switch)], intensity=10**6) as sup:
        switch.failing = True
        await crash_child(await server_of(sup, "f"))
        info = by_id(await sup.which_children())["f"]
        assert (info.state, info.server) == (ChildState.RESTARTING, None)
        with pytest.raises(ChildRestarting):
            await sup.restart_child("f")
        with pytest.raises(ChildRestarting):
            await sup.delete_child("f")
        assert (await sup.count_children()).active == 0
        switch.failing = False
        async with asyncio.timeout(5):
            while (info := by_id(await sup.which_children())["f"]).state is not ChildState.RUNNING:
                pass
        assert info.server is not None
        assert info.server.alive


async def test_hanging_restart_loop_still_lets_a_stop_in_otp_9549() -> None:
    log: EventLog = []
    switch = Switch()
    sup = await Supervisor.start([worker("a", log), flaky_spec(log, switch)], intensity=10**6)
    switch.failing = True
    await crash_child(await server_of(sup, "f"))
    attempts = switch.attempts
    async with asyncio.timeout(5):
        assert await sup.stop(SHUTDOWN) == SHUTDOWN
    assert switch.attempts > attempts  # it was retrying
    assert ids(log, "stop") == ["a"]


async def test_terminate_child_ends_a_restart_loop() -> None:
    log: EventLog = []
    switch = Switch()
    async with Supervisor([flaky_spec(log, switch)], intensity=10**6) as sup:
        switch.failing = True
        await crash_child(await server_of(sup, "f"))
        await sup.terminate_child("f")
        attempts = switch.attempts
        info = by_id(await sup.which_children())["f"]
        assert info.state is ChildState.UNDEFINED
        await sup.count_children()  # any retry already queued has been handled by now
        assert switch.attempts == attempts
        await sup.delete_child("f")
        assert await sup.which_children() == []


async def test_each_failed_retry_counts_toward_intensity() -> None:
    log: EventLog = []
    switch = Switch()
    clock = ManualClock()
    sup = await Supervisor.start([flaky_spec(log, switch)], intensity=3, period=5, clock=clock)
    switch.failing = True
    await crash_child(await server_of(sup, "f"))
    assert await sup.wait() == SHUTDOWN
    # the first start, then three restarts allowed, all failing; the fourth escalates
    assert switch.attempts == 4


async def test_failed_one_for_all_restart_retries_the_whole_group() -> None:
    log: EventLog = []
    switch = Switch()
    specs = [worker("a", log), flaky_spec(log, switch), worker("c", log)]
    async with Supervisor(specs, strategy=Strategy.ONE_FOR_ALL, intensity=10**6) as sup:
        switch.failing = True
        await crash_child(await server_of(sup, "a"))
        children = by_id(await sup.which_children())
        assert children["f"].state is ChildState.RESTARTING
        assert children["c"].state is ChildState.UNDEFINED  # after the failed one: not started yet
        switch.failing = False
        async with asyncio.timeout(5):
            while any(i.state is not ChildState.RUNNING for i in await sup.which_children()):
                pass
        assert ids(log, "start")[-3:] == ["a", "f", "c"]
