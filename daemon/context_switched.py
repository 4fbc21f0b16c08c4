"""The error context behind its migration flag: one interface, two paths, chosen per call.

``with_context``, ``temporary_context`` and ``get_context`` here behave as ``daemon.context``'s, but
each call first reads the flag ``use_logger_error_context`` of the ``otp_cleanup`` plan
(``daemon.flags.migration.backend.use_supervised``): on, the **supervised** path serves
(``daemon.context``, a ``ContextVar``); off, the **legacy** path (``daemon.legacy.error_context``, a
module-global dict keyed by task: Foundation's process dictionary). With no flags server running the
supervised path serves. ``daemon.context`` itself is not switched: it is the supervised path, and
code that is not migrating calls it directly (one flag read cheaper: docs/performance.md).

**Nothing is lost on a flip.** A task's context lives in one place at a time, and moves when a call
on the other path needs it:

- the legacy path holds a task's context when its dict has an entry for the task; otherwise the
  ``ContextVar`` holds it. A legacy read or block starts from the entry, else from the ``ContextVar``'s
  value (copied: the legacy path writes its dict, and the ``ContextVar`` only to undo a handover);
- a supervised call on a task that has a legacy entry first *hands it over*: the entry's value is
  set in the ``ContextVar`` and the entry removed;
- a block restores the context it found, where the task's context is when it ends (a supervised
  block takes it back into the ``ContextVar`` first, and resets its token; a legacy block restores its
  entry, or the ``ContextVar`` if a handover moved the context there meanwhile): whatever the flag
  did meanwhile, the context after the block is the one before it, and no entry is left behind.

So ``get_context()`` always sees the fields of every block the task is in, on either path. The
differences a user can see are the legacy path's own (``daemon.legacy.error_context``): a child task
does not inherit legacy fields, and logs and crash records carry only the supervised path's fields.

>>> with with_context(request_id="r-1"):
...     with temporary_context(user="ada"):
...         dict(get_context())
{'user': 'ada'}
>>> backend()
'supervised'
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Final, Literal, ParamSpec, TypeVar, overload

from daemon import context as _supervised
from daemon.context import CONTEXT_ATTRIBUTE, ErrorContext, set_error_context
from daemon.flags.migration.backend import use_supervised
from daemon.legacy import error_context as _legacy

__all__ = ["FLAG", "backend", "get_context", "temporary_context", "with_context"]

FLAG: Final = "use_logger_error_context"
"""The ``otp_cleanup`` flag (stage 2) that chooses the supervised path when on."""

Backend = Literal["supervised", "legacy"]

P = ParamSpec("P")
R = TypeVar("R")

_get: Final = _supervised.get_context
_contexts_held: Final = _legacy._contexts
_current_key: Final = _legacy.current_key


def backend() -> Backend:
    """Which path a call made now would take."""
    return "supervised" if use_supervised(FLAG) else "legacy"


def _hand_to_supervised() -> None:
    """If the legacy path holds this task's context, move it into the ``ContextVar``."""
    if _contexts_held:
        ctx = _legacy.take(_current_key())
        if ctx is not None:
            set_error_context(ctx)


def get_context() -> ErrorContext:
    """The current error context, from the path the flag chooses (after a handover, if needed)."""
    if use_supervised(FLAG):
        if _contexts_held:
            _hand_to_supervised()
        return _get()
    held = _legacy.get(_current_key())
    return _get() if held is None else held


def _attach(exc: BaseException | None, ctx: ErrorContext) -> None:
    # As daemon.context's blocks do: the innermost block's context, left on an error leaving it.
    if isinstance(exc, Exception) and CONTEXT_ATTRIBUTE not in getattr(exc, "__dict__", ()):
        try:
            setattr(exc, CONTEXT_ATTRIBUTE, ctx)
        except (AttributeError, TypeError):
            pass


class _SwitchedBlock:
    """A block on the path the flag chose at its entry; it ends on that path (module docstring)."""

    __slots__ = ("_base", "_fields", "_inner", "_key")
    _temporary: bool = False

    def __init__(self, fields: Mapping[str, object]) -> None:
        self._fields = fields
        self._inner: _supervised.with_context | _supervised.temporary_context | None = None

    def _supervised_block(self) -> _supervised.with_context | _supervised.temporary_context:
        raise NotImplementedError

    def __enter__(self) -> ErrorContext:
        if use_supervised(FLAG):
            if _contexts_held:
                _hand_to_supervised()
            inner = self._supervised_block()
            ctx = inner.__enter__()
            self._inner = inner
            return ctx
        key = self._key = _current_key()
        prior = _legacy.get(key)
        base = self._base = _get() if prior is None else prior
        ctx = _legacy._derived(self._fields, base, temporary=self._temporary)
        _legacy.put(key, ctx)
        return ctx

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        inner = self._inner
        if inner is not None:
            self._inner = None
            if _contexts_held:
                _hand_to_supervised()  # a flip to legacy moved it during the block: take it back
            inner.__exit__(kind, exc, tb)
            return
        key = self._key
        held = _legacy.get(key)
        if exc is not None:
            _attach(exc, _get() if held is None else held)
        # Back to what the task had at the entry, wherever the task's context is now.
        base = self._base
        if held is None:
            # A supervised call handed it over to the ContextVar during the block: restore it there.
            if _get() is not base:
                set_error_context(base)
        elif _get() is base:
            _legacy.drop(key)  # the ContextVar holds what the task had: no entry needed
        else:
            _legacy.put(key, base)

    async def __aenter__(self) -> ErrorContext:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(kind, exc, tb)

    @overload
    def __call__(self, func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...
    @overload
    def __call__(self, func: Callable[P, R]) -> Callable[P, R]: ...
    def __call__(self, func: Callable[P, Any]) -> Callable[P, Any]:
        """Run every call of ``func`` in a block of its own (the path chosen at each call)."""
        again = self._again
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                with again():
                    return await func(*args, **kwargs)

            return run_async

        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> Any:
            with again():
                return func(*args, **kwargs)

        return run

    def _again(self) -> _SwitchedBlock:
        raise NotImplementedError


class with_context(_SwitchedBlock):
    """``daemon.context.with_context`` on the path the flag chooses: merge ``fields`` for a block."""

    __slots__ = ()

    def __init__(self, **fields: object) -> None:
        super().__init__(fields)

    def _supervised_block(self) -> _supervised.with_context:
        return _supervised.with_context(**self._fields)

    def _again(self) -> _SwitchedBlock:
        return with_context(**self._fields)


class temporary_context(_SwitchedBlock):
    """``daemon.context.temporary_context`` on the path the flag chooses: ``fields`` alone for a block."""

    __slots__ = ()
    _temporary = True

    def __init__(self, fields: Mapping[str, object] | None = None, /, **more: object) -> None:
        super().__init__({**(fields or {}), **more})

    def _supervised_block(self) -> _supervised.temporary_context:
        return _supervised.temporary_context(self._fields)

    def _again(self) -> _SwitchedBlock:
        return temporary_context(self._fields)
