"""Fault injection: a seeded plan that makes named points of servers and tables fail, replayably.

A *point* is a server class's callback (``init``, ``handle_call``, ``handle_cast``, ``handle_info``,
``handle_continue``, ``terminate``) or a write operation on a named table (``insert``, ``delete``,
...). The plan wraps those methods, from the test's side, while it is open; closed, it restores them
exactly, so code under test runs unchanged when no plan is active (``supervisor`` has no hook for
it). At each call of a point the plan decides, from ``(seed, point, hit number)`` alone, whether to
inject its fault: the same seed makes the same decisions however the calls interleave with other
points, so a failing seed replays exactly. Every injection is recorded in ``plan.injected``.

>>> import asyncio
>>> from supervisor import Server
>>> class Echo(Server):
...     async def handle_call(self, request: object, caller: object) -> object:
...         return request
>>> async def demo() -> list[object]:
...     with FaultPlan(seed=7) as plan:
...         plan.server(Echo, "handle_call", Fault.RAISE, hits={2})
...         echo = await Echo.start()
...         first = await echo.call("a")
...         try:
...             await echo.call("b")
...         except Exception as error:
...             second = type(error).__name__
...     return [first, second, echo.exit_reason.exception, plan.injected]
>>> asyncio.run(demo())  # doctest: +NORMALIZE_WHITESPACE
['a', 'ServerExited', FaultInjected('fault injected at Echo.handle_call, call #2'),
 [Injection(point='Echo.handle_call', hit=2, fault=<Fault.RAISE: 'raise'>)]]
"""

from __future__ import annotations

import asyncio
import enum
import random
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Self

from supervisor._server import Server
from supervisor.tables._registry import classes as table_classes

__all__ = ["Fault", "FaultInjected", "FaultPlan", "Injection"]

SERVER_POINTS: Final = ("init", "handle_call", "handle_cast", "handle_info", "handle_continue", "terminate")
TABLE_WRITES: Final = (
    "insert",
    "insert_new",
    "delete",
    "delete_object",
    "delete_all_objects",
    "take",
    "update_counter",
    "update_element",
    "select_delete",
    "select_replace",
)
_MISSING: Final = object()


class Fault(enum.Enum):
    """What an injection does at its point."""

    RAISE = "raise"
    """Raise ``FaultInjected`` (a crash of the server, an error from the table write)."""
    HANG = "hang"
    """Wait forever (until cancelled): a stuck callback, for call timeouts and shutdown timeouts."""
    CANCEL = "cancel"
    """Cancel the running task at that point, as a kill would."""


class FaultInjected(RuntimeError):
    """The error a ``Fault.RAISE`` injects: ``point`` and ``hit`` say where and at which call."""

    def __init__(self, point: str, hit: int) -> None:
        super().__init__(f"fault injected at {point}, call #{hit}")
        self.point = point
        self.hit = hit


@dataclass(frozen=True, slots=True)
class Injection:
    """One injected fault: at the ``hit``-th call (from 1) of ``point``."""

    point: str
    hit: int
    fault: Fault


@dataclass(slots=True)
class _Rule:
    fault: Fault
    probability: float
    hits: frozenset[int] | None
    limit: int | None
    fired: int = field(default=0)


