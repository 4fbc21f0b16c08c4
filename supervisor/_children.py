"""What both supervisors do to one child: start it, stop it per its shutdown policy, report its exit.

Shutdown follows OTP: ask the child to stop (``shutdown``), wait up to its timeout, then kill. asyncio
cannot kill a task that swallows cancellation; after ``kill_grace`` seconds such a child is *abandoned*:
reported as the offender and forgotten, and the supervisor carries on (docs/supervision.md,
"arbord's brutal_kill").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, cast

from supervisor import _runtime as runtime
from supervisor import telemetry
from supervisor._child_records import ChildRecord, server_class
from supervisor._childspec import ChildSpec, Restart, Shutdown
from supervisor._exits import KILLED, NOPROC, NORMAL, SHUTDOWN, Exit, ExitKind, crash
from supervisor._hooks import INFO, STOP, StartSignal
from supervisor._server import Server
from supervisor.errors import InitIgnored, StartFailed

__all__ = [
    "CHILD_EXIT",
    "CHILD_RESTART",
    "CHILD_START",
    "ChildExit",
    "StopOutcome",
    "cancel_start",
    "drop_crash_locals",
    "emit_exit",
    "give_up_start",
    "launch",
    "report_exit",
    "report_restart",
    "server_class",
    "should_restart",
    "spawn",
    "start_timed_out",
    "stop_child",
    "unwatch",
    "watch",
]

log = logging.getLogger("supervisor.supervisor")

# The events of a child's life, built once: the restart path tests them against
# telemetry.active_events before building any metadata (bench core, "crash -> restarted & ready").
CHILD_START: Final = ("supervisor", "child", "start")
CHILD_EXIT: Final = ("supervisor", "child", "exit")
CHILD_RESTART: Final = ("supervisor", "child", "restart")

# Reading an enum member through its class costs a Python-level lookup in CPython 3.11 (about 80 ns),
# and a named tuple's constructor is a Python function, the tuple's is not (its _make uses it): both
# are on the restart path (bench core, "crash -> restarted & ready").
_PERMANENT: Final = Restart.PERMANENT
_TRANSIENT: Final = Restart.TRANSIENT
_new_child_exit: Final = tuple.__new__


class ChildExit(NamedTuple):
    """The message a supervisor gets when one of its children exits (a monitor's Down, made cheap)."""

    child: ChildRecord
    server: Server
    reason: Exit


def watch(supervisor: Server, child: ChildRecord, server: Server, *, own_reason: bool = False) -> object:
    """Have ``ChildExit(child, server, reason)`` queued in ``supervisor``'s mailbox when ``server`` exits.

    A leaner monitor for the restart path. Returns the key for ``unwatch``. A server that has already
    exited is reported at once, with ``NOPROC`` or, with ``own_reason``, with its own exit reason.
    """

    def on_exit(reason: Exit) -> None:
        supervisor._deliver(INFO, _new_child_exit(ChildExit, (child, server, reason)))

    if server._exit is not None:
        # A start function may hand back a server that has already exited; an exit callback would
        # never run and the child would pass for running forever. OTP's monitor of a dead process says
        # noproc at once (test_a_start_function_returning_an_exited_server_counts_as_an_exit). A child
        # the supervisor started itself exited after its init, a link would carry its reason.
        on_exit(server._exit if own_reason else NOPROC)
        return on_exit
    server._add_exit_callback(on_exit)
    return on_exit


def unwatch(server: Server, key: object) -> None:
    """Stop watching ``server``; a ``ChildExit`` already queued is recognised as stale by the caller."""
    server._remove_exit_callback(key)


def launch(
    cls: type[Server], spec: ChildSpec, started: StartSignal, extra_args: tuple[Any, ...] = ()
) -> Server | None:
    """The synchronous half of starting a ``Server`` subclass: the new server, reporting to ``started``.

    None for ``ignore``; raises ``StartFailed`` as ``spawn`` does. ``started`` is the future the caller
    then awaits itself (True: running, False: ``ignore``; it raises ``StartFailed`` if ``init`` fails),
    calling the server's ``_cancel_start`` if it is cancelled meanwhile, or a signal that records the
    outcome at once. Either spares the restart path the ``spawn`` and ``_boot`` coroutines (bench core,
    "crash -> restarted & ready").
    """
    args = extra_args + spec.args if extra_args else spec.args
    try:
        server = cls()
        server._supervised = True
        server._launch(args, dict(spec.kwargs) if spec.kwargs else {}, spec.name, started)
    except InitIgnored:
        return None
    except StartFailed:
        raise
    except Exception as error:
        raise StartFailed(f"child {spec.id!r} failed to start: {error!r}", crash(error)) from error
    return server


async def spawn(
    spec: ChildSpec, extra_args: tuple[Any, ...] = (), kill_grace: float = 1.0, supervisor: str = ""
) -> Server | None:
    """Start the child ``spec`` describes; None for ``ignore``. Raises ``StartFailed`` on failure,
    and when the start outlasts ``spec.start_timeout`` (the half-started child is then killed, and
    abandoned after ``kill_grace`` seconds if it ignores the cancellation: reported as ``report_stop``
    reports an abandoned child of ``supervisor``)."""
    cls = server_class(spec)
    limit = spec.start_timeout
    if cls is not None:
        started: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        server = launch(cls, spec, started, extra_args)
        if server is None:
            return None
        try:
            if limit is not None and not started.done():
                # asyncio.wait, not asyncio.timeout: ``started`` must stay uncancelled, the child's
                # task reports to it whatever happens (test_a_start_that_outlasts_its_timeout_fails).
                await asyncio.wait((started,), timeout=limit)
                if not started.done():
                    await give_up_start(server, spec, kill_grace, supervisor)
                    if started.done() and not started.cancelled():
                        started.exception()  # its "killed during init" is superseded by the timeout
                    raise start_timed_out(spec, limit)
            return server if await started else None
        except asyncio.CancelledError:
            server._cancel_start()
            raise
    args = extra_args + spec.args if extra_args else spec.args
    factory = cast("Callable[..., Awaitable[object]]", spec.start)
    deadline = asyncio.timeout(limit)
    try:
        async with deadline:
            result = await factory(*args, **spec.kwargs)
    except InitIgnored:
        return None
    except StartFailed:
        raise
    except asyncio.CancelledError:
        raise
    except TimeoutError as error:
        if limit is not None and deadline.expired():
            raise start_timed_out(spec, limit) from None
        raise StartFailed(f"child {spec.id!r} failed to start: {error!r}", crash(error)) from error
    except Exception as error:
        raise StartFailed(f"child {spec.id!r} failed to start: {error!r}", crash(error)) from error
    if result is not None:
        if not isinstance(result, Server):
            reason = crash(TypeError(f"start returned {result!r}, not a Server or None"))
            raise StartFailed(f"child {spec.id!r}: start returned {result!r}", reason)
        result._supervised = True
    return result


def start_timed_out(spec: ChildSpec, limit: float) -> StartFailed:
    """The failure of a start that outlasted ``spec.start_timeout`` (its reason: a ``TimeoutError``)."""
    message = f"child {spec.id!r} did not start within {limit:g} s (start_timeout)"
    return StartFailed(message, crash(TimeoutError(message)))


def cancel_start(server: Server) -> None:
    """Kill a child whose start took too long, and give its name up now: the next incarnation must be
    able to take it even if this one ignores the cancellation (as ``stop_child`` does for an abandoned
    child)."""
    server._cancel_start()
    if server.name is not None:
        runtime._unregister_name(server.name, server)


async def give_up_start(server: Server, spec: ChildSpec, kill_grace: float, supervisor: str) -> None:
    """``cancel_start``, then wait up to ``kill_grace`` seconds for the child to be gone; one that
    is not is abandoned and reported as such."""
    exited = server.wait()
    cancel_start(server)
    if not exited.done():
        await asyncio.wait((exited,), timeout=kill_grace)
    if not exited.done():
        exited.cancel()
        report_stop(supervisor, spec, StopOutcome(KILLED, expected=False, abandoned=True))


@dataclass(frozen=True, slots=True)
class StopOutcome:
    """How a child stopped: its reason, whether that was the expected one, whether it was abandoned."""

    reason: Exit
    expected: bool
    abandoned: bool


async def stop_child(server: Server, spec: ChildSpec, kill_grace: float) -> StopOutcome:
    """Stop ``server`` per ``spec.shutdown``; the caller must already have removed its monitor."""
    exited = server.wait()
    if not exited.done():
        if spec.shutdown is Shutdown.BRUTAL_KILL:
            server.kill()
        else:
            server._deliver(STOP, SHUTDOWN)
            await asyncio.wait((exited,), timeout=spec.shutdown_timeout)
            if not exited.done():
                server.kill()
        if not exited.done():
            await asyncio.wait((exited,), timeout=kill_grace)
    if not exited.done():
        exited.cancel()
        # The supervisor carries on as if the child had died with KILLED, so it must be able to start
        # the next incarnation under the same name: the abandoned task gives its name up now rather than
        # whenever it finally ends (test_an_abandoned_child_can_be_restarted_under_its_name).
        if server.name is not None:
            runtime._unregister_name(server.name, server)
        return StopOutcome(KILLED, expected=False, abandoned=True)
    reason = exited.result()
    return StopOutcome(reason, _expected_stop(reason, spec), abandoned=False)


def _expected_stop(reason: Exit, spec: ChildSpec) -> bool:
    # OTP's shutdown/1: anything but these is a shutdown_error.
    if reason.kind is ExitKind.SHUTDOWN and reason.term is None:
        return True
    if spec.shutdown is Shutdown.BRUTAL_KILL and reason == KILLED:
        return True
    if spec.restart is not Restart.PERMANENT:
        return reason == NORMAL or reason.kind is ExitKind.SHUTDOWN
    return False


def should_restart(spec: ChildSpec, reason: Exit) -> bool:
    """OTP's rule: permanent always, transient only after an abnormal exit, temporary never."""
    restart = spec.restart
    if restart is _PERMANENT:
        return True
    return restart is _TRANSIENT and reason.is_abnormal


def emit_exit(supervisor: str, spec: ChildSpec, reason: Exit, restarts: int) -> None:
    """Emit the ``("supervisor", "child", "exit")`` event of every exit a supervisor sees."""
    if CHILD_EXIT in telemetry.active_events:  # no metadata to build while nobody listens
        telemetry.execute(
            CHILD_EXIT,
            {"restarts": restarts},
            {"supervisor": supervisor, "child_id": spec.id, "reason": reason},
        )


def report_restart(supervisor: str, spec: ChildSpec, reason: Exit, restarts: int) -> None:
    """Log the restart a supervisor is about to perform: OTP's supervisor report (supervisor, child,
    reason, restart count), once per restart, whatever the reason: an error after a crash, a warning
    after ``normal`` or ``shutdown``.

    A restart after ``normal`` or ``shutdown`` is reported too: a permanent sub-supervisor that gave
    up exits with ``shutdown``, and its parent's restart of it was the one line missing from the log
    (test_the_root_restarting_a_sub_supervisor_is_reported). OTP reports any exit of a permanent
    child the same way (docs/otp-conformance.md#supervisors).
    """
    # A crash is an error; a restart after normal or shutdown is worth a warning, not an error
    # (test_normal_and_shutdown_exits_are_not_logged_as_errors).
    level = logging.ERROR if reason.is_abnormal else logging.WARNING
    _report(
        level,
        "child %r of supervisor %s exited: %r; restarting it (restart %d)",
        supervisor,
        spec,
        reason,
        restarts,
    )


def report_exit(supervisor: str, spec: ChildSpec, reason: Exit, restarts: int) -> None:
    """Log an abnormal exit that is not followed by a restart, once, as a structured report."""
    if reason.is_abnormal:
        _report(
            logging.ERROR,
            "child %r of supervisor %s exited: %r (restarts so far: %d)",
            supervisor,
            spec,
            reason,
            restarts,
        )


def _report(level: int, message: str, supervisor: str, spec: ChildSpec, reason: Exit, restarts: int) -> None:
    """One supervisor report: ``message`` over (child id, supervisor, reason, restarts), with the
    crash's traceback and the same four as structured fields."""
    if log.isEnabledFor(level):
        log.log(
            level,
            message,
            spec.id,
            supervisor,
            reason,
            restarts,
            exc_info=reason.exception,
            extra={
                "supervisor": supervisor,
                "child_id": spec.id,
                "reason": reason,
                "restart_count": restarts,
            },
        )


def drop_crash_locals(exception: BaseException) -> None:
    """Clear the local variables of the frames in a reported crash's traceback.

    A crashed server is referenced by its own frames (``self`` in ``_run`` and in the callback that
    raised), which the traceback keeps, and holds that traceback through its exit reason: a reference
    cycle per crash, which only the cyclic garbage collector frees. One every few dozen restarts
    made a restart pay for a collection, and the restart's 99th percentile 5x the hand-rolled
    loop's, whose crashes leave no cycle (bench core, "crash -> restarted & ready p99"). Once the
    supervisor has reported the crash, its frames' locals are dropped (``traceback.clear_frames``,
    as ``unittest`` does): the traceback still names every file, line and function, and the crashed
    incarnation is freed at once (test_a_restarted_crash_leaves_no_garbage_cycle).
    """
    # traceback.clear_frames, without its call (bench core, "crash -> restarted & ready").
    tb = exception.__traceback__
    while tb is not None:
        try:
            tb.tb_frame.clear()
        except RuntimeError:  # a frame still running (not the case of an exited server's)
            pass
        tb = tb.tb_next


def report_stop(supervisor: str, spec: ChildSpec, outcome: StopOutcome) -> None:
    """Report a child that stopped with an unexpected reason (OTP's shutdown_error) or was abandoned."""
    if outcome.abandoned:
        telemetry.execute(
            ("supervisor", "child", "abandoned"),
            {},
            {"supervisor": supervisor, "child_id": spec.id},
        )
        log.error(
            "child %r of supervisor %s ignored cancellation and was abandoned",
            spec.id,
            supervisor,
            extra={"supervisor": supervisor, "child_id": spec.id, "offender": spec.id},
        )
    elif not outcome.expected:
        log.error(
            "child %r of supervisor %s stopped with %r (shutdown_error)",
            spec.id,
            supervisor,
            outcome.reason,
            extra={"supervisor": supervisor, "child_id": spec.id, "reason": outcome.reason},
        )
