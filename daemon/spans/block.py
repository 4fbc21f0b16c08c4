"""``SpanBlock``: a span for a block (``with``, ``async with``) or for each call of a function (a
decorator), over a pair of functions that start and end spans.

Two classes are built on it: ``daemon.spans.span`` (the span server's path) and
``daemon.spans.switched.span`` (the path the migration flag chooses). They differ only in the start
and end they call, given as class keywords::

    class span(SpanBlock, start=start_span, end=end_span):
        __slots__ = ()

A span's start and end are a hot path, so the class keywords are not stored as attributes to look
up on each entry (a ``staticmethod`` read costs about as much again as the call it makes), nor
closed over (a closure's free variables cost 1 to 3 % of a block on CPython 3.11, against the global
reads of the hand-written classes this replaces): each subclass gets its own copy of ``__enter__``
and ``__exit__`` whose globals name its pair ``_start`` and ``_end`` (``_bind``), so a block costs
what the hand-written methods did (docs/performance.md, "Spans").

>>> from daemon.context import SpanRef, current_span_ref
>>> opened: list[str] = []
>>> def start(name: str, attributes: object = None) -> SpanRef:
...     opened.append(name)
...     return SpanRef(1, 2, True)
>>> def end(ref: SpanRef, status: str = "ok", **options: object) -> bool:
...     opened.append(status)
...     return True
>>> class block(SpanBlock, start=start, end=end):
...     __slots__ = ()
>>> with block("load") as ref:
...     pass
>>> @block("step")
... def step() -> int:
...     return 7
>>> ref.span_id, step(), opened, current_span_ref()
(2, 7, ['load', 'ok', 'step', 'ok'], None)
>>> with SpanBlock("bare"):
...     pass
Traceback (most recent call last):
TypeError: SpanBlock needs a subclass naming its start and end (class keywords)
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import types
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Final, ParamSpec, Protocol, TypeVar, cast, overload

from daemon.context import SpanRef, current_span_ref, set_span_ref

__all__ = ["EndSpan", "SpanBlock", "StartSpan"]

P = ParamSpec("P")
R = TypeVar("R")

_get_ref: Final = current_span_ref
_set_ref: Final = set_span_ref


class StartSpan(Protocol):
    """``start(name, attributes)``: open a span, make it current, return its ref."""

    def __call__(self, name: str, attributes: Mapping[str, object] | None = None, /) -> SpanRef: ...


class EndSpan(Protocol):
    """``end(ref, status, error=...)``: end span ``ref`` with ``status``; whether it was open."""

    def __call__(
        self, ref: SpanRef, status: str = "ok", /, *, error: BaseException | str | None = None
    ) -> bool: ...


def _unbound_start(name: str, attributes: Mapping[str, object] | None = None, /) -> SpanRef:
    raise TypeError("SpanBlock needs a subclass naming its start and end (class keywords)")


def _unbound_end(ref: SpanRef, status: str = "ok", /, *, error: BaseException | str | None = None) -> bool:
    raise TypeError("SpanBlock needs a subclass naming its start and end (class keywords)")


# What ``SpanBlock``'s own ``__enter__`` and ``__exit__`` call: each subclass's copies read its pair
# under these names instead (``_bind``).
_start: Final[StartSpan] = _unbound_start
_end: Final[EndSpan] = _unbound_end


def _bind(cls: type, name: str, start: StartSpan, end: EndSpan) -> None:
    """Give ``cls`` a copy of ``SpanBlock``'s method ``name`` whose ``_start`` and ``_end`` are
    ``start`` and ``end``: the same code, read as globals (the fastest read there is)."""
    template = cast(types.FunctionType, getattr(SpanBlock, name))
    bound = types.FunctionType(
        template.__code__, {**template.__globals__, "_start": start, "_end": end}, name
    )
    bound.__qualname__ = f"{cls.__qualname__}.{name}"
    bound.__module__ = cls.__module__
    bound.__doc__ = template.__doc__
    setattr(cls, name, bound)


class SpanBlock:
    """A span for a block or for each call of a function, on the path of the subclass's ``start``
    and ``end`` (class keywords).

    ``with cls("load") as ref:`` and ``async with cls("load") as ref:`` open it on entry and end it
    on exit: ``ok``, or ``error`` with the exception (then re-raised), or ``cancelled``. As a
    decorator (``@cls("load")``, on a plain or an ``async`` function), each call runs in a span. The
    span that was current on entry is current again after the block."""

    __slots__ = ("_attributes", "_name", "_prior", "_ref")

    def __init_subclass__(cls, *, start: StartSpan, end: EndSpan, **options: Any) -> None:
        super().__init_subclass__(**options)
        _bind(cls, "__enter__", start, end)
        _bind(cls, "__exit__", start, end)

    def __init__(self, name: str, attributes: Mapping[str, object] | None = None) -> None:
        self._name = name
        self._attributes = attributes
        self._ref: SpanRef | None = None
        self._prior: SpanRef | None = None

    def __enter__(self) -> SpanRef:
        """Open the span and make it current; its ref."""
        self._prior = _get_ref()
        ref = self._ref = _start(self._name, self._attributes)
        return ref

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        """End the span (``ok``, ``cancelled``, or ``error`` with the exception, which goes on)."""
        ref, prior = self._ref, self._prior
        self._ref = self._prior = None
        if ref is None:
            return
        if error is None:
            _end(ref)
        elif isinstance(error, asyncio.CancelledError):
            _end(ref, "cancelled")
        else:
            _end(ref, "error", error=error)
        # The block's span is over: what was current on entry is current again, even if the block
        # left spans of its own open (they stay open, and listed, until ended or their task ends).
        _set_ref(prior)

    async def __aenter__(self) -> SpanRef:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(kind, error, tb)

    @overload
    def __call__(self, function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...
    @overload
    def __call__(self, function: Callable[P, R]) -> Callable[P, R]: ...
    def __call__(self, function: Callable[P, Any]) -> Callable[P, Any]:
        block, name, attributes = type(self), self._name, self._attributes
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with block(name, attributes):
                    return await function(*args, **kwargs)

            return run_async

        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> Any:
            with block(name, attributes):
                return function(*args, **kwargs)

        return run
