"""Server: OTP's gen_server for asyncio — one task, one mailbox, callbacks for calls, casts and info.

A server's state lives on the instance and is touched only by its own task, one message at a time, so a
callback never races another callback of the same server.

>>> import asyncio
>>> class Counter(Server):
...     async def init(self, start: int = 0) -> None:
...         self.n = start
...     async def handle_call(self, request: object, caller: Caller) -> object:
...         if request == "get":
...             return self.n
...         _, amount = request
...         self.n += amount
...         return self.n
...     async def handle_cast(self, message: object) -> None:
...         self.n = 0
>>> async def demo() -> list[object]:
...     counter = await Counter.start(10)
...     added = await counter.call(("add", 5))
...     counter.cast("reset")
...     after_reset = await counter.call("get")
...     await counter.stop()
...     return [added, after_reset, counter.exit_reason]
>>> asyncio.run(demo())
[15, 0, Exit(normal)]

Callbacks (all optional): ``init(*args, **kwargs)``, ``handle_call(request, caller)`` whose return value is
the reply (or ``NOREPLY`` to answer later with ``caller.reply``), ``handle_cast(message)``,
``handle_info(message)`` (monitors' ``Down`` messages and ``send``), ``handle_continue(arg)`` and
``terminate(reason)``. Raise ``Stop(reason)`` from any callback to stop, ``Ignore()`` from ``init`` to
start nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import islice
from math import inf
from typing import Any, ClassVar, Final, Self

from supervisor import _envelope, telemetry
from supervisor import _runtime as runtime
from supervisor._deadlines import Deadlines
from supervisor._envelope import EnvelopeHook
from supervisor._exits import KILLED, NORMAL, Exit, crash
from supervisor._hooks import CALL, CAST, INFO, STOP, StartSignal
from supervisor.errors import (
    CallingSelf,
    CallTimeout,
    InitIgnored,
    NoProc,
    ServerExited,
    StartFailed,
)

__all__ = [
    "NOREPLY",
    "TIMEOUT",
    "Caller",
    "Ignore",
    "Server",
    "ServerStatistics",
    "Stop",
]

log = logging.getLogger("supervisor.server")

# Bound once: the call path reads them on every call.
_current_task: Final = asyncio.current_task

DEFAULT_CALL_TIMEOUT: Final = 5.0

# Mailbox entries are (tag, payload, caller-or-None) tuples (supervisor/_hooks.py). Bound to module
# globals of this module: the receive loop compares them on every message.
_CALL: Final = CALL
_CAST: Final = CAST
_INFO: Final = INFO
_STOP: Final = STOP

# Event names, built once: the hot paths test them against telemetry.active_events before building
# any metadata (bench core, "crash -> restarted & ready").
_SERVER_START: Final = ("server", "start")
_SERVER_EXIT: Final = ("server", "exit")
# Sampled call latency (supervisor.telemetry.CALL_STOP): bound here, read on every call, like the live
# view of the events someone listens to.
_CALL_STOP: Final = telemetry.CALL_STOP
_ACTIVE_EVENTS: Final = telemetry.active_events
_CALL_SAMPLE_EVERY: Final = telemetry.CALL_SAMPLE_EVERY


def _call_stopped(server: str, started: int, future: asyncio.Future[Any]) -> None:
    """The done-callback of a sampled call's future: emit ``("supervisor", "call", "stop")``."""
    duration = time.perf_counter_ns() - started
    if future.cancelled():
        status = "cancelled"
    else:
        error = future.exception()
        status = "ok" if error is None else "timeout" if isinstance(error, CallTimeout) else "exited"
    telemetry.execute(
        _CALL_STOP,
        {"duration": duration},
        {"server": server, "status": status, "sampled_every": _CALL_SAMPLE_EVERY},
    )


class _Marker:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NOREPLY: Final[Any] = _Marker("NOREPLY")
"""Return this from ``handle_call`` to reply later with ``caller.reply(value)``."""