class FaultPlan:
    """A seeded set of rules, each a point and the fault to inject there; a context manager.

    ``seed`` defaults to a random one (``plan.seed`` tells which). Rules take effect as they are
    added and until ``close()``; ``hits`` picks calls by number (from 1), else each call faults with
    ``probability``; ``limit`` caps how many faults a rule injects.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed: int = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self.injected: list[Injection] = []
        self._rules: dict[str, _Rule] = {}
        self._hits: Counter[str] = Counter()
        self._patches: list[tuple[type, str, object]] = []
        self._wrapped: set[tuple[type, str]] = set()
        self._table_points: dict[tuple[str, str], str] = {}

    # --- rules -------------------------------------------------------------------------------------

    def server(
        self,
        cls: type[Server],
        callback: str,
        fault: Fault = Fault.RAISE,
        *,
        probability: float = 1.0,
        hits: Collection[int] | None = None,
        limit: int | None = None,
    ) -> str:
        """Inject ``fault`` into ``cls.callback`` (and its subclasses'); returns the point's name."""
        if not (isinstance(cls, type) and issubclass(cls, Server)):
            raise TypeError(f"FaultPlan.server needs a Server subclass, got {cls!r}")
        if callback not in SERVER_POINTS:
            raise ValueError(f"{callback!r} is not a fault point of a server: one of {SERVER_POINTS}")
        point = f"{cls.__qualname__}.{callback}"
        self._add(point, fault, probability, hits, limit)
        self._wrap(cls, callback, self._server_wrapper(point, getattr(cls, callback)))
        return point

    def table(
        self,
        name: str,
        operation: str = "insert",
        *,
        probability: float = 1.0,
        hits: Collection[int] | None = None,
        limit: int | None = None,
    ) -> str:
        """Make ``operation`` on the table named ``name`` raise ``FaultInjected`` (a table write is
        synchronous: it can only raise); returns the point's name."""
        if operation not in TABLE_WRITES:
            raise ValueError(f"{operation!r} is not a table write: one of {TABLE_WRITES}")
        point = f"table {name}.{operation}"
        self._add(point, Fault.RAISE, probability, hits, limit)
        self._table_points[name, operation] = point
        for cls in table_classes():
            if hasattr(cls, operation):
                self._wrap(cls, operation, self._table_wrapper(operation, getattr(cls, operation)))
        return point

    def _add(
        self, point: str, fault: Fault, probability: float, hits: Collection[int] | None, limit: int | None
    ) -> None:
        if not isinstance(fault, Fault):
            raise TypeError(f"fault must be a Fault, got {fault!r}")
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be within [0, 1], got {probability!r}")
        if point in self._rules:
            raise ValueError(f"{point} already has a rule in this plan")
        self._rules[point] = _Rule(fault, probability, None if hits is None else frozenset(hits), limit)

    # --- deciding ------------------------------------------------------------------------------------

    def decide(self, point: str, hit: int) -> bool:
        """Whether the ``hit``-th call of ``point`` draws a fault under this seed (``limit`` aside):
        a function of the seed, the point and the hit alone."""
        rule = self._rules.get(point)
        if rule is None:
            return False
        if rule.hits is not None:
            return hit in rule.hits
        return random.Random(f"{self.seed}:{point}:{hit}").random() < rule.probability

    def _next(self, point: str) -> tuple[int, Fault | None]:
        """Count a call of ``point``; the fault to inject there, recorded, or None."""
        self._hits[point] += 1
        hit = self._hits[point]
        rule = self._rules.get(point)
        if (
            rule is None
            or not self.decide(point, hit)
            or (rule.limit is not None and rule.fired >= rule.limit)
        ):
            return hit, None
        rule.fired += 1
        self.injected.append(Injection(point, hit, rule.fault))
        return hit, rule.fault

    def hits(self, point: str) -> int:
        """How many calls of ``point`` the plan has seen."""
        return self._hits[point]

    # --- wrapping ------------------------------------------------------------------------------------

    def _server_wrapper(self, point: str, inherited: Callable[..., Any]) -> Callable[..., Any]:
        async def faulty(server: Server, *args: Any, **kwargs: Any) -> Any:
            hit, fault = self._next(point)
            if fault is Fault.RAISE:
                raise FaultInjected(point, hit)
            if fault is not None:
                never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                if fault is Fault.CANCEL:
                    task = asyncio.current_task()
                    assert task is not None
                    task.cancel(f"FaultPlan: {point} #{hit}")
                await never  # HANG: until cancelled; CANCEL: the cancellation arrives here
            return await inherited(server, *args, **kwargs)

        faulty.__name__ = faulty.__qualname__ = point.rpartition(".")[2]
        return faulty

    def _table_wrapper(self, operation: str, inherited: Callable[..., Any]) -> Callable[..., Any]:
        def faulty(table: Any, *args: Any, **kwargs: Any) -> Any:
            point = self._table_points.get((table.name, operation))
            if point is not None:
                hit, fault = self._next(point)
                if fault is not None:
                    raise FaultInjected(point, hit)
            return inherited(table, *args, **kwargs)

        faulty.__name__ = faulty.__qualname__ = operation
        return faulty

    def _wrap(self, cls: type, attribute: str, wrapper: Callable[..., Any]) -> None:
        if (cls, attribute) in self._wrapped:
            return
        self._wrapped.add((cls, attribute))
        self._patches.append((cls, attribute, cls.__dict__.get(attribute, _MISSING)))
        setattr(cls, attribute, wrapper)

    def close(self) -> None:
        """Remove every wrapper: the classes are as they were before the plan. Idempotent."""
        while self._patches:
            cls, attribute, original = self._patches.pop()
            if original is _MISSING:
                delattr(cls, attribute)
            else:
                setattr(cls, attribute, original)
        self._wrapped.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- reporting -----------------------------------------------------------------------------------

    def summary(self) -> str:
        """The seed and every injection, one line: what a failing test prints to be replayed."""
        injected = ", ".join(f"{i.point} #{i.hit} {i.fault.value}" for i in self.injected) or "none"
        return f"FaultPlan seed={self.seed}; injected: {injected}"

    def __repr__(self) -> str:
        return f"<FaultPlan seed={self.seed} rules={len(self._rules)} injected={len(self.injected)}>"
