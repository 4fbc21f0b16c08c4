"""Starting, continuing, stopping and killing a ``Server`` (docs/otp-conformance.md#servers, OTP gen_server).

Groups: init's outcomes (ok, ``Ignore``, ``Stop``, crash), ``continue_with``/``handle_continue``,
``stop`` (queued messages first, reason, timeout), when ``terminate`` runs and when it does not,
``kill``.
"""

from __future__ import annotations

import asyncio

import pytest

from supervisor import _runtime as runtime
from supervisor._exits import KILLED, NORMAL, SHUTDOWN, Exit, ExitKind, crash, shutdown
from supervisor._server import Caller, Ignore, Server, Stop
from supervisor.errors import CallingSelf, CallTimeout, InitIgnored, NoProc, StartFailed


class Boom(Exception):
    """The crash the test servers raise on purpose."""


class Recorder(Server):
    """Logs every callback; ``init(mode)`` chooses how init ends; messages can stop or crash it.

    A cast or info ``("stop", reason)`` raises ``Stop(reason)``, ``"crash"`` raises ``Boom``,
    ``("continue", arg)`` asks for ``handle_continue(arg)``; ``hold`` blocks until ``gate`` is set.
    ``terminating`` is set when terminate starts; a ``gate_terminate`` event, if given, holds it.
    """

    async def init(self, mode: str = "ok", log: list[str] | None = None) -> None:
        self.log = [] if log is None else log
        self.gate = asyncio.Event()
        self.holding = asyncio.Event()
        self.terminating = asyncio.Event()
        self.gate_terminate: asyncio.Event | None = None
        self.log.append(f"init:{mode}")
        if mode == "ignore":
            raise Ignore
        if mode == "stop":
            raise Stop(shutdown("refused"))
        if mode == "crash":
            raise Boom("init crashed")
        if mode == "continue":
            self.send("queued during init")
            self.continue_with("after init")

    async def handle_call(self, request: object, caller: Caller) -> object:
        if request == "log":
            return list(self.log)
        if request == "stop myself":
            try:
                await self.stop()
            except CallingSelf as error:
                return error
        return request

    async def handle_cast(self, message: object) -> None:
        self.log.append(f"cast:{message}")
        await self._act(message)

    async def handle_info(self, message: object) -> None:
        self.log.append(f"info:{message}")
        await self._act(message)

    async def handle_continue(self, arg: object) -> None:
        self.log.append(f"continue:{arg}")
        await self._act(arg)

    async def _act(self, message: object) -> None:
        match message:
            case ("stop", Exit() as reason):
                raise Stop(reason)
            case "crash":
                raise Boom("callback crashed")
            case ("continue", arg):
                self.continue_with(arg)
            case "hold":
                self.holding.set()
                await self.gate.wait()

    async def terminate(self, reason: Exit) -> None:
        self.log.append(f"terminate:{reason!r}")
        self.terminating.set()
        if self.gate_terminate is not None:
            await self.gate_terminate.wait()


# --- init's outcomes -------------------------------------------------------------------------------


async def test_start_returns_a_running_server_once_init_has_run() -> None:
    server = await Recorder.start()
    assert server.alive
    assert server.exit_reason is None
    assert server.task is not None
    assert not server.task.done()
    assert server.log == ["init:ok"]
    await server.stop()


async def test_init_receives_start_arguments() -> None:
    log: list[str] = []
    server = await Recorder.start("ok", log=log)
    assert server.log is log
    await server.stop()


async def test_an_instance_starts_only_once() -> None:
    server = await Recorder.start()
    with pytest.raises(RuntimeError, match="already started"):
        await server._boot((), {}, None)
    await server.stop()


async def test_init_raising_ignore_makes_start_raise_init_ignored_without_terminate() -> None:
    log: list[str] = []
    with pytest.raises(InitIgnored):
        await Recorder.start("ignore", log=log)
    assert log == ["init:ignore"]


