"""Supervisor: starts children in order, restarts them by strategy, gives up past its intensity.

>>> import asyncio
>>> from supervisor.server import Server
>>> from supervisor.runtime import whereis
>>> class Worker(Server):
...     async def handle_call(self, request: object, caller: object) -> object:
...         return request
>>> async def demo() -> list[str]:
...     sup = Supervisor([ChildSpec("a", Worker, name="a"), ChildSpec("b", Worker, name="b")])
...     async with sup:
...         first = whereis("a")
...         first.kill()                       # one_for_one: only "a" is restarted
...         await first.wait()
...         await sup.which_children()         # a call: the restart was handled before it
...         return [info.id for info in await sup.which_children()]
>>> asyncio.run(demo())                        # most recently started first, as OTP lists them
['b', 'a']

Semantics follow OTP's ``supervisor`` (docs/supervision.md lists every deliberate difference): children
start left to right and stop in reverse; a restart counts once toward intensity whatever the strategy;
more than ``intensity`` restarts within ``period`` seconds stops every child and then the supervisor, with
reason ``shutdown``; a failed restart is retried through the supervisor's own mailbox, so a stop request
still gets in (OTP-9549).
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

from supervisor import children as child_ops
from supervisor import telemetry
from supervisor.childspec import ChildSpec, ChildType, Restart
from supervisor.clock import Clock, MonotonicClock
from supervisor.errors import (
    AlreadyStarted,
    ArbordError,
    ChildAlreadyPresent,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    InvalidChildSpec,
    InvalidSupervisorFlags,
    StartFailed,
)
from supervisor.exits import SHUTDOWN, Exit, shutdown
from supervisor.intensity import RestartIntensity
from supervisor.server import Caller, Server, Stop

__all__ = [
    "DEFAULT_INTENSITY",
    "DEFAULT_KILL_GRACE",
    "DEFAULT_PERIOD",
    "AutoShutdown",
    "ChildCounts",
    "ChildInfo",
    "ChildState",
    "Strategy",
    "Supervisor",
    "check_flags",
    "check_spec",
    "check_specs",
    "validate_flags",
]

log = logging.getLogger("supervisor.supervisor")

DEFAULT_INTENSITY: Final = 3  # Elixir's default (OTP's is 1): see docs/supervision.md
DEFAULT_PERIOD: Final = 5.0
DEFAULT_KILL_GRACE: Final = 1.0


class Strategy(enum.Enum):
    """Which children a supervisor restarts when one of them exits and is to be restarted."""

    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


class AutoShutdown(enum.Enum):
    """Whether the supervisor stops itself when significant children exit on their own (OTP 24)."""

    NEVER = "never"
    ANY_SIGNIFICANT = "any_significant"
    ALL_SIGNIFICANT = "all_significant"


class ChildState(enum.Enum):
    """OTP's child states: running (a live server), restarting (a retry is queued), undefined (stopped)."""

    RUNNING = "running"
    RESTARTING = "restarting"
    UNDEFINED = "undefined"


# Reading an enum member through its class costs a Python-level lookup in CPython 3.11 (about 80 ns);
# the restart path reads these on every restart (bench core, "crash -> restarted & ready").
_ONE_FOR_ONE: Final = Strategy.ONE_FOR_ONE
_RUNNING: Final = ChildState.RUNNING
_UNDEFINED: Final = ChildState.UNDEFINED


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """One row of ``which_children``. ``id`` is None under a DynamicSupervisor."""

    id: str | None
    server: Server | None
    state: ChildState
    type: ChildType
    restarts: int
    uptime: float | None


@dataclass(frozen=True, slots=True)
class ChildCounts:
    """``count_children``: specs (alive or not), active (running), supervisors and workers (any state)."""

    specs: int
    active: int
    supervisors: int
    workers: int


