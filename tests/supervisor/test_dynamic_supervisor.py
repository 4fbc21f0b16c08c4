"""DynamicSupervisor, item by item against Elixir's own (docs/otp-conformance.md#dynamic-supervisors).

It also stands for OTP's simple_one_for_one (docs/otp-conformance.md#strategies): one_for_one only, children
started on demand with extra arguments, terminated by server only, stopped concurrently at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from supervisor import (
    NORMAL,
    SHUTDOWN,
    ChildCounts,
    ChildSpec,
    ChildState,
    ChildType,
    DynamicSupervisor,
    Exit,
    Ignore,
    Restart,
    Server,
    StartFailed,
    Supervisor,
    telemetry,
    whereis,
)
from supervisor._flags import DEFAULT_INTENSITY, DEFAULT_PERIOD
from supervisor.errors import (
    AlreadyStarted,
    ChildNotFound,
    InvalidChildSpec,
    InvalidSupervisorFlags,
    MaxChildren,
)
from supervisor.testing import ManualClock, running_children, settle, wait_for
from tests.supervisor.test_supervisor_support import (
    EventLog,
    Flaky,
    Switch,
    Worker,
    crash_child,
    ids,
    worker,
)


class Ignoring(Server):
    async def init(self, *args: Any) -> None:
        raise Ignore()


@dataclass
class Rendezvous:
    """Each party's ``terminate`` waits until all ``parties`` are in theirs: only concurrent stops finish."""

    parties: int
    arrived: int = 0
    everyone: asyncio.Event = field(default_factory=asyncio.Event)


class Meeting(Server):
    async def init(self, rendezvous: Rendezvous) -> None:
        self.rendezvous = rendezvous

    async def terminate(self, reason: Exit) -> None:
        self.rendezvous.arrived += 1
        if self.rendezvous.arrived == self.rendezvous.parties:
            self.rendezvous.everyone.set()
        await self.rendezvous.everyone.wait()


# --- starting empty, flags -----------------------------------------------------------------------------


async def test_starts_with_no_children_and_elixirs_defaults() -> None:
    async with DynamicSupervisor() as sup:
        assert await sup.which_children() == []
        assert await sup.count_children() == ChildCounts(specs=0, active=0, supervisors=0, workers=0)
        assert sup.max_children is None
        assert sup.extra_arguments == ()
        assert (sup._intensity.intensity, sup._intensity.period) == (DEFAULT_INTENSITY, DEFAULT_PERIOD)


@pytest.mark.parametrize(
    "flags",
    [{"max_children": -1}, {"max_children": 1.5}, {"max_children": True}, {"intensity": -1}, {"period": 0}],
    ids=repr,
)
def test_invalid_flags_are_refused_at_construction(flags: dict[str, Any]) -> None:
    (flag,) = flags
    with pytest.raises(InvalidSupervisorFlags, match=flag):
        DynamicSupervisor(**flags)


def test_there_is_no_strategy_to_choose() -> None:
    options: dict[str, Any] = {"strategy": "one_for_all"}
    with pytest.raises(TypeError):
        DynamicSupervisor(**options)


# --- start_child -----------------------------------------------------------------------------------


async def test_start_child_ignores_ids_which_need_not_be_unique() -> None:
    log: EventLog = []
    async with DynamicSupervisor() as sup:
        first = await sup.start_child(worker("same", log))
        second = await sup.start_child(worker("same", log))
        assert first is not None
        assert second is not None
        assert first is not second
        assert {info.id for info in await sup.which_children()} == {None}
        assert (await sup.count_children()).active == 2


async def test_extra_arguments_are_prepended_to_the_childs_args() -> None:
    log: EventLog = []
    async with DynamicSupervisor(extra_arguments=(log,)) as sup:
        child = await sup.start_child(ChildSpec("w", Worker, args=("dyn",)))
        assert child is not None
        assert await child.call("who") == "dyn"
        assert log == [("start", "dyn")]


async def test_ignoring_start_child_returns_none_and_adds_nothing() -> None:
    async with DynamicSupervisor() as sup:
        assert await sup.start_child(ChildSpec("i", Ignoring)) is None
        assert await sup.count_children() == ChildCounts(specs=0, active=0, supervisors=0, workers=0)