TIMEOUT: Final[Any] = _Marker("TIMEOUT")
"""Delivered to ``handle_info`` when the idle timeout set by ``timeout_after`` expires."""

_NO_CONTINUE: Final[Any] = _Marker("NO_CONTINUE")


class Stop(Exception):
    """Raise from a callback to stop the server with ``reason`` (default ``normal``).

    From ``handle_call``, ``reply=`` answers the caller before stopping (OTP's ``{stop, R, Reply, S}``).
    From ``init``, the start fails with ``StartFailed`` and ``terminate`` does not run.
    """

    def __init__(self, reason: Exit = NORMAL, *, reply: object = NOREPLY) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reply = reply


class Ignore(Exception):
    """Raise from ``init`` to start nothing (OTP's ``ignore``); ``terminate`` does not run."""


class Caller:
    """Who made a call: ``reply(value)`` answers it. Each call has its own, so a late reply goes nowhere."""

    # _deadline and _timeout are set only on a call with a finite timeout (supervisor/_deadlines.py);
    # _hook only when the envelope hook captured something (_carried is not None).
    __slots__ = ("_carried", "_deadline", "_future", "_hook", "_timeout")

    _deadline: float
    _timeout: float
    _hook: EnvelopeHook

    def __init__(
        self, future: asyncio.Future[Any], carried: tuple[EnvelopeHook, object] | None = None
    ) -> None:
        self._future = future
        # What the envelope hook captured in the caller's task (supervisor/_envelope.py), and the hook
        # that captured it: two slots, not a pair, as a pair was one allocation more per call.
        if carried is None:
            self._carried = None
        else:
            self._hook, self._carried = carried

    def reply(self, value: object) -> bool:
        """Answer the call; returns False (and drops the value) if the caller already gave up."""
        future = self._future
        if future.done():
            return False
        future.set_result(value)
        return True

    def _fail(self, error: BaseException) -> None:
        if not self._future.done():
            self._future.set_exception(error)

    @property
    def waiting(self) -> bool:
        """True while the caller still waits for a reply."""
        return not self._future.done()


_new_caller: Final = Caller.__new__


@dataclass(frozen=True, slots=True)
class ServerStatistics:
    """A snapshot of a server, shared by the console, the control socket and telemetry."""

    name: str | None
    alive: bool
    mailbox_depth: int
    calls: int
    casts: int
    infos: int
    pending_replies: int
    uptime: float
    exit_reason: Exit | None