class _Child:
    """A supervisor's record of one child."""

    __slots__ = ("ack", "restarts", "server", "server_class", "spec", "started_at", "state", "watch_key")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        # Worked out once per child, not on every (re)start.
        self.server_class = child_ops.server_class(spec)
        self.ack: _RestartAck | None = None
        self.server: Server | None = None
        self.watch_key: object = None
        self.state = ChildState.UNDEFINED
        self.restarts = 0
        self.started_at = 0.0

    def info(self, *, anonymous: bool = False) -> ChildInfo:
        running = self.state is ChildState.RUNNING
        return ChildInfo(
            id=None if anonymous else self.spec.id,
            server=self.server,
            state=self.state,
            type=self.spec.type,
            restarts=self.restarts,
            uptime=time.monotonic() - self.started_at if running else None,
        )


@dataclass(frozen=True, slots=True)
class _Refused:
    """A management request's error, carried back in the reply and raised in the caller."""

    error: ArbordError


async def management_call(server: Server, request: tuple[str, Any], timeout: float | None) -> Any:
    """Make a management call and raise the error the supervisor refused it with, if any."""
    result = await server.call(request, timeout)
    if isinstance(result, _Refused):
        raise result.error
    return result


class _RestartAck:
    """The start signal of a child restarted by ``Supervisor._restart_held``: a future's ``done``,
    ``set_result`` and ``set_exception``, which record the outcome of the child's init at once.

    One per child record, reused by each restart (``server`` is the incarnation being started): each
    incarnation reports exactly once, before the next one can be started."""

    __slots__ = ("_done", "child", "server", "supervisor")

    def __init__(self, supervisor: Supervisor, child: _Child) -> None:
        self.supervisor = supervisor
        self.child = child
        self.server: Server | None = None
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, running: bool, /) -> None:
        self._done = True
        self.supervisor._restart_acked(self, running, None)

    def set_exception(self, error: BaseException, /) -> None:
        self._done = True
        self.supervisor._restart_acked(self, False, error)


@dataclass(frozen=True, slots=True)
class _Crash:
    """Crash the supervisor with ``error``: raised by ``handle_info`` in the supervisor's own task."""

    error: Exception


@dataclass(frozen=True, slots=True)
class _TryAgain:
    """A queued retry of a failed restart (OTP's try_again_restart), keyed by the child record."""

    child: _Child


def validate_flags(intensity: int, period: float, kill_grace: float) -> None:
    """Check the restart flags shared by both supervisors; raises ``InvalidSupervisorFlags``."""
    if isinstance(intensity, bool) or not isinstance(intensity, int) or intensity < 0:
        raise InvalidSupervisorFlags(f"intensity must be an int >= 0, got {intensity!r}")
    if isinstance(period, bool) or not isinstance(period, int | float) or not period > 0:
        raise InvalidSupervisorFlags(f"period must be seconds > 0, got {period!r}")
    if isinstance(kill_grace, bool) or not isinstance(kill_grace, int | float) or kill_grace < 0:
        raise InvalidSupervisorFlags(f"kill_grace must be seconds >= 0, got {kill_grace!r}")


def check_flags(
    strategy: Strategy, auto_shutdown: AutoShutdown, intensity: int, period: float, kill_grace: float
) -> None:
    """Check a Supervisor's flags; raises ``InvalidSupervisorFlags``."""
    if not isinstance(strategy, Strategy):
        raise InvalidSupervisorFlags(f"strategy must be a Strategy, got {strategy!r}")
    if not isinstance(auto_shutdown, AutoShutdown):
        raise InvalidSupervisorFlags(f"auto_shutdown must be an AutoShutdown, got {auto_shutdown!r}")
    validate_flags(intensity, period, kill_grace)


def check_spec(spec: ChildSpec, auto_shutdown: AutoShutdown) -> None:
    """Check one spec against the supervisor's flags; raises ``InvalidChildSpec``."""
    if not isinstance(spec, ChildSpec):
        raise InvalidChildSpec(f"a child spec must be a ChildSpec, got {spec!r}")
    if spec.significant and auto_shutdown is AutoShutdown.NEVER:
        raise InvalidChildSpec(f"child {spec.id!r}: field 'significant' needs auto_shutdown other than NEVER")