async def test_max_children_refuses_the_child_past_the_limit() -> None:
    log: EventLog = []
    async with DynamicSupervisor(max_children=2) as sup:
        first = await sup.start_child(worker("a", log))
        await sup.start_child(worker("b", log))
        with pytest.raises(MaxChildren):
            await sup.start_child(worker("c", log))
        assert ids(log, "start") == ["a", "b"]
        assert first is not None
        await sup.terminate_child(first)
        assert await sup.start_child(worker("c", log)) is not None


async def test_max_children_zero_refuses_every_child() -> None:
    async with DynamicSupervisor(max_children=0) as sup:
        with pytest.raises(MaxChildren):
            await sup.start_child(worker("a", []))


async def test_failed_start_child_raises_and_adds_nothing() -> None:
    log: EventLog = []
    async with DynamicSupervisor() as sup:
        with pytest.raises(StartFailed):
            await sup.start_child(ChildSpec("f", Flaky, args=(log, "f", Switch(failing=True))))
        assert (await sup.count_children()).specs == 0
        assert sup.alive


async def test_a_duplicate_registered_name_fails_the_start() -> None:
    log: EventLog = []
    async with DynamicSupervisor() as sup:
        held = await sup.start_child(worker("a", log, name="dyn-unique"))
        with pytest.raises(StartFailed) as raised:
            await sup.start_child(worker("b", log, name="dyn-unique"))
        assert isinstance(raised.value.reason.exception, AlreadyStarted)
        assert whereis("dyn-unique") is held


async def test_significant_children_are_rejected() -> None:
    async with DynamicSupervisor() as sup:
        spec = worker("s", [], restart=Restart.TRANSIENT, significant=True)
        with pytest.raises(InvalidChildSpec, match="significant"):
            await sup.start_child(spec)
        bad: Any = "not a spec"
        with pytest.raises(InvalidChildSpec):
            await sup.start_child(bad)


# --- terminate_child, which_children, count_children -------------------------------------------------


async def test_terminate_child_stops_the_server_and_forgets_it() -> None:
    log: EventLog = []
    async with DynamicSupervisor() as sup:
        child = await sup.start_child(worker("a", log))
        assert child is not None
        await sup.terminate_child(child)
        assert child.exit_reason == SHUTDOWN
        assert await sup.which_children() == []
        assert ids(log, "stop") == ["a"]
        with pytest.raises(ChildNotFound):
            await sup.terminate_child(child)


async def test_terminate_child_takes_servers_only() -> None:
    log: EventLog = []
    async with DynamicSupervisor() as sup:
        await sup.start_child(worker("a", log))
        stranger = await Worker.start(log, "stranger")
        by_id: Any = "a"
        for not_a_child in (stranger, by_id):
            with pytest.raises(ChildNotFound):
                await sup.terminate_child(not_a_child)
        assert stranger.alive
        assert (await sup.count_children()).active == 1
        await stranger.stop()


async def test_which_and_count_children_report_type_and_state() -> None:
    log: EventLog = []
    async with DynamicSupervisor() as sup:
        w = await sup.start_child(worker("w", log))
        s = await sup.start_child(ChildSpec("s", DynamicSupervisor, type=ChildType.SUPERVISOR))
        infos = {info.server: info for info in await sup.which_children()}
        assert set(infos) == {w, s}
        assert infos[w].type is ChildType.WORKER
        assert infos[s].type is ChildType.SUPERVISOR
        assert all(i.state is ChildState.RUNNING and i.id is None for i in infos.values())
        assert await sup.count_children() == ChildCounts(specs=2, active=2, supervisors=1, workers=1)


# --- restarts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("normal", [True, False], ids=["normal", "crash"])
@pytest.mark.parametrize("restart", list(Restart), ids=lambda r: r.value)
async def test_restart_types_apply_as_for_supervisor(restart: Restart, normal: bool) -> None:
    log: EventLog = []
    async with DynamicSupervisor() as sup:
        other = await sup.start_child(worker("other", log))
        child = await sup.start_child(worker("x", log, restart=restart))
        assert child is not None
        await crash_child(child, NORMAL if normal else None)
        restarted = restart is Restart.PERMANENT or (restart is Restart.TRANSIENT and not normal)
        servers = await running_children(sup)
        assert other in servers  # one_for_one: the sibling is untouched
        assert child not in servers
        assert len(servers) == (2 if restarted else 1)
        with pytest.raises(ChildNotFound):  # tracked by server: the old one is gone
            await sup.terminate_child(child)


