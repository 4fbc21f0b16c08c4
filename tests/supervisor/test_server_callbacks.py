"""Idle timeouts, introspection and telemetry of ``Server`` (docs/otp-conformance.md#servers, OTP gen_server).

Groups: the idle timeout (``timeout_after`` → ``TIMEOUT`` in ``handle_info``), the default callbacks,
``statistics()``, the ``("server", "start")`` and ``("server", "exit")`` telemetry events.
``:hibernate`` has no counterpart: in Python it would be a no-op (docs/otp-conformance.md#servers).
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from supervisor import telemetry
from supervisor._exits import KILLED, NORMAL, ExitKind, shutdown
from supervisor._server import NOREPLY, TIMEOUT, Caller, Server, ServerStatistics, Stop
from supervisor.errors import StartFailed

START = ("server", "start")
EXIT = ("server", "exit")

# The idle timeouts below are real time (the loop's timers): short, and awaited only where the test
# waits for the timeout itself.
IDLE = 0.01
LONGER_THAN_IDLE = 0.1


class Idle(Server):
    """Arms ``timeout_after(idle)`` in init; ``rearm`` times re-arms it on each ``TIMEOUT``.

    ``queue_first`` sends itself a message during init, so one is waiting when the timeout would start.
    """

    async def init(self, idle: float | None = IDLE, *, queue_first: bool = False, rearm: int = 0) -> None:
        self.log: list[object] = []
        self.rearm = rearm
        self.timed_out = asyncio.Event()
        self.timeout_after(idle)
        if queue_first:
            self.send("queued")

    async def handle_call(self, request: object, caller: Caller) -> object:
        if request == "log":
            return list(self.log)
        return request

    async def handle_info(self, message: object) -> None:
        self.log.append(message)
        if message is TIMEOUT:
            if self.rearm:
                self.rearm -= 1
                self.timeout_after(IDLE)
            else:
                self.timed_out.set()


async def no_timeout_within(server: Idle, seconds: float) -> None:
    """Wait ``seconds`` (several idle periods) for a ``TIMEOUT`` that must not come."""
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(seconds):
            await server.timed_out.wait()


# --- the idle timeout ------------------------------------------------------------------------------


async def test_an_idle_timeout_delivers_timeout_to_handle_info() -> None:
    server = await Idle.start()
    async with asyncio.timeout(5):
        await server.timed_out.wait()
    assert await server.call("log") == [TIMEOUT]
    await server.stop()


async def test_an_idle_timeout_is_ignored_when_a_message_is_already_waiting() -> None:
    server = await Idle.start(queue_first=True)
    await no_timeout_within(server, LONGER_THAN_IDLE)
    assert await server.call("log") == ["queued"]
    await server.stop()


async def test_an_idle_timeout_fires_once_unless_the_callback_arms_it_again() -> None:
    server = await Idle.start(rearm=2)
    async with asyncio.timeout(5):
        await server.timed_out.wait()
    assert await server.call("log") == [TIMEOUT, TIMEOUT, TIMEOUT]
    server.timed_out.clear()
    await no_timeout_within(server, LONGER_THAN_IDLE)
    await server.stop()


async def test_timeout_after_none_disarms_the_idle_timeout() -> None:
    server = await Idle.start(None)
    await no_timeout_within(server, LONGER_THAN_IDLE)
    assert await server.call("log") == []
    await server.stop()


# --- the default callbacks -------------------------------------------------------------------------


async def test_the_default_handle_info_ignores_messages() -> None:
    server = await Server.start()
    server.send("unexpected")
    server.send(("any", "term"))
    assert await server.stop() == NORMAL
    assert server.statistics().infos == 2


async def test_the_default_init_and_terminate_do_nothing() -> None:
    server = await Server.start()
    assert server.alive
    assert await server.stop(shutdown("bye")) == shutdown("bye")


# --- statistics ------------------------------------------------------------------------------------


class Busy(Server):
    """Counts nothing itself: the statistics do. ``hold`` blocks the mailbox until ``gate`` is set."""

    async def init(self) -> None:
        self.gate = asyncio.Event()
        self.holding = asyncio.Event()
        self.deferred: list[Caller] = []

    async def handle_call(self, request: object, caller: Caller) -> object:
        if request == "defer":
            self.deferred.append(caller)
            return NOREPLY
        return request

    async def handle_cast(self, message: object) -> None:
        if message == "hold":
            self.holding.set()
            await self.gate.wait()
        elif message == "stop":
            raise Stop(shutdown("done"))


async def test_statistics_is_a_frozen_snapshot() -> None:
    server = await Busy.start(name="test_server_callbacks.stats")
    stats = server.statistics()
    assert isinstance(stats, ServerStatistics)
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.calls = 1  # type: ignore[misc]
    await server.call("x")
    assert stats.calls == 0  # a snapshot: later activity does not change it
    assert server.statistics().calls == 1
    await server.stop()


async def test_statistics_counts_handled_messages_by_kind() -> None:
    server = await Busy.start()
    for _ in range(3):
        await server.call("x")
    server.cast("ignored")
    server.cast("ignored")
    server.send("info")
    await server.call("sync")
    stats = server.statistics()
    assert (stats.calls, stats.casts, stats.infos) == (4, 2, 1)
    await server.stop()


async def test_statistics_reports_the_mailbox_depth_of_a_busy_server() -> None:
    server = await Busy.start()
    server.cast("hold")
    await server.holding.wait()
    server.cast("a")
    server.send("b")
    server.cast("c")
    assert server.statistics().mailbox_depth == 3
    server.gate.set()
    await server.call("sync")
    assert server.statistics().mailbox_depth == 0
    await server.stop()


async def test_statistics_counts_pending_deferred_replies() -> None:
    server = await Busy.start()
    calls = [asyncio.create_task(server.call("defer")) for _ in range(2)]
    await server.call("sync")  # both deferring calls were handled before this one
    assert server.statistics().pending_replies == 2
    server.deferred[0].reply("one")
    assert await calls[0] == "one"
    assert server.statistics().pending_replies == 1
    server.deferred[1].reply("two")
    assert await calls[1] == "two"
    assert server.statistics().pending_replies == 0
    await server.stop()


async def test_statistics_of_a_running_and_of_an_exited_server() -> None:
    server = await Busy.start(name="test_server_callbacks.exited")
    running = server.statistics()
    assert running.name == "test_server_callbacks.exited"
    assert running.alive
    assert running.exit_reason is None
    assert running.uptime >= 0
    server.cast("stop")
    await server.wait()
    exited = server.statistics()
    assert not exited.alive
    assert exited.exit_reason == shutdown("done")
    assert exited.uptime >= running.uptime


async def test_the_uptime_of_an_exited_server_stops_at_its_exit() -> None:
    with telemetry.capture(EXIT) as seen:
        server = await Busy.start()
        await server.stop()
    lifetime = seen[0].measurements["uptime"]
    assert server.statistics().uptime == lifetime
    assert server.statistics().uptime == lifetime  # and stays there


def test_statistics_of_a_server_never_started() -> None:
    stats = Busy().statistics()
    assert (stats.alive, stats.uptime, stats.exit_reason, stats.name) == (False, 0.0, None, None)


# --- telemetry -------------------------------------------------------------------------------------


async def test_start_and_stop_emit_server_start_and_server_exit() -> None:
    with telemetry.capture(START, EXIT) as seen:
        server = await Busy.start(name="test_server_callbacks.telemetry")
        assert [c.event for c in seen] == [START]
        assert seen[0].metadata == {"server": server, "name": "test_server_callbacks.telemetry"}
        await server.stop(shutdown("bye"))
    assert [c.event for c in seen] == [START, EXIT]
    exit_event = seen[1]
    assert exit_event.metadata == {
        "server": server,
        "name": "test_server_callbacks.telemetry",
        "reason": shutdown("bye"),
    }
    assert exit_event.measurements["uptime"] >= 0


async def test_a_kill_emits_server_exit_with_killed() -> None:
    with telemetry.capture(EXIT) as seen:
        server = await Busy.start()
        server.kill()
        exit_event = await seen.wait(EXIT)
    assert exit_event.metadata["server"] is server
    assert exit_event.metadata["reason"] == KILLED


class FailingInit(Server):
    async def init(self) -> None:
        raise ValueError("no")


async def test_a_failed_init_emits_server_exit_but_no_server_start() -> None:
    with telemetry.capture(START, EXIT) as seen, pytest.raises(StartFailed):
        await FailingInit.start()
    assert [c.event for c in seen] == [EXIT]
    reason = seen[0].metadata["reason"]
    assert getattr(reason, "kind", None) is ExitKind.CRASH
