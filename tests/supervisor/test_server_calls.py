"""Calls, casts and replies of ``Server`` (docs/otp-conformance.md#servers, OTP gen_server:call/cast/reply).

Groups: replies, call timeouts and late replies, calling what is not running, a server that exits
during a call, calling oneself, casts, deferred replies (``NOREPLY`` + ``caller.reply``), ``Stop``
from ``handle_call``.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import weakref

import pytest

from supervisor._exits import KILLED, NORMAL, Exit, ExitKind, shutdown
from supervisor._server import DEFAULT_CALL_TIMEOUT, NOREPLY, Caller, Server, Stop
from supervisor.errors import ArbordError, CallingSelf, CallTimeout, NoProc, ServerExited


class Boom(Exception):
    """The crash the test servers raise on purpose."""


class Echo(Server):
    """Replies with the request; records casts and infos in arrival order."""

    async def init(self) -> None:
        self.seen: list[object] = []

    async def handle_call(self, request: object, caller: Caller) -> object:
        if request == "seen":
            return list(self.seen)
        if request == "crash":
            raise Boom("handle_call crashed")
        return request

    async def handle_cast(self, message: object) -> None:
        self.seen.append(("cast", message))

    async def handle_info(self, message: object) -> None:
        self.seen.append(("info", message))


class Gate(Server):
    """``block`` waits in ``handle_call`` until ``gate`` is set, then replies ``late``."""

    async def init(self) -> None:
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def handle_call(self, request: object, caller: Caller) -> object:
        if request == "block":
            self.entered.set()
            await self.gate.wait()
            return "late"
        return request

    async def handle_cast(self, message: object) -> None:
        self.entered.set()
        await self.gate.wait()


class Deferring(Server):
    """``later`` defers its reply; the cast ``("answer", v)`` answers the oldest deferred caller."""

    async def init(self) -> None:
        self.pending: list[Caller] = []
        self.deferred = asyncio.Event()
        self.answered: list[bool] = []

    async def handle_call(self, request: object, caller: Caller) -> object:
        if request == "later":
            self.pending.append(caller)
            self.deferred.set()
            return NOREPLY
        if request == "answered":
            return list(self.answered)
        return request

    async def handle_cast(self, message: object) -> None:
        match message:
            case ("answer", value):
                self.answered.append(self.pending.pop(0).reply(value))
            case ("stop", Exit() as reason):
                raise Stop(reason)


async def deferred_call(server: Deferring, timeout: float | None = None) -> asyncio.Task[object]:
    """Start a ``later`` call and return once the server holds its caller."""
    server.deferred.clear()
    task = asyncio.create_task(server.call("later", timeout))
    await server.deferred.wait()
    return task


# --- replies ---------------------------------------------------------------------------------------


async def test_call_returns_what_handle_call_returned() -> None:
    server = await Echo.start()
    assert await server.call(("any", "term")) == ("any", "term")
    assert await server.call(None) is None
    await server.stop()


async def test_calls_are_answered_in_order_each_with_its_own_reply() -> None:
    server = await Echo.start()
    replies = await asyncio.gather(*(server.call(n) for n in range(20)))
    assert replies == list(range(20))
    await server.stop()


async def test_a_server_without_handle_call_crashes_on_a_call() -> None:
    server = await Server.start()
    with pytest.raises(ServerExited) as exited:
        await server.call("anything")
    assert isinstance(exited.value.reason.exception, NotImplementedError)
    assert await server.wait() == exited.value.reason


# --- call timeouts and late replies ----------------------------------------------------------------


def test_the_default_call_timeout_is_five_seconds() -> None:
    assert DEFAULT_CALL_TIMEOUT == 5.0
    assert inspect.signature(Server.call).parameters["timeout"].default == DEFAULT_CALL_TIMEOUT


async def test_a_call_without_a_reply_in_time_raises_call_timeout() -> None:
    server = await Deferring.start()
    with pytest.raises(CallTimeout) as timed_out:
        await server.call("later", timeout=0.02)
    assert isinstance(timed_out.value, TimeoutError)
    assert isinstance(timed_out.value, ArbordError)
    assert server.alive  # the caller gave up, the server did not
    await server.stop()


async def test_a_late_reply_from_handle_call_never_reaches_the_next_call() -> None:
    server = await Gate.start()
    with pytest.raises(CallTimeout):
        await server.call("block", timeout=0.02)
    server.gate.set()  # handle_call now returns "late" to a caller that is gone
    assert await server.call("next") == "next"
    await server.stop()


async def test_a_late_deferred_reply_is_dropped_and_reported_undelivered() -> None:
    server = await Deferring.start()
    with pytest.raises(CallTimeout):
        await server.call("later", timeout=0.02)
    server.cast(("answer", "late"))
    assert await server.call("next") == "next"
    assert await server.call("answered") == [False]
    await server.stop()


async def test_timeout_none_waits_for_the_reply() -> None:
    server = await Deferring.start()
    call = await deferred_call(server, timeout=None)
    server.cast(("answer", "eventually"))
    assert await call == "eventually"
    await server.stop()


async def test_a_negative_call_timeout_is_rejected() -> None:
    server = await Echo.start()
    with pytest.raises(ValueError, match="non-negative"):
        await server.call("x", timeout=-1)
    assert await server.call("seen") == []  # the rejected request never reached the server
    await server.stop()


# --- calling what is not running -------------------------------------------------------------------


async def test_calling_a_server_that_was_never_started_raises_noproc() -> None:
    with pytest.raises(NoProc, match="not running"):
        await Echo().call("x")


async def test_calling_a_stopped_server_raises_noproc() -> None:
    server = await Echo.start()
    await server.stop()
    with pytest.raises(NoProc):
        await server.call("x")


async def test_calling_a_killed_server_raises_noproc() -> None:
    server = await Echo.start()
    server.kill()
    assert await server.wait() == KILLED
    with pytest.raises(NoProc):
        await server.call("x")


# --- a server that exits during a call -------------------------------------------------------------


async def test_a_crash_in_handle_call_makes_the_call_raise_server_exited_with_the_crash() -> None:
    server = await Echo.start()
    with pytest.raises(ServerExited) as exited:
        await server.call("crash")
    reason = exited.value.reason
    assert reason.kind is ExitKind.CRASH
    assert isinstance(reason.exception, Boom)
    assert server.exit_reason == reason


async def test_a_server_killed_during_a_call_makes_the_call_raise_with_killed() -> None:
    server = await Gate.start()
    call = asyncio.create_task(server.call("block"))
    await server.entered.wait()
    server.kill()
    with pytest.raises(ServerExited) as exited:
        await call
    assert exited.value.reason == KILLED


async def test_calls_still_queued_when_the_server_dies_raise_server_exited() -> None:
    server = await Gate.start()
    server.cast("block the mailbox")
    await server.entered.wait()
    queued = [asyncio.create_task(server.call(n)) for n in range(3)]
    await asyncio.sleep(0)  # one loop turn: each call task has now put its request in the mailbox
    assert server.statistics().mailbox_depth == 3
    server.kill()
    for task in queued:
        with pytest.raises(ServerExited) as exited:
            await task
        assert exited.value.reason == KILLED


async def test_deferred_callers_learn_the_exit_reason_when_the_server_stops() -> None:
    server = await Deferring.start()
    first = await deferred_call(server)
    second = await deferred_call(server)
    server.cast(("stop", shutdown("maintenance")))
    for task in (first, second):
        with pytest.raises(ServerExited) as exited:
            await task
        assert exited.value.reason == shutdown("maintenance")


# --- calling oneself -------------------------------------------------------------------------------


class SelfCaller(Server):
    async def handle_call(self, request: object, caller: Caller) -> object:
        if request == "call myself":
            try:
                await self.call("anything", timeout=None)
            except CallingSelf as error:
                return error
        return request


async def test_a_server_calling_itself_raises_calling_self_instead_of_deadlocking() -> None:
    server = await SelfCaller.start()
    error = await server.call("call myself")
    assert isinstance(error, CallingSelf)
    assert server.alive
    await server.stop()


# --- casts -----------------------------------------------------------------------------------------


async def test_cast_returns_at_once_and_is_handled_in_order_with_calls() -> None:
    server = await Echo.start()
    assert server.cast("a") is None  # type: ignore[func-returns-value]
    server.send("b")
    server.cast("c")
    assert await server.call("seen") == [("cast", "a"), ("info", "b"), ("cast", "c")]
    await server.stop()


async def test_cast_and_send_to_a_dead_server_return_without_error() -> None:
    server = await Echo.start()
    await server.stop()
    server.cast("into the void")
    server.send("into the void")
    assert server.statistics().mailbox_depth == 0
    assert server.exit_reason == NORMAL


def test_cast_to_a_server_that_was_never_started_returns() -> None:
    Echo().cast("nobody home")


async def test_a_server_without_handle_cast_crashes_on_a_cast() -> None:
    server = await Server.start()
    server.cast("anything")
    reason = await server.wait()
    assert isinstance(reason.exception, NotImplementedError)


# --- deferred replies ------------------------------------------------------------------------------


async def test_noreply_defers_the_reply_to_caller_reply() -> None:
    server = await Deferring.start()
    call = await deferred_call(server)
    assert not call.done()
    assert server.statistics().pending_replies == 1
    server.cast(("answer", "done"))
    assert await call == "done"
    assert await server.call("answered") == [True]
    assert server.statistics().pending_replies == 0
    await server.stop()


async def test_deferred_callers_can_be_answered_in_any_order() -> None:
    server = await Deferring.start()
    first = await deferred_call(server)
    second = await deferred_call(server)
    server.pending.reverse()
    server.cast(("answer", "to second"))
    server.cast(("answer", "to first"))
    assert await first == "to first"
    assert await second == "to second"
    await server.stop()


async def test_caller_reply_works_from_outside_the_server() -> None:
    server = await Deferring.start()
    call = await deferred_call(server)
    caller = server.pending.pop()
    waiting = [caller.waiting]
    assert caller.reply("from a task")
    waiting.append(caller.waiting)
    assert waiting == [True, False]
    assert not caller.reply("twice")  # a second reply is dropped
    assert await call == "from a task"
    await server.stop()


async def test_the_server_keeps_serving_while_a_reply_is_deferred() -> None:
    server = await Deferring.start()
    call = await deferred_call(server)
    assert await server.call("meanwhile") == "meanwhile"
    server.cast(("answer", "finally"))
    assert await call == "finally"
    await server.stop()


class Payload:
    """A reply whose lifetime the test can observe."""


async def test_an_answered_deferred_call_is_not_retained_by_the_server() -> None:
    server = await Deferring.start()
    payload = Payload()
    alive = weakref.ref(payload)
    call = await deferred_call(server)
    server.cast(("answer", payload))
    assert await call is payload
    assert await server.call("next") == "next"  # the server's loop moved on from the cast
    del call, payload
    gc.collect()
    assert alive() is None
    await server.stop()


# --- Stop from handle_call -------------------------------------------------------------------------


class Stopping(Server):
    async def init(self) -> None:
        self.terminated: list[Exit] = []

    async def handle_call(self, request: object, caller: Caller) -> object:
        match request:
            case ("stop with reply", Exit() as reason, reply):
                raise Stop(reason, reply=reply)
            case ("stop", Exit() as reason):
                raise Stop(reason)
        return request

    async def terminate(self, reason: Exit) -> None:
        self.terminated.append(reason)


async def test_stop_with_reply_answers_the_caller_then_stops() -> None:
    server = await Stopping.start()
    assert await server.call(("stop with reply", shutdown("done"), "bye")) == "bye"
    assert await server.wait() == shutdown("done")
    assert server.terminated == [shutdown("done")]


async def test_stop_without_reply_makes_the_call_raise_with_the_reason() -> None:
    server = await Stopping.start()
    with pytest.raises(ServerExited) as exited:
        await server.call(("stop", NORMAL))
    assert exited.value.reason == NORMAL
    assert server.terminated == [NORMAL]