async def test_reaching_the_intensity_limit_stops_every_child_with_shutdown() -> None:
    log: EventLog = []
    with telemetry.capture(("supervisor", "escalate")) as seen:
        sup = await DynamicSupervisor.start(intensity=1, period=5, clock=ManualClock())
        await sup.start_child(worker("a", log))
        await sup.start_child(worker("b", log))
        for _ in range(2):
            (target, *_) = [s for s in await running_children(sup) if await s.call("who") == "a"]
            await crash_child(target)
            await settle(sup)
        assert await sup.wait() == SHUTDOWN
    assert ids(log, "stop") == ["b"]
    assert len(seen) == 1


async def test_failed_restart_is_retried_and_shows_restarting() -> None:
    log: EventLog = []
    switch = Switch()
    async with DynamicSupervisor(intensity=10**6, max_children=1) as sup:
        child = await sup.start_child(ChildSpec("f", Flaky, args=(log, "f", switch)))
        assert child is not None
        switch.failing = True
        await crash_child(child)
        (info,) = await sup.which_children()
        assert (info.state, info.server) == (ChildState.RESTARTING, None)
        assert await sup.count_children() == ChildCounts(specs=1, active=0, supervisors=0, workers=1)
        with pytest.raises(MaxChildren):  # a restarting child still counts
            await sup.start_child(worker("b", log))
        switch.failing = False
        await wait_for(lambda: running_children(sup), timeout=5.0)


async def test_hanging_restart_loop_still_lets_a_stop_in() -> None:
    switch = Switch()
    sup = await DynamicSupervisor.start(intensity=10**6)
    child = await sup.start_child(ChildSpec("f", Flaky, args=([], "f", switch)))
    assert child is not None
    switch.failing = True
    await crash_child(child)
    async with asyncio.timeout(5):
        assert await sup.stop(SHUTDOWN) == SHUTDOWN


async def test_a_crash_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    log: EventLog = []
    async with DynamicSupervisor(name="dyn-reports") as sup:
        child = await sup.start_child(worker("a", log))
        assert child is not None
        await crash_child(child)
        await sup.count_children()
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    # One supervisor report, carrying the count of the restart it announces.
    assert (record.supervisor, record.child_id, record.restart_count) == ("dyn-reports", "a", 1)  # type: ignore[attr-defined]


# --- shutdown --------------------------------------------------------------------------------------------


async def test_children_are_stopped_concurrently_at_shutdown() -> None:
    rendezvous = Rendezvous(parties=3)
    async with asyncio.timeout(10), DynamicSupervisor() as sup:
        children = [
            await sup.start_child(ChildSpec("m", Meeting, args=(rendezvous,), shutdown=5)) for _ in "abc"
        ]
    # One at a time, the first would wait for the others forever and be killed at its timeout.
    assert [c.exit_reason if c else None for c in children] == [SHUTDOWN] * 3


async def test_dynamic_supervisor_under_a_supervisor() -> None:
    log: EventLog = []
    spec = ChildSpec("pool", DynamicSupervisor, kwargs={"extra_arguments": (log,)}, type=ChildType.SUPERVISOR)
    async with Supervisor([spec]) as parent:
        (info,) = await parent.which_children()
        pool = info.server
        assert isinstance(pool, DynamicSupervisor)
        await pool.start_child(ChildSpec("w", Worker, args=("w1",)))
    assert log == [("start", "w1"), ("stop", "w1")]


async def test_a_restarted_child_gets_the_extra_arguments_again_and_is_found_by_its_new_server() -> None:
    log: EventLog = []
    async with DynamicSupervisor(extra_arguments=(log,)) as sup:
        first = await sup.start_child(ChildSpec("w", Worker, args=("w",)))
        assert first is not None
        await crash_child(first)
        (info,) = await sup.which_children()  # a call: the restart was handled before it
        assert info.server is not None
        assert info.server is not first
        assert info.restarts == 1
        assert ids(log, "start") == ["w", "w"]
        with pytest.raises(ChildNotFound):
            await sup.terminate_child(first)
        await sup.terminate_child(info.server)
        assert await sup.which_children() == []
