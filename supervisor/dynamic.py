"""DynamicSupervisor: starts empty, children added at run time, tracked by server, stopped concurrently.

>>> import asyncio
>>> from supervisor.childspec import ChildSpec
>>> from supervisor.server import Server
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
import logging
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from supervisor import children as child_ops
from supervisor import telemetry
from supervisor.childspec import ChildSpec, ChildType
from supervisor.clock import Clock, MonotonicClock
from supervisor.errors import (
    ArbordError,
    ChildNotFound,
    InvalidChildSpec,
    InvalidSupervisorFlags,
    MaxChildren,
    StartFailed,
)
from supervisor.exits import SHUTDOWN, Exit
from supervisor.intensity import RestartIntensity
from supervisor.server import Caller, Server, Stop
from supervisor.supervisor import (
    DEFAULT_INTENSITY,
    DEFAULT_KILL_GRACE,
    DEFAULT_PERIOD,
    ChildCounts,
    ChildInfo,
    ChildState,
    _Child,
    _Refused,
    management_call,
    validate_flags,
)

__all__ = ["DynamicSupervisor"]

log = logging.getLogger("supervisor.supervisor")


class _Retry:
    """A queued retry of a child whose restart failed."""

    __slots__ = ("child",)

    def __init__(self, child: _Child) -> None:
        self.child = child


def _check_flags(intensity: int, period: float, max_children: int | None, kill_grace: float) -> None:
    validate_flags(intensity, period, kill_grace)
    if max_children is not None and (
        isinstance(max_children, bool) or not isinstance(max_children, int) or max_children < 0
    ):
        # A flag, not a child spec: InvalidSupervisorFlags, not InvalidChildSpec
        # (test_invalid_flags_are_refused_at_construction).
        raise InvalidSupervisorFlags(f"max_children must be an int >= 0 or None, got {max_children!r}")


class DynamicSupervisor(Server):
    """A supervisor for children started on demand, e.g. one server per connection or per job."""

    def __init__(
        self,
        *,
        intensity: int = DEFAULT_INTENSITY,
        period: float = DEFAULT_PERIOD,
        max_children: int | None = None,
        extra_arguments: Sequence[Any] = (),
        kill_grace: float = DEFAULT_KILL_GRACE,
        clock: Clock | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__()
        # Checked here too, as Supervisor does, so a bad flag fails at construction with its own error
        # (test_invalid_flags_are_refused_at_construction).
        _check_flags(intensity, period, max_children, kill_grace)
        self._pending: tuple[dict[str, Any], str | None] = (
            {
                "intensity": intensity,
                "period": period,
                "max_children": max_children,
                "extra_arguments": tuple(extra_arguments),
                "kill_grace": kill_grace,
                "clock": clock,
            },
            name,
        )
        self._running: dict[Server, _Child] = {}
        self._restarting: set[_Child] = set()
        self.abandoned: list[str] = []

    async def __aenter__(self) -> Self:
        kwargs, name = self._pending
        await self._boot((), kwargs, name)
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
        *,
        intensity: int = DEFAULT_INTENSITY,
        period: float = DEFAULT_PERIOD,
        max_children: int | None = None,
        extra_arguments: Sequence[Any] = (),
        kill_grace: float = DEFAULT_KILL_GRACE,
        clock: Clock | None = None,
    ) -> None:
        _check_flags(intensity, period, max_children, kill_grace)
        self.max_children = max_children
        self.extra_arguments = tuple(extra_arguments)
        self.kill_grace = float(kill_grace)
        self._intensity = RestartIntensity(intensity, float(period), clock or MonotonicClock())

    @property
    def label(self) -> str:
        """How reports name this supervisor."""
        return self._name or f"{type(self).__name__}@{id(self):#x}"

    # --- children --------------------------------------------------------------------------------

    async def _start(self, child: _Child) -> Server | None:
        server = await child_ops.spawn(child.spec, self.extra_arguments)
        if server is None:
            return None
        child.server, child.state, child.started_at = server, ChildState.RUNNING, time.monotonic()
        child.watch_key = child_ops.watch(self, child, server)
        self._running[server] = child
        telemetry.execute(
            ("supervisor", "child", "start"),
            {"restarts": child.restarts},
            {"supervisor": self.label, "child_id": child.spec.id},
        )
        return server

    async def _stop(self, child: _Child) -> None:
        server = child.server
        child.server, child.state = None, ChildState.UNDEFINED
        if server is None:
            return
        child_ops.unwatch(server, child.watch_key)
        self._running.pop(server, None)
        outcome = await child_ops.stop_child(server, child.spec, self.kill_grace)
        if outcome.abandoned:
            self.abandoned.append(child.spec.id)
        child_ops.report_stop(self.label, child.spec, outcome)

    async def terminate(self, reason: Exit) -> None:
        # No ordering between dynamic children: stop them all at once.
        children = list(self._running.values())
        self._restarting.clear()
        await asyncio.gather(*(self._stop(child) for child in children))
        telemetry.execute(("supervisor", "shutdown"), {}, {"supervisor": self.label, "reason": reason})

    def _linked_exit(self, reason: Exit) -> None:
        for child in self._running.values():
            if child.server is not None:
                child.server.kill()

    async def handle_info(self, message: Any) -> None:
        if type(message) is child_ops.ChildExit:
            child = self._running.get(message.server)
            if child is not None and child is message.child:
                del self._running[message.server]
                child.server, child.state = None, ChildState.UNDEFINED
                child_ops.report_exit(self.label, child.spec, message.reason, child.restarts)
                if child_ops.should_restart(child.spec, message.reason):
                    await self._restart(child)

    async def handle_cast(self, message: Any) -> None:
        if isinstance(message, _Retry) and message.child in self._restarting:
            self._restarting.discard(message.child)
            await self._restart(message.child)

    async def _restart(self, child: _Child) -> None:
        if not self._intensity.add_restart():
            log.error(
                "dynamic supervisor %s reached max restart intensity; shutting down",
                self.label,
                extra={"supervisor": self.label, "child_id": child.spec.id},
            )
            telemetry.execute(
                ("supervisor", "escalate"),
                {"intensity": self._intensity.intensity},
                {"supervisor": self.label, "child_id": child.spec.id},
            )
            raise Stop(SHUTDOWN)
        child.restarts += 1
        telemetry.execute(
            ("supervisor", "child", "restart"),
            {"restarts": child.restarts},
            {"supervisor": self.label, "child_id": child.spec.id, "strategy": "one_for_one"},
        )
        try:
            await self._start(child)
        except StartFailed as error:
            log.error(
                "dynamic supervisor %s: restart of %r failed: %r; retrying",
                self.label,
                child.spec.id,
                error.reason,
            )
            child.state = ChildState.RESTARTING
            self._restarting.add(child)
            self.cast(_Retry(child))

    # --- the management API ----------------------------------------------------------------------

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        op, arg = request
        try:
            if op == "start_child":
                return await self._start_child(arg)
            if op == "terminate_child":
                return await self._terminate_child(arg)
            if op == "which_children":
                children = [*self._running.values(), *self._restarting]
                return [c.info(anonymous=True) for c in children]
            children = [*self._running.values(), *self._restarting]
            return ChildCounts(
                specs=len(children),
                active=len(self._running),
                supervisors=sum(1 for c in children if c.spec.type is ChildType.SUPERVISOR),
                workers=sum(1 for c in children if c.spec.type is ChildType.WORKER),
            )
        except ArbordError as error:
            return _Refused(error)

    async def _start_child(self, spec: ChildSpec) -> Server | None:
        if not isinstance(spec, ChildSpec):
            raise InvalidChildSpec(f"a child spec must be a ChildSpec, got {spec!r}")
        if spec.significant:
            raise InvalidChildSpec(f"child {spec.id!r}: a DynamicSupervisor takes no significant child")
        if self.max_children is not None and len(self._running) + len(self._restarting) >= self.max_children:
            raise MaxChildren(f"{self.label} has reached max_children={self.max_children}")
        return await self._start(_Child(spec))

    async def _terminate_child(self, server: Server) -> None:
        child = self._running.get(server)
        if child is not None:
            await self._stop(child)
            return
        raise ChildNotFound(f"{server!r} is not a child of {self.label}")

    async def start_child(self, spec: ChildSpec, timeout: float | None = None) -> Server | None:
        """Start a child (``spec.id`` is ignored and need not be unique); None if it ignored.

        Raises ``MaxChildren`` at the limit, ``StartFailed`` when the start fails.
        """
        return await management_call(self, ("start_child", spec), timeout)  # type: ignore[no-any-return, unused-ignore]

    async def terminate_child(self, server: Server, timeout: float | None = None) -> None:
        """Stop the child ``server``; it is not restarted. Raises ``ChildNotFound``."""
        await management_call(self, ("terminate_child", server), timeout)

    async def which_children(self, timeout: float | None = None) -> list[ChildInfo]:
        """Every child, in no particular order; ids are None (Elixir's ``:undefined``)."""
        return await management_call(self, ("which_children", None), timeout)  # type: ignore[no-any-return, unused-ignore]

    async def count_children(self, timeout: float | None = None) -> ChildCounts:
        """Counts of specs, active children, supervisors and workers."""
        return await management_call(self, ("count_children", None), timeout)  # type: ignore[no-any-return, unused-ignore]