async def test_init_raising_stop_makes_start_fail_with_the_reason_without_terminate() -> None:
    log: list[str] = []
    with pytest.raises(StartFailed) as failed:
        await Recorder.start("stop", log=log)
    assert failed.value.reason == shutdown("refused")
    assert log == ["init:stop"]


async def test_init_crashing_makes_start_fail_with_the_crash_without_terminate() -> None:
    log: list[str] = []
    with pytest.raises(StartFailed) as failed:
        await Recorder.start("crash", log=log)
    assert failed.value.reason.kind is ExitKind.CRASH
    assert isinstance(failed.value.reason.exception, Boom)
    assert log == ["init:crash"]


class SlowInit(Server):
    entered: asyncio.Event
    release: asyncio.Event

    async def init(self) -> None:
        type(self).entered.set()
        await type(self).release.wait()


async def test_killing_a_server_during_init_fails_its_start_with_killed() -> None:
    SlowInit.entered, SlowInit.release = asyncio.Event(), asyncio.Event()
    starting = asyncio.create_task(SlowInit.start(name="test_server_lifecycle.slow"))
    await SlowInit.entered.wait()
    server = runtime.whereis("test_server_lifecycle.slow")
    assert server is not None
    server.kill()
    with pytest.raises(StartFailed) as failed:
        await starting
    assert failed.value.reason == KILLED
    assert not starting.cancelled()  # the starter itself was not cancelled
    assert runtime.whereis("test_server_lifecycle.slow") is None


async def test_killing_a_server_before_its_task_first_runs_fails_its_start_and_frees_its_name() -> None:
    starting = asyncio.create_task(Recorder.start(name="test_server_lifecycle.unborn"))
    # One loop turn: the starter has registered the name and created the server's task, which has
    # not run yet (there is no event to wait on: init has not started).
    await asyncio.sleep(0)
    server = runtime.whereis("test_server_lifecycle.unborn")
    assert server is not None
    server.kill()
    async with asyncio.timeout(5):
        with pytest.raises(StartFailed) as failed:
            await starting
    assert failed.value.reason == KILLED
    assert server.exit_reason == KILLED
    assert not hasattr(server, "log")  # init never ran
    assert runtime.whereis("test_server_lifecycle.unborn") is None


async def test_cancelling_the_starter_during_init_kills_the_server() -> None:
    SlowInit.entered, SlowInit.release = asyncio.Event(), asyncio.Event()
    starting = asyncio.create_task(SlowInit.start(name="test_server_lifecycle.cancelled"))
    await SlowInit.entered.wait()
    server = runtime.whereis("test_server_lifecycle.cancelled")
    assert server is not None
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    assert await server.wait() == KILLED
    assert runtime.whereis("test_server_lifecycle.cancelled") is None


# --- continue_with / handle_continue ---------------------------------------------------------------


async def test_a_continue_from_init_runs_before_messages_queued_during_init() -> None:
    server = await Recorder.start("continue")
    assert await server.call("log") == [
        "init:continue",
        "continue:after init",
        "info:queued during init",
    ]
    await server.stop()


async def test_a_continue_from_a_callback_runs_before_the_next_queued_message() -> None:
    server = await Recorder.start()
    server.cast(("continue", "first"))
    server.cast("next")
    assert await server.call("log") == [
        "init:ok",
        "cast:('continue', 'first')",
        "continue:first",
        "cast:next",
    ]
    await server.stop()


async def test_handle_continue_can_chain_another_continue() -> None:
    server = await Recorder.start()
    server.cast(("continue", ("continue", "second")))
    server.cast("next")
    log = await server.call("log")
    assert log[1:] == [
        "cast:('continue', ('continue', 'second'))",
        "continue:('continue', 'second')",
        "continue:second",
        "cast:next",
    ]
    await server.stop()


async def test_stop_raised_from_handle_continue_stops_the_server() -> None:
    server = await Recorder.start()
    server.cast(("continue", ("stop", shutdown("from continue"))))
    assert await server.wait() == shutdown("from continue")
    assert server.log[-1] == "terminate:Exit(shutdown: 'from continue')"


# --- stop ------------------------------------------------------------------------------------------