def check_specs(specs: Sequence[ChildSpec], auto_shutdown: AutoShutdown) -> None:
    """Check every spec and that ids are unique (OTP's duplicate_child_name); raises ``InvalidChildSpec``."""
    seen: set[str] = set()
    for spec in specs:
        check_spec(spec, auto_shutdown)
        if spec.id in seen:
            raise InvalidChildSpec(f"child {spec.id!r}: duplicate child id (duplicate_child_name)")
        seen.add(spec.id)


class Supervisor(Server):
    """OTP's supervisor. Use ``async with Supervisor([...])`` or as a ``ChildSpec`` of another one.

    ``kill_grace`` is how long a cancelled child may take to die before it is abandoned.
    """

    def __init__(
        self,
        children: Sequence[ChildSpec] = (),
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        intensity: int = DEFAULT_INTENSITY,
        period: float = DEFAULT_PERIOD,
        auto_shutdown: AutoShutdown = AutoShutdown.NEVER,
        kill_grace: float = DEFAULT_KILL_GRACE,
        clock: Clock | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__()
        children = list(children)
        # Checked here too, not only in init, so that ``Supervisor([...])`` refuses bad flags, a bad spec
        # or a duplicate id with that precise error before anything starts, instead of a StartFailed
        # wrapping it at __aenter__ (test_duplicate_ids_refuse_to_start_before_anything_starts).
        check_flags(strategy, auto_shutdown, intensity, period, kill_grace)
        check_specs(children, auto_shutdown)
        self._pending: tuple[tuple[Any, ...], dict[str, Any], str | None] = (
            (children,),
            {
                "strategy": strategy,
                "intensity": intensity,
                "period": period,
                "auto_shutdown": auto_shutdown,
                "kill_grace": kill_grace,
                "clock": clock,
            },
            name,
        )
        self._children: list[_Child] = []
        self._pending_restart: _RestartAck | None = None
        # Built once: the label is read on every restart (bench core, "crash -> restarted & ready").
        self._anonymous_label = f"{type(self).__name__}@{id(self):#x}"
        self.abandoned: list[str] = []
        """Ids of children that ignored cancellation and were left behind (the offenders)."""

    # --- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        args, kwargs, name = self._pending
        await self._boot(args, kwargs, name)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.alive:
            await self.stop(SHUTDOWN)

    async def init(  # type: ignore[override, unused-ignore]
        self,
        children: Sequence[ChildSpec] = (),
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        intensity: int = DEFAULT_INTENSITY,
        period: float = DEFAULT_PERIOD,
        auto_shutdown: AutoShutdown = AutoShutdown.NEVER,
        kill_grace: float = DEFAULT_KILL_GRACE,
        clock: Clock | None = None,
    ) -> None:
        check_flags(strategy, auto_shutdown, intensity, period, kill_grace)
        check_specs(children, auto_shutdown)
        self.strategy = strategy
        self.auto_shutdown = auto_shutdown
        self.kill_grace = float(kill_grace)
        self._intensity = RestartIntensity(intensity, float(period), clock or MonotonicClock())
        self._children = [_Child(spec) for spec in children]
        for child in list(self._children):
            try:
                await self._start(child)
            except StartFailed as error:
                await self._stop_all()
                raise Stop(shutdown((child.spec.id, error.reason))) from error

    def _check_spec(self, spec: ChildSpec) -> None:
        check_spec(spec, self.auto_shutdown)

    async def terminate(self, reason: Exit) -> None:
        await self._stop_all()
        telemetry.execute(("supervisor", "shutdown"), {}, {"supervisor": self.label, "reason": reason})

    def _linked_exit(self, reason: Exit) -> None:
        # Killed without running terminate: kill the children too, as an OTP link would, including
        # one still in init (as _start's cancelled `await started` does).
        ack, self._pending_restart = self._pending_restart, None
        if ack is not None and ack.server is not None:
            ack.server.kill()
        for child in self._children:
            if child.server is not None and child.server.alive:
                child.server.kill()

    @property
    def label(self) -> str:
        """How reports name this supervisor: its registered name, else its class and id."""
        return self._name or self._anonymous_label

    # --- starting and stopping children ----------------------------------------------------------

    async def _start(self, child: _Child) -> Server | None:
        """Start one child; None on ignore (a temporary child is then dropped). Raises StartFailed."""
        return self._started(child, await child_ops.spawn(child.spec))

    def _started(self, child: _Child, server: Server | None) -> Server | None:
        """Record the outcome of a start: a running child, or an ignored one."""
        if server is None:
            child.server, child.state = None, _UNDEFINED
            if child.spec.restart is Restart.TEMPORARY:
                self._children.remove(child)
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

    async def _stop(self, child: _Child) -> None:
        """Stop a running child per its shutdown spec, without triggering a restart."""
        server = child.server
        child.server, child.state = None, ChildState.UNDEFINED
        if server is None:
            return
        child_ops.unwatch(server, child.watch_key)
        outcome = await child_ops.stop_child(server, child.spec, self.kill_grace)
        if outcome.abandoned:
            self.abandoned.append(child.spec.id)
        child_ops.report_stop(self.label, child.spec, outcome)

    async def _stop_all(self, children: Sequence[_Child] | None = None) -> None:
        """Stop children in reverse start order; temporary ones are dropped."""
        for child in reversed(list(self._children if children is None else children)):
            await self._stop(child)
            if child.spec.restart is Restart.TEMPORARY and child in self._children:
                self._children.remove(child)

    # --- restarts --------------------------------------------------------------------------------

    async def handle_info(self, message: Any) -> None:
        # A ChildExit is stale when the supervisor already stopped or replaced that incarnation.
        if type(message) is child_ops.ChildExit and message.child.server is message.server:  # type: ignore[attr-defined]
            child: _Child = message.child  # type: ignore[assignment]
            if self._child_exited(child, message.reason):
                if self.strategy is _ONE_FOR_ONE and child.server_class is not None:
                    self._restart_held(child)
                else:
                    await self._restart_group(child)
        elif type(message) is _Crash:
            raise message.error

    def _restart_held(self, child: _Child) -> None:
        """Restart one child without waiting for its init in this task (one_for_one, Server subclass).

        OTP's supervisor blocks until the new child's init returns. Awaiting a future for that costs
        the supervisor's task one more wake-up per restart than a hand-rolled restart loop makes
        (bench core, "crash -> restarted & ready"). Instead the supervisor holds its mailbox (messages
        queue up, none is handled) and hands the child a ``_RestartAck`` as its start signal: the
        child's task records the outcome of init as soon as it is known, exactly as ``_start`` would
        have, then releases the mailbox, waking the supervisor only if a message is waiting.
        """
        cls = child.server_class
        assert cls is not None
        ack = child.ack
        if ack is None:
            ack = child.ack = _RestartAck(self, child)
        ack._done = False
        ack.server = None
        try:
            server = child_ops.launch(cls, child.spec, ack)
        except StartFailed as error:
            self._retry_later(child, error)
            return
        if server is None:
            self._started(child, None)
            return
        ack.server = server
        self._pending_restart = ack
        self._hold_mail()  # until _restart_acked releases it

    def _restart_acked(self, ack: _RestartAck, running: bool, error: BaseException | None) -> None:
        """Runs in the restarted child's task (or its done callback) once its init has an outcome."""
        if self._pending_restart is not ack:  # the supervisor was killed meanwhile (see _linked_exit)
            return
        self._pending_restart = None
        try:
            if error is None:
                self._started(ack.child, ack.server if running else None)
            else:
                assert isinstance(error, StartFailed)
                self._retry_later(ack.child, error)
        except Exception as failure:
            # In _start this would have crashed the supervisor, not the child whose task runs this.
            self.send(_Crash(failure))
        finally:
            self._release_mail()

    async def handle_cast(self, message: Any) -> None:
        if isinstance(message, _TryAgain):
            child = message.child
            if child.state is ChildState.RESTARTING and child in self._children:
                self._count_restart(child)
                await self._restart_group(child)

    def _child_exited(self, child: _Child, reason: Exit) -> bool:
        """Record a child's exit; True when it is to be restarted now (the restart is then counted)."""
        child.server, child.state = None, _UNDEFINED
        child_ops.report_exit(self._name or self._anonymous_label, child.spec, reason, child.restarts)
        if child_ops.should_restart(child.spec, reason):
            self._count_restart(child)
            return True
        if child.spec.restart is Restart.TEMPORARY:
            self._children.remove(child)
        if child.spec.significant and self._auto_shutdown_due():
            log.info(
                "supervisor %s: significant child %r exited; shutting down",
                self.label,
                child.spec.id,
            )
            raise Stop(SHUTDOWN)
        return False

    def _auto_shutdown_due(self) -> bool:
        if self.auto_shutdown is AutoShutdown.ANY_SIGNIFICANT:
            return True
        if self.auto_shutdown is AutoShutdown.ALL_SIGNIFICANT:
            return not any(c.spec.significant and c.state is not ChildState.UNDEFINED for c in self._children)
        return False

    def _count_restart(self, child: _Child) -> None:
        """Count one restart toward the intensity; past it, give up (raise ``Stop(SHUTDOWN)``)."""
        if not self._intensity.add_restart():
            log.error(
                "supervisor %s reached max restart intensity (%d in %g s); shutting down",
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
        if child_ops.CHILD_RESTART in telemetry.active_events:
            telemetry.execute(
                child_ops.CHILD_RESTART,
                {"restarts": child.restarts},
                {"supervisor": self.label, "child_id": child.spec.id, "strategy": self.strategy.value},
            )

    async def _restart_group(self, child: _Child) -> None:
        """Restart ``child`` per the strategy (the restart is already counted)."""
        if self.strategy is _ONE_FOR_ONE:
            group = [child]
        else:
            if self.strategy is Strategy.ONE_FOR_ALL:
                group = list(self._children)
            else:
                group = self._children[self._children.index(child) :]
            await self._stop_all([c for c in group if c is not child])
            group = [c for c in group if c in self._children]
        for member in group:
            try:
                await self._start(member)
            except StartFailed as error:
                self._retry_later(member, error)
                return

    def _retry_later(self, member: _Child, error: StartFailed) -> None:
        """A restart failed: retry it through the mailbox, so a stop request still gets in (OTP-9549)."""
        log.error(
            "supervisor %s: restart of %r failed: %r; retrying",
            self.label,
            member.spec.id,
            error.reason,
            extra={"supervisor": self.label, "child_id": member.spec.id},
        )
        member.state = ChildState.RESTARTING
        self.cast(_TryAgain(member))

    # --- the management API ----------------------------------------------------------------------

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        try:
            return await self._management(*request)
        except ArbordError as error:
            # A refused request is the caller's problem, never a reason for the supervisor to crash.
            return _Refused(error)

    async def _management(self, op: str, arg: Any) -> Any:
        if op == "start_child":
            return await self._start_child(arg)
        if op == "which_children":
            return [c.info() for c in reversed(self._children)]
        if op == "count_children":
            return ChildCounts(
                specs=len(self._children),
                active=sum(1 for c in self._children if c.state is ChildState.RUNNING),
                supervisors=sum(1 for c in self._children if c.spec.type is ChildType.SUPERVISOR),
                workers=sum(1 for c in self._children if c.spec.type is ChildType.WORKER),
            )
        if op == "replace_childspec":
            self._check_spec(arg)
            child = self._find(arg.id)
            self._require_stopped(child)
            self._children[self._children.index(child)] = _Child(arg)
            return None
        child = self._find(arg)
        if op == "get_childspec":
            return child.spec
        if op == "terminate_child":
            if child.state is ChildState.RUNNING:
                await self._stop(child)
            child.state = ChildState.UNDEFINED
            if child.spec.restart is Restart.TEMPORARY:
                self._children.remove(child)
            return None
        self._require_stopped(child)
        if op == "restart_child":
            return await self._start(child)
        if op == "delete_child":
            self._children.remove(child)
            return None
        raise ChildNotFound(f"unknown supervisor request {op!r}")

    async def _start_child(self, spec: ChildSpec) -> Server | None:
        self._check_spec(spec)
        for existing in self._children:
            if existing.spec.id == spec.id:
                if existing.state is ChildState.RUNNING:
                    raise AlreadyStarted(f"child {spec.id!r} is already started", existing.server)
                raise ChildAlreadyPresent(f"child {spec.id!r} is already present (not running)")
        child = _Child(spec)
        self._children.append(child)
        try:
            return await self._start(child)
        except StartFailed:
            self._children.remove(child)
            raise

    def _find(self, child_id: str) -> _Child:
        for child in self._children:
            if child.spec.id == child_id:
                return child
        raise ChildNotFound(f"supervisor {self.label} has no child {child_id!r}")

    @staticmethod
    def _require_stopped(child: _Child) -> None:
        if child.state is ChildState.RUNNING:
            raise ChildRunning(f"child {child.spec.id!r} is running")
        if child.state is ChildState.RESTARTING:
            raise ChildRestarting(f"child {child.spec.id!r} is restarting")

    async def start_child(self, spec: ChildSpec, timeout: float | None = None) -> Server | None:
        """Add and start a child after the existing ones; None if it ignored.

        Raises ``AlreadyStarted`` (id running), ``ChildAlreadyPresent`` (id stopped), ``StartFailed``.
        """
        return await management_call(self, ("start_child", spec), timeout)  # type: ignore[no-any-return, unused-ignore]

    async def terminate_child(self, child_id: str, timeout: float | None = None) -> None:
        """Stop a child per its shutdown spec; it is not restarted. A temporary child's spec is removed."""
        await management_call(self, ("terminate_child", child_id), timeout)

    async def restart_child(self, child_id: str, timeout: float | None = None) -> Server | None:
        """Start a stopped child again. Raises ``ChildRunning``, ``ChildRestarting``, ``ChildNotFound``."""
        return await management_call(self, ("restart_child", child_id), timeout)  # type: ignore[no-any-return, unused-ignore]

    async def delete_child(self, child_id: str, timeout: float | None = None) -> None:
        """Forget a stopped child's spec. Raises ``ChildRunning``, ``ChildRestarting``, ``ChildNotFound``."""
        await management_call(self, ("delete_child", child_id), timeout)

    async def replace_childspec(self, spec: ChildSpec, timeout: float | None = None) -> None:
        """Give the stopped child ``spec.id`` a new spec, in the same place in the start order (and
        so the stop order); ``restart_child`` starts it. Raises ``ChildRunning``,
        ``ChildRestarting``, ``ChildNotFound``, ``InvalidChildSpec``.

        Not in OTP, where a changed spec is deleted and started again at the end of the children,
        moving the child after those that depended on its place (a daemon's reload needs it kept).
        """
        await management_call(self, ("replace_childspec", spec), timeout)

    async def which_children(self, timeout: float | None = None) -> list[ChildInfo]:
        """Every child, most recently started first (OTP's order)."""
        return await management_call(self, ("which_children", None), timeout)  # type: ignore[no-any-return, unused-ignore]

    async def count_children(self, timeout: float | None = None) -> ChildCounts:
        """Counts of specs, active children, supervisors and workers."""
        return await management_call(self, ("count_children", None), timeout)  # type: ignore[no-any-return, unused-ignore]

    async def get_childspec(self, child_id: str, timeout: float | None = None) -> ChildSpec:
        """The spec of child ``child_id``. Raises ``ChildNotFound``."""
        return await management_call(self, ("get_childspec", child_id), timeout)  # type: ignore[no-any-return, unused-ignore]
