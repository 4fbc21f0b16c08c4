"""Stopping one child per its shutdown spec (docs/otp-conformance.md#shutdown), and the unkillable child.

``BRUTAL_KILL`` cancels at once (no ``terminate``); a number of seconds asks first, then kills; ``INFINITY``
waits. An unexpected exit reason is reported as ``shutdown_error``. A child that swallows cancellation is
abandoned after its timeout plus ``kill_grace``: reported as the offender, and the supervisor carries on.
Shutdown timeouts are real seconds, kept tiny, and used only where the test waits on the timeout itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from supervisor import (
    KILLED,
    NORMAL,
    SHUTDOWN,
    ChildSpec,
    ChildState,
    Exit,
    ExitKind,
    Restart,
    Shutdown,
    Stop,
    Strategy,
    Supervisor,
    telemetry,
    whereis,
)
from tests.supervisor.test_supervisor_support import (
    EventLog,
    Stubborn,
    StubbornWorker,
    Worker,
    by_id,
    ids,
    server_of,
    worker,
)


class SlowStop(Worker):
    """Takes ``delay`` seconds of real time to clean up in ``terminate``."""

    async def init(self, log: EventLog, label: str, delay: float) -> None:  # type: ignore[override]
        await super().init(log, label)
        self.delay = delay

    async def terminate(self, reason: Exit) -> None:
        await asyncio.sleep(self.delay)  # the cleanup itself, not synchronisation
        await super().terminate(reason)


class FailingStop(Worker):
    async def terminate(self, reason: Exit) -> None:
        raise RuntimeError("cleanup failed")


class HangingStop(Worker):
    """Its ``terminate`` sets ``entered``, then waits until it is cancelled."""

    async def init(self, log: EventLog, label: str, entered: asyncio.Event) -> None:  # type: ignore[override]
        await super().init(log, label)
        self.entered = entered

    async def terminate(self, reason: Exit) -> None:
        self.entered.set()
        await asyncio.Event().wait()


def shutdown_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "shutdown_error" in r.getMessage()]


async def test_brutal_kill_cancels_without_running_terminate(caplog: pytest.LogCaptureFixture) -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log), worker("k", log, shutdown=Shutdown.BRUTAL_KILL)]) as sup:
        killed = await server_of(sup, "k")
    assert killed.exit_reason == KILLED
    assert ids(log, "stop") == ["a"]  # k's terminate never ran
    assert shutdown_errors(caplog) == []  # killed is the expected reason under brutal_kill


async def test_timeout_shutdown_lets_terminate_run(caplog: pytest.LogCaptureFixture) -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log, shutdown=2)]) as sup:
        child = await server_of(sup, "a")
    assert child.exit_reason == SHUTDOWN
    assert ids(log, "stop") == ["a"]
    assert shutdown_errors(caplog) == []


async def test_a_child_slower_than_its_timeout_is_killed_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: EventLog = []
    spec = ChildSpec("slow", SlowStop, args=(log, "slow", 30.0), shutdown=0.02)
    async with asyncio.timeout(10), Supervisor([spec]) as sup:
        child = await server_of(sup, "slow")
    assert child.exit_reason == KILLED
    assert ids(log, "stop") == []
    (report,) = shutdown_errors(caplog)
    assert report.child_id == "slow"  # type: ignore[attr-defined]
    assert report.reason == KILLED  # type: ignore[attr-defined]


async def test_infinity_waits_for_a_slow_terminate() -> None:
    log: EventLog = []
    spec = ChildSpec("slow", SlowStop, args=(log, "slow", 0.05), shutdown=Shutdown.INFINITY)
    async with Supervisor([spec], kill_grace=0) as sup:
        child = await server_of(sup, "slow")
    assert child.exit_reason == SHUTDOWN
    assert ids(log, "stop") == ["slow"]


async def test_an_unexpected_stop_reason_is_a_shutdown_error_and_stopping_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: EventLog = []
    specs = [worker("a", log), ChildSpec("bad", FailingStop, args=(log, "bad")), worker("c", log)]
    async with Supervisor(specs) as sup:
        bad = await server_of(sup, "bad")
    assert bad.exit_reason is not None
    assert bad.exit_reason.kind is ExitKind.CRASH
    assert ids(log, "stop") == ["c", "a"]
    (report,) = shutdown_errors(caplog)
    assert report.child_id == "bad"  # type: ignore[attr-defined]
    assert sup.exit_reason == SHUTDOWN


async def test_killing_a_supervisor_kills_its_children() -> None:
    log: EventLog = []
    sup = await Supervisor.start([worker("a", log), worker("b", log)])
    children = [info.server for info in await sup.which_children()]
    sup.kill()
    assert await sup.wait() == KILLED
    for child in children:
        assert child is not None
        assert await child.wait() == KILLED
    assert ids(log, "stop") == []


async def test_killing_a_supervisor_while_it_stops_a_child_kills_that_child_too() -> None:
    # The child being stopped had already left the supervisor's records when the kill came, so the
    # kill left it running, with its subtree: the daemon's "stop over budget" kills its root so
    # (found by the leak check, test_tree.py::test_a_stop_over_budget_exits_70).
    log: EventLog = []
    entered = asyncio.Event()
    hanging = ChildSpec("hang", HangingStop, args=(log, "hang", entered), shutdown=Shutdown.INFINITY)
    sup = await Supervisor.start([worker("a", log), hanging])
    children = {info.id: info.server for info in await sup.which_children()}
    stopping = asyncio.ensure_future(sup.stop())
    await entered.wait()  # stopping "hang" (the last started, stopped first); "a" is still running
    sup.kill()
    async with asyncio.timeout(10):  # not a measure: without the fix "hang" never exits
        assert await stopping == KILLED
        assert await children["hang"].wait() == KILLED  # type: ignore[union-attr]
        assert await children["a"].wait() == KILLED  # type: ignore[union-attr]


# --- the unkillable child ---------------------------------------------------------------------------


@pytest.fixture
async def stubborn() -> AsyncIterator[Stubborn]:
    """The control of cancellation-swallowing children; they are let go and awaited at teardown, so no
    "Task was destroyed but it is pending" warning escapes."""
    control = Stubborn()
    yield control
    await control.let_go()


async def test_a_child_ignoring_cancellation_is_abandoned_and_the_supervisor_carries_on(
    stubborn: Stubborn, caplog: pytest.LogCaptureFixture
) -> None:
    log: EventLog = []
    specs = [
        worker("a", log),
        ChildSpec("stubborn", StubbornWorker, args=(stubborn,), shutdown=0.01),
        worker("c", log),
    ]
    with telemetry.capture(("supervisor", "child", "abandoned")) as seen:
        async with asyncio.timeout(10), Supervisor(specs, kill_grace=0.01) as sup:
            child = await server_of(sup, "stubborn")
    assert sup.exit_reason == SHUTDOWN
    assert ids(log, "stop") == ["c", "a"]  # the supervisor carried on past the offender
    assert sup.abandoned == ["stubborn"]
    assert stubborn.cancellations >= 1
    assert child.alive  # really still running: asyncio could not kill it
    (event,) = seen
    assert event.metadata == {"supervisor": sup.label, "child_id": "stubborn"}
    (report,) = [r for r in caplog.records if "abandoned" in r.getMessage()]
    assert report.levelno == logging.ERROR
    assert report.offender == "stubborn"  # type: ignore[attr-defined]


async def test_an_abandoned_child_can_be_restarted_under_its_name(stubborn: Stubborn) -> None:
    spec = ChildSpec("stubborn", StubbornWorker, args=(stubborn,), shutdown=0.01, name="stubborn")
    async with asyncio.timeout(10), Supervisor([spec], kill_grace=0.01) as sup:
        old = whereis("stubborn")
        await sup.terminate_child("stubborn")
        assert sup.abandoned == ["stubborn"]
        assert by_id(await sup.which_children())["stubborn"].state is ChildState.UNDEFINED
        new = await sup.restart_child("stubborn")
        assert new is not None
        assert new is not old
        assert whereis("stubborn") is new
        stubborn.release.set()  # let the new one stop normally


class QuitsOnCast(Worker):
    """Stops with ``normal`` when cast to."""

    async def handle_cast(self, message: Any) -> None:
        raise Stop(NORMAL)


@pytest.mark.parametrize(
    ("restart", "reported"),
    [(Restart.PERMANENT, True), (Restart.TRANSIENT, False)],
    ids=["permanent", "transient"],
)
async def test_a_sibling_found_already_gone_normally_is_a_shutdown_error_only_if_permanent(
    caplog: pytest.LogCaptureFixture, restart: Restart, reported: bool
) -> None:
    log: EventLog = []
    specs = [worker("a", log), ChildSpec("q", QuitsOnCast, args=(log, "q"), restart=restart)]
    async with Supervisor(specs, strategy=Strategy.ONE_FOR_ALL) as sup:
        a, q = await server_of(sup, "a"), await server_of(sup, "q")
        # Both exit before the supervisor runs again: a's crash starts the cascade, which finds q gone.
        a.cast("crash")
        q.cast("quit")
        assert await q.wait() == NORMAL
        await sup.count_children()
    assert [r.child_id for r in shutdown_errors(caplog)] == (["q"] if reported else [])  # type: ignore[attr-defined]
