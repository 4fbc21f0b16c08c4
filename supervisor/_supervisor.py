"""Supervisor: starts children in order, restarts them by strategy, gives up past its intensity.

>>> import asyncio
>>> from supervisor._server import Server
>>> from supervisor._runtime import whereis
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

from collections.abc import Iterable, Sequence
from typing import Unpack

from supervisor._child_records import ChildCounts, ChildInfo, ChildRecord, ChildState
from supervisor._childspec import ChildSpec, Restart, Shutdown
from supervisor._clock import Clock
from supervisor._engine import SupervisorEngine
from supervisor._exits import shutdown
from supervisor._flags import (
    DEFAULT_INTENSITY,
    DEFAULT_KILL_GRACE,
    DEFAULT_PERIOD,
    AutoShutdown,
    Strategy,
    SupervisorFlags,
    SupervisorOptions,
)
from supervisor._requests import (
    DeleteChild,
    GetChildSpec,
    ReplaceChildSpec,
    RestartChild,
    StartChild,
    TerminateChild,
    UpdateChildSpec,
    ask,
)
from supervisor._server import Server, Stop
from supervisor.errors import (
    AlreadyStarted,
    ChildAlreadyPresent,
    ChildNotFound,
    ChildRestarting,
    ChildRunning,
    InvalidChildSpec,
    StartFailed,
)

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


def validate_flags(intensity: int, period: float, kill_grace: float) -> None:
    """Check restart flags; raises ``InvalidSupervisorFlags``. An older spelling of making a
    ``SupervisorFlags(intensity=..., period=..., kill_grace=...)``, which checks the same."""
    SupervisorFlags(intensity=intensity, period=period, kill_grace=kill_grace)


def check_flags(
    strategy: Strategy, auto_shutdown: AutoShutdown, intensity: int, period: float, kill_grace: float
) -> None:
    """Check a Supervisor's flags; raises ``InvalidSupervisorFlags``. An older spelling of making a
    ``SupervisorFlags``, which checks the same."""
    SupervisorFlags(strategy, intensity, period, auto_shutdown, kill_grace)


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


class Supervisor(SupervisorEngine):
    """OTP's supervisor. Use ``async with Supervisor([...])`` or as a child: ``Supervisor.child_spec``.

    The flags are ``SupervisorFlags``' fields, as keyword arguments (``strategy=``, ``intensity=``,
    ``period=``, ``auto_shutdown=``, ``kill_grace=``) or a whole record as ``flags=`` (keyword
    arguments given too override its fields).
    """

    def __init__(
        self,
        children: Sequence[ChildSpec] = (),
        *,
        flags: SupervisorFlags | None = None,
        clock: Clock | None = None,
        name: str | None = None,
        **options: Unpack[SupervisorOptions],
    ) -> None:
        children = list(children)
        # Checked here too, not only in init, so that ``Supervisor([...])`` refuses bad flags, a bad spec
        # or a duplicate id with that precise error before anything starts, instead of a StartFailed
        # wrapping it at __aenter__ (test_duplicate_ids_refuse_to_start_before_anything_starts).
        resolved = SupervisorFlags.from_options(flags, options)
        check_specs(children, resolved.auto_shutdown)
        super().__init__((children,), {"flags": resolved, "clock": clock}, name)
        self._children: list[ChildRecord] = []

    @classmethod
    def child_spec(
        cls,
        children: Sequence[ChildSpec] = (),
        *,
        id: str,
        name: str | None = None,
        restart: Restart = Restart.PERMANENT,
        shutdown: float | Shutdown | None = None,
        significant: bool = False,
        flags: SupervisorFlags | None = None,
        **options: Unpack[SupervisorOptions],
    ) -> ChildSpec:
        """The ``ChildSpec`` of this supervisor as a child of another (Elixir's ``child_spec/2``).

        ``children`` and the flags are checked now, with the errors ``Supervisor(...)`` raises, so a
        mistake fails before anything starts; the spec's ``type`` is ``SUPERVISOR`` (so its default
        ``shutdown`` is ``INFINITY``).
        """
        children = tuple(children)
        resolved = SupervisorFlags.from_options(flags, options)
        check_specs(children, resolved.auto_shutdown)
        return cls._as_child(id, (children,), {"flags": resolved}, restart, shutdown, significant, name)

    async def init(
        self,
        children: Sequence[ChildSpec] = (),
        *,
        flags: SupervisorFlags | None = None,
        clock: Clock | None = None,
        **options: Unpack[SupervisorOptions],
    ) -> None:
        resolved = SupervisorFlags.from_options(flags, options)
        check_specs(children, resolved.auto_shutdown)
        self._configure(resolved, clock)
        self._children = [ChildRecord(spec) for spec in children]
        for child in list(self._children):
            try:
                await self._start(child)
            except StartFailed as error:
                await self._stop_all()
                raise Stop(shutdown((child.spec.id, error.reason))) from error

    # --- the records: a list in start order ------------------------------------------------------

    def _records(self) -> Iterable[ChildRecord]:
        return reversed(self._children)  # most recently started first, as OTP lists them

    def _add(self, child: ChildRecord) -> None:
        self._children.append(child)

    def _drop(self, child: ChildRecord) -> None:
        self._children.remove(child)

    def _holds(self, child: ChildRecord) -> bool:
        return child in self._children

    async def _stop_children(self) -> None:
        await self._stop_all()

    async def _stop_all(self, children: Sequence[ChildRecord] | None = None) -> None:
        """Stop children in reverse start order; temporary ones are dropped."""
        for child in reversed(list(self._children if children is None else children)):
            await self._stop(child)
            if child.spec.restart is Restart.TEMPORARY and child in self._children:
                self._children.remove(child)

    # --- strategies ------------------------------------------------------------------------------

    async def _restart_group(self, child: ChildRecord) -> None:
        """Restart ``child`` per the strategy (the restart is already counted)."""
        if self._one_for_one:
            group = [child]
        else:
            if self.flags.strategy is Strategy.ONE_FOR_ALL:
                group = list(self._children)
            else:
                group = self._children[self._children.index(child) :]
            await self._stop_all([c for c in group if c is not child])
            group = [c for c in group if c in self._children]
        await self._restart_members(group)

    # --- the management API ----------------------------------------------------------------------

    async def _handle_request(self, request: object) -> object:
        match request:
            case StartChild(spec):
                return await self._start_child(spec)
            case TerminateChild(child_id):
                await self._terminate(self._find(child_id))
                return None
            case RestartChild(child_id):
                return await self._start(self._stopped(child_id))
            case DeleteChild(child_id):
                self._children.remove(self._stopped(child_id))
                return None
            case ReplaceChildSpec(spec):
                check_spec(spec, self.flags.auto_shutdown)
                child = self._stopped(spec.id)
                self._children[self._children.index(child)] = ChildRecord(spec)
                return None
            case UpdateChildSpec(spec):
                check_spec(spec, self.flags.auto_shutdown)
                self._find(spec.id).respec(spec)
                return None
            case GetChildSpec(child_id):
                return self._find(child_id).spec
            case _:
                return await super()._handle_request(request)

    async def _start_child(self, spec: ChildSpec) -> Server | None:
        check_spec(spec, self.flags.auto_shutdown)
        for existing in self._children:
            if existing.spec.id == spec.id:
                if existing.state is ChildState.RUNNING:
                    raise AlreadyStarted(f"child {spec.id!r} is already started", existing.server)
                raise ChildAlreadyPresent(f"child {spec.id!r} is already present (not running)")
        return await self._start_new(ChildRecord(spec))

    def _find(self, child_id: str) -> ChildRecord:
        for child in self._children:
            if child.spec.id == child_id:
                return child
        raise ChildNotFound(f"supervisor {self.label} has no child {child_id!r}")

    def _stopped(self, child_id: str) -> ChildRecord:
        """The child ``child_id``, which must be stopped (OTP's ``{error, running | restarting}``)."""
        child = self._find(child_id)
        if child.state is ChildState.RUNNING:
            raise ChildRunning(f"child {child.spec.id!r} is running")
        if child.state is ChildState.RESTARTING:
            raise ChildRestarting(f"child {child.spec.id!r} is restarting")
        return child

    async def start_child(self, spec: ChildSpec, timeout: float | None = None) -> Server | None:
        """Add and start a child after the existing ones; None if it ignored.

        Raises ``AlreadyStarted`` (id running), ``ChildAlreadyPresent`` (id stopped), ``StartFailed``.
        """
        return await ask(self, StartChild(spec), timeout)

    async def terminate_child(self, child_id: str, timeout: float | None = None) -> None:
        """Stop a child per its shutdown spec; it is not restarted. A temporary child's spec is removed."""
        await ask(self, TerminateChild(child_id), timeout)

    async def restart_child(self, child_id: str, timeout: float | None = None) -> Server | None:
        """Start a stopped child again. Raises ``ChildRunning``, ``ChildRestarting``, ``ChildNotFound``."""
        return await ask(self, RestartChild(child_id), timeout)

    async def delete_child(self, child_id: str, timeout: float | None = None) -> None:
        """Forget a stopped child's spec. Raises ``ChildRunning``, ``ChildRestarting``, ``ChildNotFound``."""
        await ask(self, DeleteChild(child_id), timeout)

    async def replace_childspec(self, spec: ChildSpec, timeout: float | None = None) -> None:
        """Give the stopped child ``spec.id`` a new spec, in the same place in the start order (and
        so the stop order); ``restart_child`` starts it. Raises ``ChildRunning``,
        ``ChildRestarting``, ``ChildNotFound``, ``InvalidChildSpec``.

        Not in OTP, where a changed spec is deleted and started again at the end of the children,
        moving the child after those that depended on its place (a daemon's reload needs it kept).
        """
        await ask(self, ReplaceChildSpec(spec), timeout)

    async def update_childspec(self, spec: ChildSpec, timeout: float | None = None) -> None:
        """Give the child ``spec.id`` a new spec without stopping it: a running child keeps running,
        and its next start (a restart after it exits, or ``restart_child``) uses ``spec``; its place,
        restart count and incarnation stay. Raises ``ChildNotFound``, ``InvalidChildSpec``.

        What OTP's supervisor does to its children's specs in a release upgrade (``code_change``
        runs ``init/1`` again and keeps each running child's pid). A daemon's reload applied to a
        running child in place uses it, so a later crash restarts the child with the settings in
        force, not those from before the reload.
        """
        await ask(self, UpdateChildSpec(spec), timeout)

    async def get_childspec(self, child_id: str, timeout: float | None = None) -> ChildSpec:
        """The spec of child ``child_id``. Raises ``ChildNotFound``."""
        return await ask(self, GetChildSpec(child_id), timeout)
