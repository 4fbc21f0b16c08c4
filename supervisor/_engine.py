"""The supervisor engine: what ``Supervisor`` and ``DynamicSupervisor`` share, written once.

``SupervisorEngine`` is a ``Server`` that owns child records and does everything to them that does not
depend on how they are kept: start and stop one child, report its exits, count restarts against the
intensity and escalate past it, retry a failed restart through its own mailbox (OTP-9549),
``auto_shutdown``, ``which_children``/``count_children``, refusing unknown requests, ``async with``
(whose body a supervisor that gives up cancels). A subclass says only what differs, through a few
methods:

- how records are kept: ``_records`` (in ``which_children`` order), ``_add``, ``_drop``, ``_holds``,
  and ``_keeps`` (whether a record with no server stays: a spec of ``Supervisor``, nothing under
  ``DynamicSupervisor``);
- ``_restart_group``: what a restart restarts (here: the one child; ``Supervisor`` adds its strategies);
- ``_stop_children``: the order of a shutdown (reverse start order, or all at once);
- ``_handle_request``: its management requests (``supervisor/_requests.py``), matched by type, falling
  back on this class for the shared ones.

A refused request fails the caller's call with its error (``Caller._fail``, an internal export of
``supervisor/_server.py``) and never disturbs the supervisor.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, ClassVar, Final, Self

from supervisor import _children as child_ops
from supervisor import telemetry
from supervisor._child_records import (
    ChildCounts,
    ChildInfo,
    ChildRecord,
    ChildState,
    RestartAck,
    count_children,
)
from supervisor._childspec import ChildSpec, ChildType, Restart, Shutdown
from supervisor._clock import Clock, MonotonicClock
from supervisor._exits import SHUTDOWN, Exit
from supervisor._flags import AutoShutdown, Strategy, SupervisorFlags
from supervisor._intensity import RestartIntensity
from supervisor._requests import CountChildren, WhichChildren, ask, unknown_request
from supervisor._server import NOREPLY, Caller, Server, Stop
from supervisor.errors import ArbordError, StartFailed, SupervisorGaveUp

__all__ = ["SupervisorEngine"]

log = logging.getLogger("supervisor.supervisor")

# Reading an enum member through its class costs a Python-level lookup in CPython 3.11 (about 80 ns);
# the restart path reads these on every restart (bench core, "crash -> restarted & ready").
_RUNNING: Final = ChildState.RUNNING
_UNDEFINED: Final = ChildState.UNDEFINED
_RESTARTING: Final = ChildState.RESTARTING
_WARNING: Final = logging.WARNING
_CHILD_EXIT: Final = child_ops.CHILD_EXIT
_PERMANENT: Final = Restart.PERMANENT
_TRANSIENT: Final = Restart.TRANSIENT


class _Crash:
    """Crash the supervisor with ``error``: raised by ``handle_info`` in the supervisor's own task."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class _TryAgain:
    """A queued retry of a failed restart (OTP's try_again_restart), keyed by the child record."""

    __slots__ = ("child",)

    def __init__(self, child: ChildRecord) -> None:
        self.child = child