async def test_stop_handles_already_queued_messages_then_runs_terminate() -> None:
    server = await Recorder.start()
    server.cast("a")
    server.send("b")
    assert await server.stop() == NORMAL
    assert server.log == ["init:ok", "cast:a", "info:b", "terminate:Exit(normal)"]
    assert not server.alive
    assert server.exit_reason == NORMAL


async def test_stop_passes_its_reason_to_terminate_and_returns_it() -> None:
    server = await Recorder.start()
    assert await server.stop(shutdown("maintenance")) == shutdown("maintenance")
    assert server.log[-1] == "terminate:Exit(shutdown: 'maintenance')"


async def test_messages_sent_after_stop_are_not_handled() -> None:
    server = await Recorder.start()
    stopping = asyncio.create_task(server.stop())
    await asyncio.sleep(0)  # one loop turn: the stop request is now in the mailbox
    server.cast("too late")
    assert await stopping == NORMAL
    assert "cast:too late" not in server.log


async def test_concurrent_stops_all_return_the_first_reason() -> None:
    server = await Recorder.start()
    first = asyncio.create_task(server.stop(shutdown("first")))
    second = asyncio.create_task(server.stop(shutdown("second")))
    assert await first == shutdown("first")
    assert await second == shutdown("first")
    assert [e for e in server.log if e.startswith("terminate")] == ["terminate:Exit(shutdown: 'first')"]


async def test_stop_of_a_stopped_server_raises_noproc() -> None:
    server = await Recorder.start()
    await server.stop()
    with pytest.raises(NoProc):
        await server.stop()


async def test_stop_of_a_server_that_was_never_started_raises_noproc() -> None:
    with pytest.raises(NoProc):
        await Recorder().stop()


async def test_stop_times_out_while_terminate_runs_and_the_server_still_exits() -> None:
    server = await Recorder.start()
    server.gate_terminate = asyncio.Event()
    with pytest.raises(CallTimeout):
        await server.stop(SHUTDOWN, timeout=0.02)
    assert server.alive  # still in terminate
    server.gate_terminate.set()
    assert await server.wait() == SHUTDOWN


async def test_a_stop_that_timed_out_leaves_no_waiter_behind() -> None:
    server = await Recorder.start()
    server.gate_terminate = asyncio.Event()
    baseline = len(server._exit_callbacks or {})
    for _ in range(3):
        with pytest.raises(CallTimeout):
            await server.stop(SHUTDOWN, timeout=0.01)
    assert len(server._exit_callbacks or {}) == baseline
    kept = server.wait()  # a waiter still waiting keeps its callback, and is answered
    assert len(server._exit_callbacks or {}) == baseline + 1
    server.gate_terminate.set()
    assert await kept == SHUTDOWN


async def test_a_server_stopping_itself_raises_calling_self_instead_of_deadlocking() -> None:
    server = await Recorder.start()
    assert isinstance(await server.call("stop myself"), CallingSelf)
    assert server.alive
    await server.stop()


# --- when terminate runs ---------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["cast", "info"])
async def test_stop_raised_from_a_callback_runs_terminate_with_its_reason(via: str) -> None:
    server = await Recorder.start()
    message = ("stop", shutdown("asked"))
    if via == "cast":
        server.cast(message)
    else:
        server.send(message)
    assert await server.wait() == shutdown("asked")
    assert server.log[-1] == "terminate:Exit(shutdown: 'asked')"


async def test_a_crashing_callback_runs_terminate_with_the_crash() -> None:
    server = await Recorder.start()
    server.cast("crash")
    reason = await server.wait()
    assert reason.kind is ExitKind.CRASH
    assert isinstance(reason.exception, Boom)
    assert server.log[-1] == f"terminate:{reason!r}"


class Fatal(BaseException):
    """Neither an Exception nor a cancellation: what a callback should never raise."""


class RaisesFatal(Server):
    async def init(self, where: str, started: list[Server] | None = None) -> None:
        self.where = where
        self.terminated = False
        if started is not None:
            started.append(self)
        if where == "init":
            raise Fatal("in init")

    async def handle_cast(self, message: object) -> None:
        raise Fatal("in a callback")

    async def terminate(self, reason: Exit) -> None:
        self.terminated = True