class Server:
    """Base class of every server. Subclass it and override the callbacks you need.

    Start with ``await MyServer.start(*init_args, name=...)``; the instance is the handle others use to
    ``call``, ``cast``, ``send`` to, ``monitor`` and ``stop`` it. Configure through ``init``'s arguments,
    not ``__init__``: a supervisor creates a fresh instance for every restart.
    """

    __slots__ = (
        "__dict__",
        # Name-mangled (_Server__held): a subclass's own `_held` (TableKeeper has one) must not hold
        # the mailbox.
        "__held",
        "__weakref__",
        "_call_sample",
        "_calls",
        "_casts",
        "_continue",
        "_current_caller",
        "_deadlines",
        "_deferred",
        "_exit",
        "_exit_callbacks",
        "_exited_at",
        "_idle_timeout",
        "_infos",
        "_loop",
        "_mailbox",
        "_name",
        "_started_at",
        "_starting",
        "_supervised",
        "_task",
        "_waiter",
    )

    # Set by supervisors on the children they start, so a crash is reported once, by the supervisor.
    _supervised: bool

    log_crashes: ClassVar[bool] = True

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._mailbox: deque[tuple[int, Any, Any]] = deque()
        self._waiter: asyncio.Future[Any] | None = None
        self._exit: Exit | None = None
        self._exit_callbacks: dict[object, runtime.ExitCallback] | None = None
        self._name: str | None = None
        self._continue: Any = _NO_CONTINUE
        self._idle_timeout: float | None = None
        self._deferred: set[Caller] | None = None
        self._deadlines: Deadlines | None = None  # created by the first call with a timeout
        self._current_caller: Caller | None = None
        self._calls = 0
        self._call_sample = 0  # calls left until the next timed one (telemetry.CALL_SAMPLE_EVERY)
        self._casts = 0
        self._infos = 0
        self._started_at = 0.0
        self._exited_at: float | None = None
        self._starting: StartSignal | None = None
        self._supervised = False
        self.__held = False

    # --- callbacks -------------------------------------------------------------------------------

    async def init(self, *args: Any, **kwargs: Any) -> None:
        """Set up state. Raise ``Ignore`` to start nothing, ``Stop`` (or anything) to fail the start."""

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        """Answer a call: the return value is the reply, ``NOREPLY`` defers it to ``caller.reply``."""
        raise NotImplementedError(f"{type(self).__name__} does not handle calls ({request!r})")

    async def handle_cast(self, message: Any) -> None:
        """Handle a cast: a message that needs no reply."""
        raise NotImplementedError(f"{type(self).__name__} does not handle casts ({message!r})")

    async def handle_info(self, message: Any) -> None:
        """Handle any other message: monitors' ``Down``, ``send``, ``TIMEOUT``. Ignored by default."""

    async def handle_continue(self, arg: Any) -> None:
        """Run right after the callback that called ``continue_with(arg)``, before the next message."""

    async def terminate(self, reason: Exit) -> None:
        """Clean up on a graceful stop. Not called on kill, on ``Ignore``, or when ``init`` fails."""

    # --- starting --------------------------------------------------------------------------------

    @classmethod
    async def start(cls, *args: Any, name: str | None = None, **kwargs: Any) -> Self:
        """Create an instance, run ``init(*args, **kwargs)`` in its task, and return once it has.

        Raises ``AlreadyStarted`` if ``name`` is taken, ``StartFailed`` if ``init`` fails or stops, and
        ``InitIgnored`` if it raises ``Ignore``.
        """
        server = cls()
        if await server._boot(args, kwargs, name):
            return server
        raise InitIgnored(f"{cls.__name__}.init returned ignore")

    async def _boot(self, args: tuple[Any, ...], kwargs: dict[str, Any], name: str | None) -> bool:
        """Start this instance; True once running, False on ``Ignore``; raises like ``start``."""
        started: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._launch(args, kwargs, name, started)
        try:
            return await started
        except asyncio.CancelledError:
            # Our starter was cancelled while init ran: init's server must not outlive it unsupervised.
            self._cancel_start()
            raise

    def _launch(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], name: str | None, started: StartSignal
    ) -> None:
        """The synchronous half of ``_boot``: register, create the task that reports to ``started``.

        A supervisor calls this and awaits the future itself (calling ``_cancel_start`` if it is
        cancelled meanwhile) or passes a signal that records the outcome at once: one coroutine or
        one wake-up fewer on the restart path (bench core, "crash -> restarted & ready").
        """
        if self._task is not None:
            raise RuntimeError(f"{self!r} was already started; start a new instance instead")
        loop = asyncio.get_running_loop()
        self._loop = loop
        if name is not None:
            runtime._register_name(name, self)
            self._name = name
        self._started_at = time.monotonic()
        task = loop.create_task(self._run(args, kwargs, started))
        self._task = task
        runtime._SERVER_OF_TASK[task] = self  # runtime._register_task, inline (restart path)
        self._starting = started
        task.add_done_callback(self._task_done)

    def _cancel_start(self) -> None:
        """The starter was cancelled while ``init`` ran: kill the half-started server."""
        task = self._task
        if task is not None:
            task.cancel()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step never enters _run (e.g. whereis(name).kill() right
        # after start): nothing recorded the exit, the starter waited forever and the name stayed taken
        # (test_killing_a_server_before_its_task_first_runs_fails_its_start_and_frees_its_name).
        # _run removes this callback as it starts, so it costs nothing on the normal exit path.
        started, self._starting = self._starting, None
        if self._exit is None:
            self._finish(KILLED)
            if started is not None and not started.done():
                started.set_exception(StartFailed(f"{self!r} killed before init", KILLED))

    # --- the task --------------------------------------------------------------------------------

    async def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any], started: StartSignal) -> None:
        self._starting = None
        task = self._task
        assert task is not None
        task.remove_done_callback(self._task_done)
        try:
            await self.init(*args, **kwargs)
        except Ignore:
            started.set_result(False)
            self._finish(NORMAL)
            return
        except Stop as stop:
            self._finish(stop.reason)
            started.set_exception(StartFailed(f"{self!r} init stopped: {stop.reason!r}", stop.reason))
            return
        except asyncio.CancelledError:
            self._finish(KILLED)
            if not started.done():
                # Killed during init by someone else (a cancelled starter has already cancelled
                # `started`): fail the start with the reason. Cancelling `started` instead raised
                # CancelledError in a starter nobody cancelled
                # (test_killing_a_server_during_init_fails_its_start_with_killed).
                started.set_exception(StartFailed(f"{self!r} killed during init", KILLED))
            return
        except Exception as error:
            reason = crash(error)
            self._finish(reason)
            started.set_exception(StartFailed(f"{self!r} init crashed: {error!r}", reason))
            return
        except BaseException as error:
            # KeyboardInterrupt, SystemExit or another BaseException: it must go on up (asyncio
            # stops the loop for the first two), but the exit is recorded first, or the starter,
            # monitors and the name never learnt of it.
            reason = crash(error)
            self._finish(reason)
            started.set_exception(StartFailed(f"{self!r} init raised {error!r}", reason))
            raise
        # The start event comes first: a supervisor's signal records the child at once, and its own
        # ("supervisor", "child", "start") event must follow this one.
        if _SERVER_START in telemetry.active_events:
            telemetry.execute(_SERVER_START, {}, {"server": self, "name": self._name})
        started.set_result(True)
        caller: Caller | None = None
        # The receive loop lives here rather than in a coroutine of its own: one coroutine fewer to
        # create per start and to pass through on every wake-up (bench core, "crash -> restarted &
        # ready"). Callbacks' exceptions leave the loop to the handlers below.
        mailbox = self._mailbox
        loop = self._loop
        assert loop is not None
        try:
            while True:
                if self._continue is not _NO_CONTINUE:
                    arg, self._continue = self._continue, _NO_CONTINUE
                    await self.handle_continue(arg)
                    continue
                # Waiting sets no continuation: once woken with mail, take it straight away.
                while not mailbox or self.__held:
                    waiter = loop.create_future()
                    self._waiter = waiter
                    if self._idle_timeout is None:
                        await waiter
                    else:
                        await self._wait_or_time_out(loop, waiter, self._idle_timeout)
                tag, payload, extra = mailbox.popleft()
                # OTP: the timeout a callback sets is cancelled by any message, including one already
                # waiting; the next callback arms it again if it wants one. Left armed, it fired after
                # the message anyway
                # (test_an_idle_timeout_is_ignored_when_a_message_is_already_waiting).
                self._idle_timeout = None
                if tag == _CALL:
                    self._calls += 1
                    self._current_caller = caller = extra
                    carried = caller._carried
                    if carried is None:
                        result = await self.handle_call(payload, caller)
                    else:
                        # The envelope hook, inline: a coroutine around the handler cost a tenth
                        # of a round trip (bench/bench_spans.py).
                        hook = caller._hook
                        token = hook.enter(carried)
                        try:
                            result = await self.handle_call(payload, caller)
                        finally:
                            hook.exit(token)
                    self._current_caller = None
                    if result is NOREPLY:
                        if caller.waiting:
                            if self._deferred is None:
                                self._deferred = set()
                            self._deferred.add(caller)
                            # Forget the caller once answered (or given up): kept until the exit,
                            # every deferred call and its reply stayed alive as long as the server
                            # (test_an_answered_deferred_call_is_not_retained_by_the_server).
                            caller._future.add_done_callback(self._forget_deferred(caller))
                    else:
                        # Caller.reply, inline: a method's frame is a fortieth of a round trip.
                        future = caller._future
                        if not future.done():
                            future.set_result(result)
                elif tag == _CAST:
                    self._casts += 1
                    if extra is None:
                        await self.handle_cast(payload)
                    else:
                        hook, value = extra
                        token = hook.enter(value)
                        try:
                            await self.handle_cast(payload)
                        finally:
                            hook.exit(token)
                elif tag == _INFO:
                    self._infos += 1
                    await self.handle_info(payload)
                else:  # _STOP
                    reason = payload
                    break
        except Stop as stop:
            reason = stop.reason
            caller = self._current_caller
            if caller is not None and stop.reply is not NOREPLY:
                caller.reply(stop.reply)
        except asyncio.CancelledError:
            # arbord's brutal_kill: terminate does not run (OTP: a killed process runs no code).
            self._finish(KILLED)
            return
        except Exception as error:
            reason = crash(error)
        except BaseException as error:
            # As in init: recorded, then passed on; terminate does not run (the process is most
            # likely on its way out, and a callback that raised this is not to be trusted).
            self._finish(crash(error))
            raise
        if type(self).terminate is Server.terminate:
            # Nothing to run: spare the restart path a coroutine (bench core, "crash -> restarted").
            self._finish(reason)
        else:
            await self._terminate_then_finish(reason)

    def _hold_mail(self) -> None:
        """Handle no message until ``_release_mail``; they queue up. A supervisor holds its mailbox
        while a child it restarts runs ``init`` (see ``SupervisorEngine._restart_held``)."""
        self.__held = True

    def _release_mail(self) -> None:
        """End ``_hold_mail``, waking the server if a message is waiting."""
        self.__held = False
        if self._mailbox:
            waiter = self._waiter
            if waiter is not None:
                self._waiter = None
                if not waiter.done():
                    waiter.set_result(None)

    def _forget_deferred(self, caller: Caller) -> Callable[[asyncio.Future[Any]], None]:
        def forget(_: asyncio.Future[Any]) -> None:
            if self._deferred is not None:
                self._deferred.discard(caller)

        return forget

    async def _wait_or_time_out(
        self, loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[Any], timeout: float
    ) -> None:
        handle = loop.call_later(timeout, self._idle_expired, waiter)
        try:
            await waiter
        finally:
            handle.cancel()

    def _idle_expired(self, waiter: asyncio.Future[Any]) -> None:
        if not waiter.done() and not self._mailbox:
            self._idle_timeout = None
            self._waiter = None
            self._mailbox.append((_INFO, TIMEOUT, None))
            waiter.set_result(None)

    async def _terminate_then_finish(self, reason: Exit) -> None:
        try:
            await self.terminate(reason)
        except asyncio.CancelledError:
            reason = KILLED
        except Exception as error:
            if reason.is_abnormal:
                # The exit reason stays the first crash: log terminate's own error here or lose it.
                log.error("%r: terminate raised %r", self, error, exc_info=error)
            else:
                # The reason becomes this crash, which _finish (or the supervisor) reports; logging it
                # here too reported one error twice
                # (test_a_terminate_that_raises_on_a_normal_stop_is_logged_once).
                reason = crash(error)
            # terminate did not finish what it had to clean up: do what a kill does, or what it
            # left open outlives the server (a control server's listener kept answering, and its
            # restart failed as "already running": test_f1_a_crash_in_each_callback_of_each_...).
            self._linked_exit(reason)
        self._finish(reason)

    def _finish(self, reason: Exit) -> None:
        """Record the exit and tell everyone who needs to know. Runs exactly once, in the server's task
        (or in its done callback, for a task cancelled before its first step)."""
        self._exit = reason
        # Uptime stops at the exit: statistics() of an exited server kept counting
        # (test_the_uptime_of_an_exited_server_stops_at_its_exit).
        self._exited_at = exited_at = time.monotonic()
        task = self._task
        if task is not None:
            runtime._SERVER_OF_TASK.pop(task, None)  # runtime._unregister_task, inline (restart path)
        if self._name is not None:
            runtime._unregister_name(self._name, self)
        if self._mailbox or self._current_caller is not None or self._deferred:
            self._fail_waiting(reason)
        if self._deadlines is not None:
            # No call waits any more: the timer would find none, and would keep the server alive till then.
            self._deadlines.close()
        if reason is KILLED:
            self._linked_exit(reason)
        if _SERVER_EXIT in telemetry.active_events:
            telemetry.execute(
                _SERVER_EXIT,
                {"uptime": exited_at - self._started_at},
                {"server": self, "name": self._name, "reason": reason},
            )
        if not self._supervised and reason.is_abnormal and self.log_crashes:
            log.error(
                "server %r crashed: %r",
                self,
                reason,
                exc_info=reason.exception,
                extra={"server": self._name or type(self).__name__, "reason": reason},
            )
        callbacks = self._exit_callbacks
        if callbacks:
            self._exit_callbacks = None
            for callback in callbacks.values():
                try:
                    callback(reason)
                except Exception:
                    log.exception("%r: exit callback %r raised", self, callback)

    def _mail_sent(self) -> int:
        """How many entries were ever queued: the mailbox position of the next (supervisor/_deadlines.py)."""
        return self._calls + self._casts + self._infos + len(self._mailbox)

    def _queued_from(self, position: int) -> tuple[int, Iterator[Caller | None]]:
        """The queued entries from about mailbox ``position`` on, with the position of the first: the
        ``Caller`` of a call, None for anything else (the deadline keeper's walk)."""
        taken = self._calls + self._casts + self._infos
        # One earlier than the counts say: a stop request taken from the mailbox is counted nowhere.
        start = max(0, position - taken - 1)
        entries = (caller if tag == _CALL else None for tag, _, caller in islice(self._mailbox, start, None))
        return taken + start, entries

    def _taken_callers(self) -> list[Caller]:
        """The calls taken from the mailbox and not answered yet: in progress or deferred."""
        taken = [] if self._current_caller is None else [self._current_caller]
        if self._deferred:
            taken.extend(self._deferred)
        return taken

    def _fail_waiting(self, reason: Exit) -> None:
        """Fail every call still waiting for a reply (queued, in progress or deferred); empty the mailbox."""
        waiting = [c for tag, _, c in self._mailbox if tag == _CALL]
        if self._current_caller is not None:
            waiting.append(self._current_caller)
            self._current_caller = None
        if self._deferred:
            waiting.extend(self._deferred)
            self._deferred = None
        self._mailbox.clear()
        if waiting:
            error = ServerExited(f"{self!r} exited: {reason!r}", reason)
            for caller in waiting:
                caller._fail(error)

    # --- the API others use ----------------------------------------------------------------------

    async def call(self, request: Any, timeout: float | None = DEFAULT_CALL_TIMEOUT) -> Any:
        """Send ``request`` and wait for the reply; ``timeout=None`` waits forever.

        Raises ``ValueError`` for a negative ``timeout``, ``CallingSelf`` from the server's own task,
        ``NoProc`` if the server is not running, ``CallTimeout`` after ``timeout`` seconds,
        ``ServerExited`` if it exits before replying, and whatever ``handle_call`` raised is *not*
        re-raised here: the server crashes and the caller sees ``ServerExited`` with the crash.
        """
        if timeout is not None and not timeout >= 0:
            # OTP: a call timeout is non-negative or infinity (docs/otp-conformance.md#servers); a negative
            # one used to expire at once (test_a_negative_call_timeout_is_rejected), and NaN has no
            # deadline at all (test_a_nan_call_timeout_is_rejected_before_anything_is_sent).
            raise ValueError(f"a call timeout must be non-negative or None, got {timeout!r}")
        if self._exit is not None or self._loop is None:
            raise NoProc(f"call to {self!r}: the server is not running")
        if _current_task() is self._task:
            raise CallingSelf(f"{self!r} called itself; that would deadlock")
        loop = self._loop
        future: asyncio.Future[Any] = loop.create_future()
        if _CALL_STOP in _ACTIVE_EVENTS:  # sampled latency: nothing more while nobody listens
            left = self._call_sample
            if left:
                self._call_sample = left - 1
            else:
                self._call_sample = _CALL_SAMPLE_EVERY - 1
                future.add_done_callback(partial(_call_stopped, self._name or "", time.perf_counter_ns()))
        # Built without a Python __init__ frame: a twentieth of a round trip (bench core, "call").
        caller = _new_caller(Caller)
        caller._future = future
        hook = _envelope.hook
        if hook is None:
            caller._carried = None
        else:
            caller._carried = hook.capture()
            caller._hook = hook  # read by the server only when something was captured
        if timeout is not None and timeout != inf:
            # The deadline goes into the call's own Caller, where the server's one coarse timer finds
            # it among the calls still waiting (supervisor/_deadlines.py): a call may expire up to
            # max(1 ms, timeout/64) late, never early, and a call that gets its reply leaves nothing.
            deadlines = self._deadlines
            if deadlines is None:
                deadlines = self._deadlines = Deadlines(loop)
            caller._deadline = deadline = deadlines.clock() + timeout
            caller._timeout = timeout
            if timeout != deadlines.horizon_timeout or deadline < deadlines.horizon:
                deadlines.watch(deadline, timeout, self)
        self._mailbox.append((_CALL, request, caller))
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        return await future

    def cast(self, message: Any) -> None:
        """Send ``message`` to ``handle_cast``. Always returns, even if the server is gone (OTP)."""
        hook = _envelope.hook
        if hook is None:
            self._deliver(_CAST, message)
        else:
            carried = hook.capture()
            self._deliver(_CAST, message, None if carried is None else (hook, carried))

    def send(self, message: Any) -> None:
        """Send ``message`` to ``handle_info``. Always returns, even if the server is gone."""
        self._deliver(_INFO, message)

    def _deliver(self, tag: int, message: Any, carried: tuple[EnvelopeHook, object] | None = None) -> None:
        if self._exit is not None:
            return
        self._mailbox.append((tag, message, carried))
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def stop(self, reason: Exit = NORMAL, timeout: float | None = None) -> Exit:
        """Stop gracefully: messages already queued are handled, then ``terminate(reason)`` runs.

        Returns the exit reason. Raises ``CallingSelf`` from the server's own task (raise ``Stop``
        there), ``NoProc`` if the server is not running and ``CallTimeout`` if it
        has not exited within ``timeout`` (it is left running; ``kill`` it if you must).
        """
        if self._exit is not None or self._loop is None:
            raise NoProc(f"stop of {self!r}: the server is not running")
        if asyncio.current_task() is self._task:
            # OTP's gen_server:stop(self()) exits with calling_self; waiting for our own exit hung
            # (test_a_server_stopping_itself_raises_calling_self_instead_of_deadlocking).
            raise CallingSelf(f"{self!r} tried to stop itself and wait; raise Stop instead")
        exited = self.wait()
        self._deliver(_STOP, reason)
        try:
            async with asyncio.timeout(timeout):
                return await exited
        except TimeoutError:
            raise CallTimeout(f"{self!r} did not stop within {timeout} s") from None

    def kill(self) -> None:
        """Cancel the server's task: ``terminate`` does not run and the reason is ``killed``.

        A task that swallows the cancellation cannot be forced in asyncio; supervisors abandon it after
        the shutdown timeout and report it (see docs/supervision.md, "arbord's brutal_kill").
        """
        if self._task is not None and self._exit is None:
            self._task.cancel()

    def wait(self) -> asyncio.Future[Exit]:
        """A future resolved with the exit reason once the server has exited."""
        loop = self._loop or asyncio.get_running_loop()
        future: asyncio.Future[Exit] = loop.create_future()
        if self._exit is not None:
            future.set_result(self._exit)
            return future

        def resolve(reason: Exit) -> None:
            if not future.done():
                future.set_result(reason)

        def forget(done: asyncio.Future[Exit]) -> None:
            # A waiter that gave up (a stop or wait_for timing out) leaves nothing behind.
            if done.cancelled():
                self._remove_exit_callback(resolve)

        self._add_exit_callback(resolve)
        future.add_done_callback(forget)
        return future

    # --- helpers for callbacks -------------------------------------------------------------------

    def continue_with(self, arg: Any) -> None:
        """Run ``handle_continue(arg)`` after the current callback, before any queued message."""
        self._continue = arg

    def timeout_after(self, seconds: float | None) -> None:
        """Deliver ``TIMEOUT`` to ``handle_info`` if no message arrives within ``seconds`` (one-shot)."""
        self._idle_timeout = seconds

    # --- introspection ---------------------------------------------------------------------------

    @property
    def name(self) -> str | None:
        """The registered name, if any."""
        return self._name

    @property
    def alive(self) -> bool:
        """True from a successful start until the exit (and while its event loop is open)."""
        loop = self._loop
        return self._exit is None and loop is not None and not loop.is_closed()

    @property
    def exit_reason(self) -> Exit | None:
        """The exit reason once exited, else None."""
        return self._exit

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The server's task (None before start)."""
        return self._task

    def statistics(self) -> ServerStatistics:
        """A frozen snapshot: mailbox depth, handled counts, pending deferred replies, uptime."""
        return ServerStatistics(
            name=self._name,
            alive=self.alive,
            mailbox_depth=len(self._mailbox),
            calls=self._calls,
            casts=self._casts,
            infos=self._infos,
            pending_replies=sum(1 for c in self._deferred if c.waiting) if self._deferred else 0,
            uptime=self._uptime(),
            exit_reason=self._exit,
        )

    def _uptime(self) -> float:
        if self._task is None:
            return 0.0
        end = self._exited_at if self._exited_at is not None else time.monotonic()
        return end - self._started_at

    def __repr__(self) -> str:
        state = "running" if self._exit is None else repr(self._exit)
        label = f" {self._name!r}" if self._name else ""
        return f"<{type(self).__name__}{label} at {id(self):#x} {state}>"

    def _linked_exit(self, reason: Exit) -> None:
        """Run when the server was killed (no ``terminate``), or its ``terminate`` raised: supervisors
        kill their children here, servers close what terminate would have closed."""

    # --- exit callbacks (runtime.add_exit_callback) -----------------------------------------------

    def _add_exit_callback(self, callback: runtime.ExitCallback) -> None:
        if self._exit_callbacks is None:
            self._exit_callbacks = {}
        self._exit_callbacks[callback] = callback

    def _remove_exit_callback(self, key: object) -> None:
        if self._exit_callbacks is not None:
            self._exit_callbacks.pop(key, None)

    def _remove_mail(self, predicate: Callable[[int, Any], bool]) -> int:
        """Drop queued messages matching ``predicate(tag, payload)``; returns how many (demonitor flush)."""
        kept = [m for m in self._mailbox if not predicate(m[0], m[1])]
        dropped = len(self._mailbox) - len(kept)
        if dropped:
            self._mailbox.clear()
            self._mailbox.extend(kept)
        return dropped
