"""A child's ``start_timeout``: a start that never finishes fails instead of wedging its supervisor
(docs/otp-conformance.md#start-timeouts, arbord's departure from OTP; issue 12, item 4).

Each case would hang forever without the timeout; ``asyncio.timeout(10)`` turns that hang into a
failure rather than measuring anything.
"""

from __future__ import annotations

import asyncio
import math

import pytest

from supervisor import (
    ChildSpec,
    ChildState,
    DynamicSupervisor,
    Server,
    StartFailed,
    Supervisor,
    SupervisorFlags,
    telemetry,
    whereis,
)
from supervisor.errors import InvalidChildSpec
from supervisor.testing import wait_for_events

TIMEOUT = 0.05  # the start_timeout under test: a parameter, not a measurement
ABANDONED = ("supervisor", "child", "abandoned")
FLAGS = SupervisorFlags(intensity=100, period=5.0, kill_grace=0.05)


class Hanging(Server):
    """A server whose ``init`` never returns."""

    async def init(self) -> None:
        await asyncio.Event().wait()


class Deaf(Server):
    """A server whose ``init`` never returns and swallows cancellation (until ``release`` is set)."""

    async def init(self, release: asyncio.Event) -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue


class HangsOnce(Server):
    """Starts at once, except incarnation ``hang_at`` (counted in ``births``), whose init never returns."""

    async def init(self, births: list[int], hang_at: int, running: asyncio.Event) -> None:
        births.append(len(births) + 1)
        if len(births) == hang_at:
            await asyncio.Event().wait()
        running.set()


async def hanging_factory() -> Server:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def test_start_timeout_is_validated_when_the_spec_is_made() -> None:
    for bad in (0, -1.0, math.nan, math.inf, True, "5"):
        with pytest.raises(InvalidChildSpec, match="start_timeout"):
            ChildSpec("c", Server, start_timeout=bad)  # type: ignore[arg-type]
    assert ChildSpec("c", Server, start_timeout=2).start_timeout == 2
    assert ChildSpec("c", Server).start_timeout is None


async def test_a_start_that_outlasts_its_timeout_fails_the_supervisors_start() -> None:
    spec = ChildSpec("slow", Hanging, start_timeout=TIMEOUT, name="st-slow")
    async with asyncio.timeout(10):
        with pytest.raises(StartFailed) as failed:
            await Supervisor.start([spec], flags=FLAGS)
    assert "did not start within" in str(failed.value)
    assert whereis("st-slow") is None


async def test_start_child_that_outlasts_its_timeout_fails_and_the_supervisor_still_answers() -> None:
    sup = await Supervisor.start([], flags=FLAGS)
    try:
        async with asyncio.timeout(10):
            with pytest.raises(StartFailed, match="did not start within"):
                await sup.start_child(ChildSpec("slow", Hanging, start_timeout=TIMEOUT, name="st-child"))
            assert await sup.which_children() == []
        assert whereis("st-child") is None
    finally:
        await sup.stop()


async def test_a_start_that_ignores_its_cancellation_is_abandoned_and_gives_its_name_up() -> None:
    release = asyncio.Event()
    sup = await DynamicSupervisor.start(flags=FLAGS, name="st-dyn")
    spec = ChildSpec("deaf", Deaf, (release,), start_timeout=TIMEOUT, name="st-deaf")
    try:
        async with asyncio.timeout(10):
            with telemetry.capture(ABANDONED) as abandoned, pytest.raises(StartFailed, match="within"):
                await sup.start_child(spec)
            assert [c.metadata for c in abandoned] == [{"supervisor": "st-dyn", "child_id": "deaf"}]
            assert whereis("st-deaf") is None
            assert (await sup.count_children()).active == 0
            # Released, the abandoned server finishes its init and runs on, nobody's child: stop it,
            # or it outlived the test (the leak check of supervisor.testing found it).
            with telemetry.capture(("server", "start")) as started:
                release.set()
                [start] = await wait_for_events(started, [("server", "start")], timeout=5.0)
            deaf = start.metadata["server"]
            assert isinstance(deaf, Deaf)
            await deaf.stop()
    finally:
        release.set()
        await sup.stop()


async def test_a_start_function_that_outlasts_its_timeout_fails() -> None:
    sup = await Supervisor.start([], flags=FLAGS)
    try:
        async with asyncio.timeout(10):
            with pytest.raises(StartFailed, match="did not start within"):
                await sup.start_child(ChildSpec("factory", hanging_factory, start_timeout=TIMEOUT))
    finally:
        await sup.stop()


async def test_a_restart_that_outlasts_its_timeout_is_retried_and_the_mailbox_is_released() -> None:
    births: list[int] = []
    running = asyncio.Event()
    spec = ChildSpec("flaky", HangsOnce, (births, 2, running), start_timeout=TIMEOUT, name="st-flaky")
    sup = await Supervisor.start([spec], flags=FLAGS)
    try:
        first = whereis("st-flaky")
        assert first is not None
        running.clear()
        first.kill()  # incarnation 2 hangs in init; 3 starts
        async with asyncio.timeout(10):
            await running.wait()
            [info] = await sup.which_children()
        assert births == [1, 2, 3]
        assert info.state is ChildState.RUNNING
        assert info.server is whereis("st-flaky")
    finally:
        await sup.stop()
