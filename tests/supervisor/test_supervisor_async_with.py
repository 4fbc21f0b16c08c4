"""``async with supervisor:`` as a ``TaskGroup`` is: a supervisor that gives up cancels the body and
the exit raises (docs/supervision.md, "async with"; docs/otp-conformance.md#intensity).

Giving up is reaching the maximum restart intensity (directly, or because a child supervisor's own
escalation was one restart too many) or exiting abnormally (killed, crashed). A body that ends,
raises or is cancelled first stops the supervisor as it always did, and what it raised goes on. A
deliberate stop (auto_shutdown, someone's ``stop``) is not giving up: the body is left alone.
"""

from __future__ import annotations

import asyncio

import pytest

from supervisor import (
    KILLED,
    NORMAL,
    SHUTDOWN,
    AutoShutdown,
    DynamicSupervisor,
    Exit,
    Restart,
    Supervisor,
)
from supervisor.errors import SupervisorGaveUp
from supervisor.lowlevel import add_exit_callback
from tests.supervisor.test_supervisor_support import EventLog, crash_child, ids, server_of, worker


async def forever(cancelled: list[str]) -> None:
    """Wait until cancelled, noting the cancellation in ``cancelled``."""
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        cancelled.append("body")
        raise


# --- the supervisor gives up first -----------------------------------------------------------------


async def test_a_supervisor_past_its_intensity_cancels_the_body_and_the_exit_raises() -> None:
    log: EventLog = []
    cancelled: list[str] = []
    sup = Supervisor([worker("a", log), worker("b", log)], intensity=0, name="fragile")

    async def body() -> None:
        async with sup:
            (await server_of(sup, "a")).cast("crash")  # crashes once the body waits below
            await forever(cancelled)

    with pytest.raises(SupervisorGaveUp) as caught:
        await body()
    assert cancelled == ["body"]
    assert caught.value.reason == SHUTDOWN
    assert caught.value.child_id == "a"
    assert "supervisor fragile gave up: reached max restart intensity (0 in 5 s) restarting 'a'" in str(
        caught.value
    )
    assert caught.value.__cause__ is None  # our own cancellation is not shown as a cause
    assert ids(log, "stop") == ["b"]  # the children were stopped by the supervisor as it gave up
    # The cancellation was the supervisor's, and is taken back: this task is not left cancelling.
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_a_dynamic_supervisor_past_its_intensity_cancels_the_body_too() -> None:
    log: EventLog = []
    cancelled: list[str] = []
    sup = DynamicSupervisor(intensity=0)

    async def body() -> None:
        async with sup:
            child = await sup.start_child(worker("a", log))
            assert child is not None
            child.cast("crash")
            await forever(cancelled)

    with pytest.raises(SupervisorGaveUp) as caught:
        await body()
    assert cancelled == ["body"]
    assert caught.value.reason == SHUTDOWN
    assert str(caught.value).startswith(f"dynamic supervisor {sup.label} gave up: reached max restart")


async def test_a_child_supervisors_escalation_that_exhausts_the_parent_cancels_the_body() -> None:
    log: EventLog = []
    cancelled: list[str] = []
    inner = Supervisor.child_spec([worker("w", log)], id="inner", intensity=0)
    sup = Supervisor([inner], intensity=0)

    async def body() -> None:
        async with sup:
            inner_sup = await server_of(sup, "inner")
            (await server_of(inner_sup, "w")).cast("crash")  # inner gives up; restarting it is too many
            await forever(cancelled)

    with pytest.raises(SupervisorGaveUp) as caught:
        await body()
    assert cancelled == ["body"]
    assert caught.value.child_id == "inner"


async def test_a_supervisor_killed_while_the_body_runs_cancels_it_and_the_exit_raises_killed() -> None:
    cancelled: list[str] = []
    sup = Supervisor([worker("a", [])])

    async def body() -> None:
        async with sup:
            sup.kill()
            await forever(cancelled)

    with pytest.raises(SupervisorGaveUp) as caught:
        await body()
    assert cancelled == ["body"]
    assert caught.value.reason == KILLED
    assert caught.value.child_id is None


async def test_what_the_body_raises_after_the_cancellation_is_the_cause_of_the_exits_error() -> None:
    log: EventLog = []
    sup = Supervisor([worker("a", log)], intensity=0)

    async def body() -> None:
        async with sup:
            (await server_of(sup, "a")).cast("crash")  # crashes once the body waits below
            try:
                await asyncio.Event().wait()
            finally:
                raise RuntimeError("cleanup failed")  # what a careless body does

    with pytest.raises(SupervisorGaveUp) as caught:
        await body()
    assert isinstance(caught.value.__cause__, RuntimeError)


async def test_a_body_that_swallows_the_cancellation_still_gets_the_error_at_the_exit() -> None:
    log: EventLog = []
    sup = Supervisor([worker("a", log)], intensity=0)

    async def body() -> None:
        async with sup:
            (await server_of(sup, "a")).cast("crash")
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                pass

    with pytest.raises(SupervisorGaveUp):
        await body()
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_a_body_cancelled_from_outside_stays_cancelled_when_the_supervisor_gives_up() -> None:
    cancelled: list[str] = []
    entered = asyncio.Event()
    sup = Supervisor([worker("a", [])])

    async def body() -> None:
        async with sup:
            entered.set()
            await forever(cancelled)

    task = asyncio.create_task(body())
    await entered.wait()

    # Run after the supervisor's own exit callback (which asks for the body's cancellation) and before
    # the body next runs: someone else cancels it too, and theirs must go on, not become
    # SupervisorGaveUp.
    def cancel_too(reason: Exit) -> None:
        task.cancel()

    add_exit_callback(sup, cancel_too)
    sup.kill()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled == ["body"]
    assert task.cancelled()
    assert sup.exit_reason == KILLED


# --- the body ends first, or the supervisor stops deliberately -------------------------------------


async def test_a_normal_end_of_the_body_stops_the_supervisor_quietly() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log), worker("b", log)]) as sup:
        pass
    assert sup.exit_reason == SHUTDOWN
    assert ids(log, "stop") == ["b", "a"]


async def test_an_exception_in_the_body_stops_the_supervisor_and_goes_on() -> None:
    log: EventLog = []
    sup = Supervisor([worker("a", log)])
    with pytest.raises(ValueError, match="from the body"):
        async with sup:
            raise ValueError("from the body")
    assert sup.exit_reason == SHUTDOWN
    assert ids(log, "stop") == ["a"]


async def test_a_body_cancelled_from_outside_stops_the_supervisor_and_stays_cancelled() -> None:
    cancelled: list[str] = []
    entered = asyncio.Event()
    sup = Supervisor([worker("a", [])])

    async def body() -> None:
        async with sup:
            entered.set()
            await forever(cancelled)

    task = asyncio.create_task(body())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sup.exit_reason == SHUTDOWN


async def test_an_auto_shutdown_while_the_body_runs_is_not_giving_up() -> None:
    log: EventLog = []
    significant = worker("s", log, restart=Restart.TRANSIENT, significant=True)
    async with Supervisor([significant], auto_shutdown=AutoShutdown.ANY_SIGNIFICANT) as sup:
        await crash_child(await server_of(sup, "s"), NORMAL)
        assert await sup.wait() == SHUTDOWN  # the body goes on, and the exit raises nothing
    assert sup.exit_reason == SHUTDOWN


async def test_a_supervisor_stopped_by_someone_else_leaves_the_body_alone() -> None:
    async with Supervisor([worker("a", [])]) as sup:
        await asyncio.create_task(sup.stop())
        assert not sup.alive
    assert sup.exit_reason == NORMAL
