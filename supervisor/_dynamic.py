"""DynamicSupervisor: starts empty, children added at run time, tracked by server, stopped concurrently.

>>> import asyncio
>>> from supervisor._childspec import ChildSpec
>>> from supervisor._server import Server
>>> async def demo() -> tuple[int, int]:
...     async with DynamicSupervisor(max_children=10) as sup:
...         worker = await sup.start_child(ChildSpec("ignored-id", Server))
...         before = (await sup.count_children()).active
...         await sup.terminate_child(worker)
...         return before, (await sup.count_children()).active
>>> asyncio.run(demo())
(1, 0)

Elixir's DynamicSupervisor: one_for_one only, ``max_children``, ``extra_arguments`` prepended to each
child's arguments, ``terminate_child`` by server only, no ordering between children.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any, Final, Unpack

from supervisor._child_records import ChildRecord
from supervisor._childspec import ChildSpec, Restart, Shutdown
from supervisor._clock import Clock
from supervisor._engine import SupervisorEngine
from supervisor._exits import Exit
from supervisor._flags import AutoShutdown, RestartOptions, Strategy, SupervisorFlags
from supervisor._requests import StartChild, TerminateChildServer, ask
from supervisor._server import Server
from supervisor.errors import ChildNotFound, InvalidChildSpec, InvalidSupervisorFlags, MaxChildren

__all__ = ["DynamicSupervisor"]

# The keyword arguments a DynamicSupervisor takes for its flags: no strategy, no auto_shutdown.
_OPTIONS: Final = frozenset(RestartOptions.__optional_keys__)


def _flags(flags: SupervisorFlags | None, options: RestartOptions) -> SupervisorFlags:
    resolved = SupervisorFlags.from_options(flags, options, _OPTIONS)
    if resolved.strategy is not Strategy.ONE_FOR_ONE:
        raise InvalidSupervisorFlags(
            f"field 'strategy' must be ONE_FOR_ONE under a DynamicSupervisor, got {resolved.strategy!r}"
        )
    if resolved.auto_shutdown is not AutoShutdown.NEVER:
        raise InvalidSupervisorFlags(
            f"field 'auto_shutdown' must be NEVER under a DynamicSupervisor, got {resolved.auto_shutdown!r}"
        )
    return resolved


def _check_max_children(max_children: int | None) -> None:
    if max_children is not None and (
        isinstance(max_children, bool) or not isinstance(max_children, int) or max_children < 0
    ):
        # A flag, not a child spec: InvalidSupervisorFlags, not InvalidChildSpec
        # (test_invalid_flags_are_refused_at_construction).
        raise InvalidSupervisorFlags(
            f"field 'max_children' must be an int >= 0 or None, got {max_children!r}"
        )


class DynamicSupervisor(SupervisorEngine):
    """A supervisor for children started on demand, e.g. one server per connection or per job.

    Its flags are ``intensity``, ``period`` and ``kill_grace`` (keyword arguments, or ``flags=`` with
    the default strategy and auto_shutdown), plus ``max_children`` and ``extra_arguments``.
    """

    _kind = "dynamic supervisor"
    _anonymous_children = True

    def __init__(
        self,
        *,
        flags: SupervisorFlags | None = None,
        max_children: int | None = None,
        extra_arguments: Sequence[Any] = (),
        clock: Clock | None = None,
        name: str | None = None,
        **options: Unpack[RestartOptions],
    ) -> None:
        # Checked here too, as Supervisor does, so a bad flag fails at construction with its own error
        # (test_invalid_flags_are_refused_at_construction).
        resolved = _flags(flags, options)
        _check_max_children(max_children)
        boot = {
            "flags": resolved,
            "max_children": max_children,
            "extra_arguments": tuple(extra_arguments),
            "clock": clock,
        }
        super().__init__((), boot, name)
        # Every child, running or restarting, in the order started (a dict as an ordered set), and the
        # running ones by server, for terminate_child.
        self._children: dict[ChildRecord, None] = {}
        self._by_server: dict[Server, ChildRecord] = {}

    @classmethod
    def child_spec(
        cls,
        *,
        id: str,
        name: str | None = None,
        restart: Restart = Restart.PERMANENT,
        shutdown: float | Shutdown | None = None,
        significant: bool = False,
        flags: SupervisorFlags | None = None,
        max_children: int | None = None,
        extra_arguments: Sequence[Any] = (),
        **options: Unpack[RestartOptions],
    ) -> ChildSpec:
        """The ``ChildSpec`` of this supervisor as a child of another (Elixir's ``child_spec/1``).

        The flags are checked now, with the errors ``DynamicSupervisor(...)`` raises; the spec's
        ``type`` is ``SUPERVISOR``.
        """
        resolved = _flags(flags, options)
        _check_max_children(max_children)
        boot = {"flags": resolved, "max_children": max_children, "extra_arguments": tuple(extra_arguments)}
        return cls._as_child(id, (), boot, restart, shutdown, significant, name)

    async def init(
        self,
        *,
        flags: SupervisorFlags | None = None,
        max_children: int | None = None,
        extra_arguments: Sequence[Any] = (),
        clock: Clock | None = None,
        **options: Unpack[RestartOptions],
    ) -> None:
        resolved = _flags(flags, options)
        _check_max_children(max_children)
        self._configure(resolved, clock)
        self.max_children = max_children
        self.extra_arguments = self._extra_args = tuple(extra_arguments)

    # --- the records: an ordered set, and an index by server -------------------------------------

    def _records(self) -> Iterable[ChildRecord]:
        return self._children.keys()

    def _add(self, child: ChildRecord) -> None:
        self._children[child] = None

    def _drop(self, child: ChildRecord) -> None:
        self._children.pop(child, None)

    def _holds(self, child: ChildRecord) -> bool:
        return child in self._children

    def _keeps(self, child: ChildRecord) -> bool:
        return False  # a child that is not running or restarting is forgotten

    def _started(self, child: ChildRecord, server: Server | None) -> Server | None:
        started = super()._started(child, server)
        if started is not None:
            self._by_server[started] = child
        return started

    async def _stop(self, child: ChildRecord) -> None:
        if child.server is not None:
            del self._by_server[child.server]
        await super()._stop(child)

    def _child_exited(self, child: ChildRecord, reason: Exit) -> bool:
        if child.server is not None:
            del self._by_server[child.server]
        return super()._child_exited(child, reason)

    async def _stop_children(self) -> None:
        # No ordering between dynamic children: stop them all at once.
        await asyncio.gather(*(self._stop(child) for child in list(self._children)))

    # --- the management API ----------------------------------------------------------------------

    async def _handle_request(self, request: object) -> object:
        match request:
            case StartChild(spec):
                if not isinstance(spec, ChildSpec):
                    raise InvalidChildSpec(f"a child spec must be a ChildSpec, got {spec!r}")
                if spec.significant:
                    raise InvalidChildSpec(
                        f"child {spec.id!r}: a DynamicSupervisor takes no significant child"
                    )
                if self.max_children is not None and len(self._children) >= self.max_children:
                    raise MaxChildren(f"{self.label} has reached max_children={self.max_children}")
                return await self._start_new(ChildRecord(spec))
            case TerminateChildServer(server):
                child = self._by_server.get(server)
                if child is None:
                    raise ChildNotFound(f"{server!r} is not a child of {self.label}")
                await self._terminate(child)
                return None
            case _:
                return await super()._handle_request(request)

    async def start_child(self, spec: ChildSpec, timeout: float | None = None) -> Server | None:
        """Start a child (``spec.id`` is ignored and need not be unique); None if it ignored.

        Raises ``MaxChildren`` at the limit, ``StartFailed`` when the start fails.
        """
        return await ask(self, StartChild(spec), timeout)

    async def terminate_child(self, server: Server, timeout: float | None = None) -> None:
        """Stop the child ``server``; it is not restarted. Raises ``ChildNotFound``."""
        await ask(self, TerminateChildServer(server), timeout)