class SupervisorEngine(Server):
    """The shared base of ``Supervisor`` and ``DynamicSupervisor``; not meant to be used directly."""

    # How log lines name this kind of supervisor.
    _kind: ClassVar[str] = "supervisor"
    # Whether which_children leaves the ids out (Elixir's DynamicSupervisor says :undefined).
    _anonymous_children: ClassVar[bool] = False

    flags: SupervisorFlags
    """The flags in force (set once the supervisor has started)."""

    def __init__(self, boot_args: tuple[Any, ...], boot_kwargs: dict[str, Any], name: str | None) -> None:
        super().__init__()
        # What ``async with`` starts the supervisor with; as a ChildSpec, the spec's args are used.
        self._pending = (boot_args, boot_kwargs, name)
        self._pending_restart: RestartAck | None = None
        # The start_timeout of the pending held restart, if its spec has one (_restart_timed_out).
        self._restart_deadline: asyncio.TimerHandle | None = None
        self._extra_args: tuple[Any, ...] = ()
        # The children being stopped now: out of their records already (a stopped child must not be
        # restarted), so _linked_exit finds them here
        # (test_killing_a_supervisor_while_it_stops_a_child_kills_that_child_too).
        self._stopping: set[Server] = set()
        # Built once: the label is read on every restart (bench core, "crash -> restarted & ready").
        self._anonymous_label = f"{type(self).__name__}@{id(self):#x}"
        self.abandoned: list[str] = []
        """Ids of children that ignored cancellation and were left behind (the offenders)."""
        # ``async with``: the task running the body (None outside it), whether this supervisor's giving
        # up cancelled it, and, once it reached its intensity, what to say and which child was one
        # restart too many.
        self._body: asyncio.Task[Any] | None = None
        self._body_cancelled = False
        self._escalation: tuple[str, str] | None = None

    @classmethod
    def _as_child(
        cls,
        child_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        restart: Restart,
        shutdown: float | Shutdown | None,
        significant: bool,
        name: str | None,
    ) -> ChildSpec:
        """The spec ``child_spec`` returns: this class started with ``args`` and ``kwargs``."""
        return ChildSpec(
            child_id,
            cls,
            args=args,
            kwargs=kwargs,
            restart=restart,
            shutdown=shutdown,
            type=ChildType.SUPERVISOR,
            significant=significant,
            name=name,
        )

    def _configure(self, flags: SupervisorFlags, clock: Clock | None) -> None:
        """Take on ``flags``: run by each subclass's ``init``."""
        self.flags = flags
        self._one_for_one = flags.strategy is Strategy.ONE_FOR_ONE
        self._intensity = RestartIntensity(flags.intensity, flags.period, clock or MonotonicClock())

    @property
    def strategy(self) -> Strategy:
        """``flags.strategy``."""
        return self.flags.strategy

    @property
    def auto_shutdown(self) -> AutoShutdown:
        """``flags.auto_shutdown``."""
        return self.flags.auto_shutdown

    @property
    def kill_grace(self) -> float:
        """``flags.kill_grace``."""
        return self.flags.kill_grace

    @property
    def label(self) -> str:
        """How reports name this supervisor: its registered name, else its class and id."""
        return self._name or self._anonymous_label

    # --- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        args, kwargs, name = self._pending
        await self._boot(args, kwargs, name)
        if self._exit is not None:
            # Gone between its init and this line (a child crashed at once past intensity 0): the
            # body would start against nothing. Cancelling it now would leave the cancellation
            # pending after the body on Python 3.11, so refuse to enter instead.
            self._raise_if_gave_up(self._exit, None)
            return self
        self._body = asyncio.current_task()
        self._add_exit_callback(self._cancel_body)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the supervisor; raise ``SupervisorGaveUp`` if it gave up first (as ``TaskGroup`` does).

        Whichever came first wins: a body that raised (or was cancelled from outside) while the
        supervisor ran has its exception go on once the supervisor is stopped; a supervisor that gave
        up while the body ran cancelled the body, and its exit is raised here, chained from anything
        else the body raised meanwhile (docs/supervision.md, "async with").
        """
        body, self._body = self._body, None
        self._remove_exit_callback(self._cancel_body)
        cancelled, self._body_cancelled = self._body_cancelled, False
        if self.alive:
            reason: Exit = await self.stop(SHUTDOWN)
            if exc_type is not None:
                return
        else:
            assert self._exit is not None
            reason = self._exit
        if cancelled and body is not None and body.uncancel() > 0 and exc_type is asyncio.CancelledError:
            # Cancelled from outside as well: that cancellation is not ours to swallow
            # (test_a_body_cancelled_from_outside_stays_cancelled_when_the_supervisor_gives_up).
            return
        if exc is not None and not isinstance(exc, Exception | asyncio.CancelledError):
            return  # KeyboardInterrupt, SystemExit: they go on up, whatever the supervisor did
        self._raise_if_gave_up(reason, exc if isinstance(exc, Exception) else None)

    def _gave_up(self, reason: Exit) -> bool:
        """Whether exiting with ``reason`` is giving up: past the intensity, or an abnormal exit."""
        return self._escalation is not None or reason.is_abnormal

    def _cancel_body(self, reason: Exit) -> None:
        """Exit callback while an ``async with`` body runs: a supervisor that gave up cancels it."""
        body = self._body
        if body is not None and not body.done() and self._gave_up(reason):
            self._body_cancelled = True
            body.cancel()

    def _raise_if_gave_up(self, reason: Exit, body_error: Exception | None) -> None:
        """Raise ``SupervisorGaveUp`` if exiting with ``reason`` was giving up."""
        if not self._gave_up(reason):
            return
        if self._escalation is not None:
            note, child_id = self._escalation
            error = SupervisorGaveUp(f"{self._kind} {self.label} gave up: {note}", reason, child_id)
        else:
            error = SupervisorGaveUp(f"{self._kind} {self.label} exited: {reason!r}", reason)
        raise error from (body_error if body_error is not None else reason.exception)

    async def terminate(self, reason: Exit) -> None:
        await self._stop_children()
        telemetry.execute(("supervisor", "shutdown"), {}, {"supervisor": self.label, "reason": reason})

    def _linked_exit(self, reason: Exit) -> None:
        # Killed without running terminate: kill the children too, as an OTP link would, including
        # one still in init (as _start's cancelled `await started` does).
        ack, self._pending_restart = self._pending_restart, None
        if self._restart_deadline is not None:
            self._restart_deadline.cancel()
            self._restart_deadline = None
        if ack is not None and ack.server is not None:
            ack.server.kill()
        for child in self._records():
            if child.server is not None and child.server.alive:
                child.server.kill()
        for server in list(self._stopping):
            server.kill()

    # --- how records are kept: the subclass's part -----------------------------------------------

    def _records(self) -> Iterable[ChildRecord]:
        """Every record, in ``which_children`` order."""
        raise NotImplementedError

    def _add(self, child: ChildRecord) -> None:
        """Keep a new record."""
        raise NotImplementedError

    def _drop(self, child: ChildRecord) -> None:
        """Forget a record."""
        raise NotImplementedError

    def _holds(self, child: ChildRecord) -> bool:
        """Whether ``child`` is still one of this supervisor's records."""
        raise NotImplementedError

    def _keeps(self, child: ChildRecord) -> bool:
        """Whether a record left with no server (ignored, exited for good, terminated) is kept."""
        return child.spec.restart is not Restart.TEMPORARY

    async def _stop_children(self) -> None:
        """Stop every child at shutdown."""
        raise NotImplementedError

    # --- starting and stopping children ----------------------------------------------------------

    async def _start(self, child: ChildRecord) -> Server | None:
        """Start one child; None on ignore (the record is then dropped unless kept). Raises StartFailed."""
        server = await child_ops.spawn(child.spec, self._extra_args, self.flags.kill_grace, self.label)
        return self._started(child, server)

    def _started(self, child: ChildRecord, server: Server | None) -> Server | None:
        """Record the outcome of a start: a running child, or an ignored one."""
        if server is None:
            child.server, child.state = None, _UNDEFINED
            if not self._keeps(child):
                self._drop(child)
            return None
        child.server, child.state = server, _RUNNING
        child.started_at = time.monotonic()
        # A Server subclass started by the supervisor and already gone has exited after its init (with
        # a one_for_one restart it cannot have: _restart_held watches it before its first message).
        child.watch_key = child_ops.watch(self, child, server, own_reason=child.server_class is not None)
        if child_ops.CHILD_START in telemetry.active_events:
            telemetry.execute(
                child_ops.CHILD_START,
                {"restarts": child.restarts},
                {"supervisor": self.label, "child_id": child.spec.id},
            )
        return server

    async def _start_new(self, child: ChildRecord) -> Server | None:
        """Keep and start a new child (``start_child``); a failed start keeps nothing."""
        self._add(child)
        try:
            return await self._start(child)
        except StartFailed:
            self._drop(child)
            raise

    async def _stop(self, child: ChildRecord) -> None:
        """Stop a running child per its shutdown spec, without triggering a restart."""
        server = child.server
        child.server, child.state = None, _UNDEFINED
        if server is None:
            return
        child_ops.unwatch(server, child.watch_key)
        self._stopping.add(server)
        try:
            outcome = await child_ops.stop_child(server, child.spec, self.flags.kill_grace)
        finally:
            # Still alive when this supervisor is killed meanwhile (this await is cancelled): its
            # _linked_exit, which runs after, kills the child; or when abandoned, as it is reported.
            if not server.alive:
                self._stopping.discard(server)
        if outcome.abandoned:
            self.abandoned.append(child.spec.id)
        child_ops.report_stop(self.label, child.spec, outcome)

    async def _terminate(self, child: ChildRecord) -> None:
        """``terminate_child``: stop the child; it stays stopped, and its record goes unless kept."""
        if child.state is _RUNNING:
            await self._stop(child)
        child.state = _UNDEFINED
        if not self._keeps(child):
            self._drop(child)

    # --- restarts --------------------------------------------------------------------------------

    async def handle_info(self, message: Any) -> None:
        # A ChildExit is stale when the supervisor already stopped or replaced that incarnation.
        if type(message) is child_ops.ChildExit:
            child = message.child
            if child.server is message.server and self._child_exited(child, message.reason):
                if self._one_for_one and child.server_class is not None:
                    self._restart_held(child)
                else:
                    await self._restart_group(child)
        elif type(message) is _Crash:
            raise message.error

    def _child_exited(self, child: ChildRecord, reason: Exit) -> bool:
        """Record a child's exit; True when it is to be restarted now (the restart is then counted)."""
        child.server, child.state = None, _UNDEFINED
        if _CHILD_EXIT in telemetry.active_events:  # no call while nobody listens (bench core)
            child_ops.emit_exit(self._name or self._anonymous_label, child.spec, reason, child.restarts)
        # child_ops.should_restart, inline (OTP's rule: permanent always, transient only after an
        # abnormal exit, temporary never): a call saved on the restart path (bench core).
        restart = child.spec.restart
        if restart is _PERMANENT or (restart is _TRANSIENT and reason.is_abnormal):
            self._count_restart(child, reason)
            if reason.exception is not None:
                child_ops.drop_crash_locals(reason.exception)
            return True
        child_ops.report_exit(self._name or self._anonymous_label, child.spec, reason, child.restarts)
        if reason.exception is not None:
            child_ops.drop_crash_locals(reason.exception)
        if not self._keeps(child):
            self._drop(child)
        if child.spec.significant and self._auto_shutdown_due():
            log.info(
                "%s %s: significant child %r exited; shutting down",
                self._kind,
                self.label,
                child.spec.id,
            )
            raise Stop(SHUTDOWN)
        return False

    def _auto_shutdown_due(self) -> bool:
        auto_shutdown = self.flags.auto_shutdown
        if auto_shutdown is AutoShutdown.ANY_SIGNIFICANT:
            return True
        if auto_shutdown is AutoShutdown.ALL_SIGNIFICANT:
            return not any(c.spec.significant and c.state is not _UNDEFINED for c in self._records())
        return False

    def _count_restart(self, child: ChildRecord, reason: Exit | None) -> None:
        """Count one restart toward the intensity and report it (the exit's ``reason``; None for the
        retry of a failed restart, already reported by ``_retry_later``); past the intensity, report
        the exit and give up (raise ``Stop(SHUTDOWN)``)."""
        if not self._intensity.add_restart():
            self._escalation = (
                f"reached max restart intensity ({self._intensity.intensity} in "
                f"{self._intensity.period:g} s) restarting {child.spec.id!r}",
                child.spec.id,
            )
            if reason is not None:
                child_ops.report_exit(self.label, child.spec, reason, child.restarts)
            log.error(
                "%s %s reached max restart intensity (%d in %g s); shutting down",
                self._kind,
                self.label,
                self._intensity.intensity,
                self._intensity.period,
                extra={"supervisor": self.label, "child_id": child.spec.id},
            )
            telemetry.execute(
                ("supervisor", "escalate"),
                {"intensity": self._intensity.intensity},
                {"supervisor": self.label, "child_id": child.spec.id},
            )
            raise Stop(SHUTDOWN)
        child.restarts += 1
        # The level is tested here first: the benchmarks run with logging off, and a call saved is
        # a share of the restart (bench core, "crash -> restarted & ready").
        if reason is not None and log.isEnabledFor(_WARNING):
            child_ops.report_restart(self.label, child.spec, reason, child.restarts)
        if child_ops.CHILD_RESTART in telemetry.active_events:
            telemetry.execute(
                child_ops.CHILD_RESTART,
                {"restarts": child.restarts, "intensity_left": self._intensity.left},
                {"supervisor": self.label, "child_id": child.spec.id, "strategy": self.flags.strategy.value},
            )

    async def _restart_group(self, child: ChildRecord) -> None:
        """Restart ``child`` (the restart is already counted); ``Supervisor`` adds its strategies."""
        await self._restart_members([child])

    async def _restart_members(self, group: Sequence[ChildRecord]) -> None:
        """Start ``group`` in order; the first that fails is retried through the mailbox."""
        for member in group:
            try:
                await self._start(member)
            except StartFailed as error:
                self._retry_later(member, error)
                return

    def _restart_held(self, child: ChildRecord) -> None:
        """Restart one child without waiting for its init in this task (one_for_one, Server subclass).

        OTP's supervisor blocks until the new child's init returns. Awaiting a future for that costs
        the supervisor's task one more wake-up per restart than a hand-rolled restart loop makes
        (bench core, "crash -> restarted & ready"). Instead the supervisor holds its mailbox (messages
        queue up, none is handled) and hands the child a ``RestartAck`` as its start signal: the
        child's task records the outcome of init as soon as it is known, exactly as ``_start`` would
        have, then releases the mailbox, waking the supervisor only if a message is waiting.
        """
        cls = child.server_class
        assert cls is not None
        ack = child.ack
        if ack is None:
            ack = child.ack = RestartAck(child, self._restart_acked)
        ack.reported = False
        ack.server = None
        try:
            server = child_ops.launch(cls, child.spec, ack, self._extra_args)
        except StartFailed as error:
            self._retry_later(child, error)
            return
        if server is None:
            self._started(child, None)
            return
        ack.server = server
        self._pending_restart = ack
        self._hold_mail()  # until _restart_acked releases it
        limit = child.spec.start_timeout
        if limit is not None:  # no timer at all by default: the restart path stays as fast
            self._restart_deadline = asyncio.get_running_loop().call_later(
                limit, self._restart_timed_out, ack, limit
            )

    def _restart_timed_out(self, ack: RestartAck, limit: float) -> None:
        """A held restart outlasted its ``start_timeout``: kill the child and fail the restart, which
        releases the mailbox, so a stop or a management request still gets in (and the restart is
        retried through the mailbox, counted against the intensity, as any failed restart)."""
        self._restart_deadline = None
        if self._pending_restart is not ack or ack.server is None:
            return
        # Its late report must not pass for the next incarnation's: that one gets a new signal.
        ack.record.ack = None
        child_ops.cancel_start(ack.server)
        self._restart_acked(ack, False, child_ops.start_timed_out(ack.record.spec, limit))

    def _restart_acked(self, ack: RestartAck, running: bool, error: BaseException | None) -> None:
        """Runs in the restarted child's task (or its done callback) once its init has an outcome."""
        if self._pending_restart is not ack:  # the supervisor was killed meanwhile (see _linked_exit)
            return
        self._pending_restart = None
        if self._restart_deadline is not None:
            self._restart_deadline.cancel()
            self._restart_deadline = None
        try:
            if error is None:
                self._started(ack.record, ack.server if running else None)
            else:
                assert isinstance(error, StartFailed)
                self._retry_later(ack.record, error)
        except Exception as failure:
            # In _start this would have crashed the supervisor, not the child whose task runs this.
            self.send(_Crash(failure))
        finally:
            self._release_mail()

    def _retry_later(self, member: ChildRecord, error: StartFailed) -> None:
        """A restart failed: retry it through the mailbox, so a stop request still gets in (OTP-9549)."""
        log.error(
            "%s %s: restart of %r failed: %r; retrying",
            self._kind,
            self.label,
            member.spec.id,
            error.reason,
            extra={"supervisor": self.label, "child_id": member.spec.id},
        )
        member.state = _RESTARTING
        self.cast(_TryAgain(member))

    async def handle_cast(self, message: Any) -> None:
        if type(message) is _TryAgain:
            child = message.child
            if child.state is _RESTARTING and self._holds(child):
                self._count_restart(child, None)
                await self._restart_group(child)

    # --- management requests ---------------------------------------------------------------------

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        try:
            return await self._handle_request(request)
        except ArbordError as error:
            # A refused request is the caller's problem, never a reason for the supervisor to crash.
            caller._fail(error)
            return NOREPLY

    async def _handle_request(self, request: object) -> object:
        """The requests every supervisor answers the same way; a subclass matches its own first."""
        match request:
            case WhichChildren():
                return [c.info(anonymous=self._anonymous_children) for c in self._records()]
            case CountChildren():
                return count_children(self._records())
            case _:
                raise unknown_request(self.label, request)

    async def which_children(self, timeout: float | None = None) -> list[ChildInfo]:
        """Every child: under ``Supervisor`` most recently started first (OTP's order); under
        ``DynamicSupervisor`` in no particular order, with ids None (Elixir's ``:undefined``)."""
        return await ask(self, WhichChildren(), timeout)

    async def count_children(self, timeout: float | None = None) -> ChildCounts:
        """Counts of specs, active children, supervisors and workers."""
        return await ask(self, CountChildren(), timeout)