async def test_a_base_exception_from_a_callback_is_recorded_then_passed_on() -> None:
    server = await RaisesFatal.start("callback", name="fatal")
    watcher_reason = server.wait()
    server.cast("go")
    reason = await watcher_reason
    assert reason.kind is ExitKind.CRASH
    assert isinstance(reason.exception, Fatal)
    assert runtime.whereis("fatal") is None  # the name is free
    assert not server.terminated  # terminate is not trusted to run
    task = server.task
    assert task is not None
    with pytest.raises(Fatal):
        await task  # and the exception went on up


async def test_a_base_exception_from_init_fails_the_start_and_frees_the_name() -> None:
    started: list[Server] = []
    with pytest.raises(StartFailed) as failed:
        await RaisesFatal.start("init", started, name="fatal-init")
    reason = failed.value.reason
    assert reason is not None
    assert isinstance(reason.exception, Fatal)
    assert runtime.whereis("fatal-init") is None
    task = started[0].task
    assert task is not None
    with pytest.raises(Fatal):
        await task  # and the exception went on up


class BadTerminate(Server):
    async def terminate(self, reason: Exit) -> None:
        raise Boom("terminate crashed")


async def test_a_terminate_that_raises_turns_a_normal_stop_into_a_crash() -> None:
    server = await BadTerminate.start()
    reason = await server.stop()
    assert reason.kind is ExitKind.CRASH
    assert isinstance(reason.exception, Boom)


async def test_a_terminate_that_raises_keeps_an_abnormal_reason() -> None:
    server = await BadTerminate.start()
    original = crash(ValueError("first"))
    assert await server.stop(original) == original


# --- kill ------------------------------------------------------------------------------------------


async def test_kill_exits_with_killed_and_skips_terminate() -> None:
    server = await Recorder.start()
    server.kill()
    assert await server.wait() == KILLED
    assert server.log == ["init:ok"]
    assert not server.alive


async def test_kill_during_a_callback_skips_terminate() -> None:
    server = await Recorder.start()
    server.cast("hold")
    await server.holding.wait()
    server.kill()
    assert await server.wait() == KILLED
    assert server.log == ["init:ok", "cast:hold"]


async def test_a_kill_before_a_queued_stop_means_terminate_never_runs() -> None:
    server = await Recorder.start()
    server.cast("hold")
    await server.holding.wait()
    stopping = asyncio.create_task(server.stop())
    await asyncio.sleep(0)  # one loop turn: the stop request is queued behind "hold"
    server.kill()
    assert await stopping == KILLED
    assert not any(entry.startswith("terminate") for entry in server.log)


async def test_kill_during_terminate_ends_it_with_killed() -> None:
    server = await Recorder.start()
    server.gate_terminate = asyncio.Event()
    stopping = asyncio.create_task(server.stop())
    await server.terminating.wait()
    server.kill()
    assert await stopping == KILLED


async def test_kill_of_an_exited_server_changes_nothing() -> None:
    server = await Recorder.start()
    await server.stop()
    server.kill()
    assert server.exit_reason == NORMAL
    assert await server.wait() == NORMAL


async def test_a_supervisor_whose_terminate_raises_kills_its_children_as_a_kill_would() -> None:
    # terminate did not finish its cleanup, so the server cleans up as a killed one does: a
    # supervisor kills its children (else they outlive it), a control server closes its listener.
    from supervisor import ChildSpec, Supervisor, SupervisorFlags

    class BrokenStop(Supervisor):
        async def terminate(self, reason: Exit) -> None:
            raise Boom("terminate crashed")

    sup = await BrokenStop.start([ChildSpec("child", Server.start)], flags=SupervisorFlags())
    [child] = [info.server for info in await sup.which_children()]
    assert child is not None
    assert child.alive
    reason = await sup.stop()
    assert isinstance(reason.exception, Boom)
    assert (await asyncio.wait_for(child.wait(), 5)) is KILLED
