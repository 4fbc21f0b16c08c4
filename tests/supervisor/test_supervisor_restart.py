"""Restarts per strategy and per restart type (docs/otp-conformance.md#strategies, #restart-types).

Each strategy stops the affected siblings in reverse start order and starts them again in start order;
temporary bystanders are dropped; permanent children always come back, transient ones only after an
abnormal exit, temporary ones never. A crash is logged once, as a structured report.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from supervisor import (
    KILLED,
    NORMAL,
    SHUTDOWN,
    ChildSpec,
    ChildState,
    Exit,
    Restart,
    Server,
    Strategy,
    Supervisor,
    shutdown,
    telemetry,
    whereis,
)
from supervisor.testing import wait_for
from tests.supervisor.test_supervisor_support import (
    TEMPORARY,
    EventLog,
    Worker,
    by_id,
    crash_child,
    ids,
    server_of,
    worker,
)


async def servers(sup: Supervisor) -> dict[str | None, Server | None]:
    return {info.id: info.server for info in await sup.which_children()}


# --- one_for_one -----------------------------------------------------------------------------------


async def test_one_for_one_restarts_only_the_child_that_exited() -> None:
    log: EventLog = []
    async with Supervisor([worker(x, log) for x in "abc"]) as sup:
        before = await servers(sup)
        log.clear()
        await crash_child(await server_of(sup, "b"))
        after = await servers(sup)
        assert log == [("start", "b")]
        assert after["a"] is before["a"]
        assert after["c"] is before["c"]
        assert after["b"] is not before["b"]
        assert after["b"] is not None
        assert after["b"].alive
        assert by_id(await sup.which_children())["b"].restarts == 1


async def test_one_for_one_is_the_default_strategy() -> None:
    async with Supervisor([]) as sup:
        assert sup.strategy is Strategy.ONE_FOR_ONE


class Gated(Server):
    """Each incarnation after the first waits in init for ``gate``; a cast crashes it, or makes the
    next incarnation crash on its first message when the cast is "crash early"."""

    async def init(self, gate: asyncio.Event, incarnations: list[Server]) -> None:
        incarnations.append(self)
        if len(incarnations) > 1:
            await gate.wait()
            if getattr(incarnations[-2], "crash_next_early", False):
                self.cast("crash")

    async def handle_cast(self, message: Any) -> None:
        self.crash_next_early = message == "crash early"
        raise RuntimeError("crashed on purpose")


async def test_requests_made_while_a_restarted_child_runs_init_wait_for_that_init() -> None:
    # OTP: the supervisor is blocked in the child's start until init returns; requests queue up.
    gate = asyncio.Event()
    incarnations: list[Server] = []
    async with Supervisor([ChildSpec("g", Gated, args=(gate, incarnations))]) as sup:
        await crash_child(incarnations[0])
        counting = asyncio.ensure_future(sup.which_children())
        await wait_for(lambda: len(incarnations) == 2)
        assert not counting.done()
        gate.set()
        (info,) = await counting
        assert info.state is ChildState.RUNNING
        assert info.server is incarnations[1]
        assert info.restarts == 1


async def test_killing_a_supervisor_while_a_restarted_child_runs_init_kills_that_child(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = asyncio.Event()
    incarnations: list[Server] = []
    sup = await Supervisor.start([ChildSpec("g", Gated, args=(gate, incarnations))])
    await crash_child(incarnations[0])
    await wait_for(lambda: len(incarnations) == 2)
    caplog.clear()
    sup.kill()
    assert await sup.wait() == KILLED
    assert await incarnations[1].wait() == KILLED
    # The killed init is not a failed restart to retry: the supervisor is gone.
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]


async def test_a_restarted_child_that_crashes_on_its_first_message_reports_that_crash() -> None:
    gate = asyncio.Event()
    gate.set()
    incarnations: list[Server] = []
    event = ("supervisor", "child", "exit")
    async with Supervisor([ChildSpec("g", Gated, args=(gate, incarnations))]) as sup:
        with telemetry.capture(event) as seen:
            incarnations[0].cast("crash early")
            await incarnations[0].wait()
            await sup.count_children()  # incarnation 2 is running: it crashes when it next runs
            await incarnations[1].wait()
            await sup.count_children()
        _, second = seen.of(event)
        reason = second.metadata["reason"]
        assert isinstance(reason, Exit)
        assert reason.exception is not None  # its crash, not noproc
        assert len(incarnations) == 3


class CrashesAtOnce(Server):
    """Its first incarnation crashes on its first message, which it sends itself in init."""

    async def init(self, incarnations: list[Server]) -> None:
        incarnations.append(self)
        if len(incarnations) == 1:
            self.cast("crash")

    async def handle_cast(self, message: Any) -> None:
        raise RuntimeError("crashed on purpose")


async def test_a_child_that_crashes_on_its_first_message_at_the_start_reports_that_crash() -> None:
    incarnations: list[Server] = []
    event = ("supervisor", "child", "exit")
    with telemetry.capture(event) as seen:
        async with Supervisor([ChildSpec("c", CrashesAtOnce, args=(incarnations,))]) as sup:
            await incarnations[0].wait()
            await sup.count_children()
    (first,) = seen.of(event)
    reason = first.metadata["reason"]
    assert isinstance(reason, Exit)
    assert reason.exception is not None  # its crash, not noproc
    assert len(incarnations) == 2


# --- one_for_all -----------------------------------------------------------------------------------


async def test_one_for_all_stops_the_others_in_reverse_then_starts_all_in_order() -> None:
    log: EventLog = []
    async with Supervisor([worker(x, log) for x in "abcd"], strategy=Strategy.ONE_FOR_ALL) as sup:
        before = await servers(sup)
        log.clear()
        await crash_child(await server_of(sup, "b"))
        after = await servers(sup)
        assert log == [
            ("stop", "d"),
            ("stop", "c"),
            ("stop", "a"),
            ("start", "a"),
            ("start", "b"),
            ("start", "c"),
            ("start", "d"),
        ]
        assert all(after[x] is not before[x] for x in "abcd")


async def test_one_for_all_drops_temporary_bystanders_instead_of_restarting_them() -> None:
    log: EventLog = []
    specs = [worker("a", log), worker("tmp", log, restart=TEMPORARY), worker("c", log)]
    async with Supervisor(specs, strategy=Strategy.ONE_FOR_ALL) as sup:
        tmp = await server_of(sup, "tmp")
        log.clear()
        await crash_child(await server_of(sup, "c"))
        assert [info.id for info in await sup.which_children()] == ["c", "a"]
        assert tmp.exit_reason == SHUTDOWN
        assert ids(log, "start") == ["a", "c"]


async def test_one_for_all_does_nothing_when_the_exited_child_is_not_restarted() -> None:
    log: EventLog = []
    specs = [worker("a", log), worker("t", log, restart=Restart.TRANSIENT), worker("c", log)]
    async with Supervisor(specs, strategy=Strategy.ONE_FOR_ALL) as sup:
        log.clear()
        await crash_child(await server_of(sup, "t"), NORMAL)
        children = by_id(await sup.which_children())
        assert children["t"].state is ChildState.UNDEFINED
        assert children["a"].state is children["c"].state is ChildState.RUNNING
        assert log == []


# --- rest_for_one ----------------------------------------------------------------------------------


async def test_rest_for_one_restarts_the_child_and_those_after_it() -> None:
    log: EventLog = []
    async with Supervisor([worker(x, log) for x in "abcd"], strategy=Strategy.REST_FOR_ONE) as sup:
        before = await servers(sup)
        log.clear()
        await crash_child(await server_of(sup, "b"))
        after = await servers(sup)
        assert log == [("stop", "d"), ("stop", "c"), ("start", "b"), ("start", "c"), ("start", "d")]
        assert after["a"] is before["a"]
        assert all(after[x] is not before[x] for x in "bcd")


async def test_rest_for_one_drops_temporary_children_after_the_exited_one() -> None:
    log: EventLog = []
    specs = [worker("tmp0", log, restart=TEMPORARY), worker("b", log), worker("tmp2", log, restart=TEMPORARY)]
    async with Supervisor(specs, strategy=Strategy.REST_FOR_ONE) as sup:
        await crash_child(await server_of(sup, "b"))
        assert [info.id for info in await sup.which_children()] == ["b", "tmp0"]


async def test_rest_for_one_on_the_last_child_restarts_only_it() -> None:
    log: EventLog = []
    async with Supervisor([worker(x, log) for x in "abc"], strategy=Strategy.REST_FOR_ONE) as sup:
        log.clear()
        await crash_child(await server_of(sup, "c"))
        await sup.count_children()
        assert log == [("start", "c")]


# --- restart types x exit reasons ------------------------------------------------------------------

REASONS: dict[str, Exit | None] = {
    "normal": NORMAL,
    "shutdown": SHUTDOWN,
    "shutdown-term": shutdown("maintenance"),
    "killed": KILLED,
    "crash": None,
}


@pytest.mark.parametrize("strategy", list(Strategy), ids=lambda s: s.value)
@pytest.mark.parametrize("reason_name", list(REASONS))
@pytest.mark.parametrize("restart", list(Restart), ids=lambda r: r.value)
async def test_restart_type_decides_restart_for_each_exit_reason(
    restart: Restart, reason_name: str, strategy: Strategy
) -> None:
    log: EventLog = []
    async with Supervisor([worker("x", log, restart=restart)], strategy=strategy) as sup:
        old = await server_of(sup, "x")
        reason = REASONS[reason_name]
        if reason is KILLED:
            old.kill()
            await old.wait()
        else:
            await crash_child(old, reason)
        abnormal = reason is None or reason is KILLED
        expected = restart is Restart.PERMANENT or (restart is Restart.TRANSIENT and abnormal)
        children = await sup.which_children()
        if restart is Restart.TEMPORARY:
            assert children == []  # the spec is removed once it exits
        else:
            (info,) = children
            assert info.state is (ChildState.RUNNING if expected else ChildState.UNDEFINED)
            assert info.restarts == (1 if expected else 0)
            assert (info.server is not None) is expected
            assert info.server is not old


async def test_a_restarted_child_is_a_new_server_found_by_its_name() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log, name="restart-named")]) as sup:
        old = whereis("restart-named")
        assert old is not None
        await crash_child(old)
        await sup.count_children()
        new = whereis("restart-named")
        assert new is not None
        assert new is not old
        assert await new.call("who") == "a"


async def test_a_start_function_returning_an_exited_server_counts_as_an_exit() -> None:
    log: EventLog = []
    made: list[Server] = []

    async def make() -> Server:
        server = await Worker.start(log, "made")
        if not made:
            await server.stop()  # the first incarnation is already gone when the supervisor gets it
        made.append(server)
        return server

    async with Supervisor([ChildSpec("m", make)]) as sup:
        (info,) = await sup.which_children()
        assert (info.state, info.restarts) == (ChildState.RUNNING, 1)
        assert info.server is made[1]
        assert made[1].alive


# --- reports: a crash is logged once ---------------------------------------------------------------


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_crash_is_logged_once_as_a_structured_report(caplog: pytest.LogCaptureFixture) -> None:
    log: EventLog = []
    caplog.set_level(logging.INFO)
    async with Supervisor([worker("a", log)], name="reporting-sup") as sup:
        await crash_child(await server_of(sup, "a"))
        await crash_child(await server_of(sup, "a"))
        await sup.count_children()
    records = error_records(caplog)
    assert len(records) == 2
    first, second = records
    assert first.supervisor == "reporting-sup"  # type: ignore[attr-defined]
    assert first.child_id == "a"  # type: ignore[attr-defined]
    assert isinstance(first.reason.exception, RuntimeError)  # type: ignore[attr-defined]
    # Each report announces a restart and carries its number.
    assert (first.restart_count, second.restart_count) == (1, 2)  # type: ignore[attr-defined]
    assert first.exc_info is not None


@pytest.mark.parametrize("reason", [NORMAL, SHUTDOWN, shutdown("done")], ids=repr)
async def test_normal_and_shutdown_exits_are_not_logged_as_errors(
    caplog: pytest.LogCaptureFixture, reason: Exit
) -> None:
    log: EventLog = []
    caplog.set_level(logging.DEBUG)
    async with Supervisor([worker("a", log), worker("t", log, restart=Restart.TRANSIENT)]) as sup:
        await crash_child(await server_of(sup, "a"), reason)
        await crash_child(await server_of(sup, "t"), reason)
        await sup.count_children()
    assert error_records(caplog) == []
    # The permanent child's restart is still reported, as a warning; the transient one is not restarted.
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [(r.child_id, r.restart_count) for r in warnings] == [("a", 1)]  # type: ignore[attr-defined]


# --- telemetry ---------------------------------------------------------------------------------------


async def test_exit_and_restart_emit_telemetry() -> None:
    log: EventLog = []
    events = (
        ("supervisor", "child", "exit"),
        ("supervisor", "child", "restart"),
        ("supervisor", "child", "start"),
    )
    async with Supervisor([worker("a", log)], strategy=Strategy.REST_FOR_ONE) as sup:
        with telemetry.capture(*events) as seen:
            await crash_child(await server_of(sup, "a"))
            await sup.count_children()
    assert [c.event[-1] for c in seen] == ["exit", "restart", "start"]
    exit_event, restart_event, start_event = seen
    assert exit_event.metadata["child_id"] == "a"
    assert isinstance(exit_event.metadata["reason"], Exit)
    assert exit_event.measurements == {"restarts": 0}
    assert restart_event.metadata["strategy"] == "rest_for_one"
    assert restart_event.measurements == {"restarts": 1, "intensity_left": sup.flags.intensity - 1}
    assert start_event.measurements == {"restarts": 1}
    assert {c.metadata["supervisor"] for c in seen} == {sup.label}
