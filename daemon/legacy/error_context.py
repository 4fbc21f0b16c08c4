"""DELIBERATE HIDDEN STATE, kept for migration: the legacy error context, a module-global dict keyed by task.

This is what Foundation's process-dictionary ErrorContext was (``Process.put(:error_context, ...)``):
each task's current error context lives in one dict of this module, under the task (or, outside any
task, the thread). It is the legacy half of the error context's two paths; the supervised half is
``daemon.context`` (a ``ContextVar``). ``daemon.context_switched`` chooses between them per call by the
flag ``use_logger_error_context`` and hands a task's context over when the flag flips; nothing else
imports this module. docs/migrations.md ("Error context and spans: the two paths") says why it is kept.

The values are the same ``ErrorContext`` objects the supervised path makes (derived by the same code,
``_derived``): the two paths differ in *where* a task's context lives, not in what it is. So:

- a child task does not inherit its parent's legacy context (a process dictionary is not inherited
  either: Foundation had ``spawn_with_context`` for that), where a ``ContextVar`` is copied;
- logs (``ContextFilter``) and crash records read the ``ContextVar`` only: fields added on the legacy
  path do not reach them (Foundation's legacy mode left the Logger metadata empty too).

**The leak, and the difference from Foundation.** A dict keyed by task grows with every task that
ever set a context, unless entries go when tasks end. Foundation's process dictionary died with its
process; a Python dict does not. This module removes a task's entry (a) when its last block ends (the
entry is deleted rather than set back to an empty context) and (b) when the task finishes (one done
callback per task, whatever the number of blocks). Thread entries (code outside a loop) go when the
block ends. ``held()`` counts the entries, for tests and for whoever wonders.

>>> from daemon.context import get_context
>>> key = current_key()
>>> put(key, _derived({"request_id": "r-1"}, get_context()))
>>> dict(get(key)), held()
({'request_id': 'r-1'}, 1)
>>> drop(key); get(key) is None, held()
(True, 0)
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Mapping
from threading import get_ident
from typing import Any, Final

from daemon.context import ErrorContext, set_error_context, temporary_context, with_context

__all__ = ["current_key", "drop", "get", "held", "put", "take"]

_contexts: dict[object, ErrorContext] = {}
"""The hidden state itself: task (or thread id) -> its current error context."""
_watched: set[asyncio.Task[Any]] = set()
"""The tasks that have a done callback removing their entry (one callback per task)."""

_current_task: Final = asyncio.current_task
_get: Final = _contexts.get


def current_key() -> object:
    """Whose context a call reads and writes: the running task, else the calling thread's id."""
    try:
        task = _current_task()
    except RuntimeError:  # no running loop: a thread is the unit, as a process was Foundation's
        return get_ident()
    return get_ident() if task is None else task


def get(key: object) -> ErrorContext | None:
    """The context held for ``key``, or None (then the supervised path's value is the task's)."""
    return _get(key)


def put(key: object, ctx: ErrorContext) -> None:
    """Hold ``ctx`` as ``key``'s context; a task's first entry gets the done callback that drops it."""
    _contexts[key] = ctx
    if key.__class__ is not int and key not in _watched:
        task: asyncio.Task[Any] = key  # type: ignore[assignment]
        _watched.add(task)
        task.add_done_callback(_task_done)


def drop(key: object) -> None:
    """Hold nothing for ``key`` any more."""
    _contexts.pop(key, None)


def take(key: object) -> ErrorContext | None:
    """Remove and return what is held for ``key`` (the handover to the supervised path)."""
    return _contexts.pop(key, None) if _contexts else None


def held() -> int:
    """How many tasks and threads have an entry: 0 when every block has ended and every task is done."""
    return len(_contexts)


def _task_done(task: asyncio.Task[Any]) -> None:
    _watched.discard(task)
    _contexts.pop(task, None)


def _enter_in_scratch(block: with_context | temporary_context, base: ErrorContext) -> ErrorContext:
    set_error_context(base)
    return block.__enter__()


def _derived(fields: Mapping[str, object], base: ErrorContext, *, temporary: bool = False) -> ErrorContext:
    """The context a ``with_context(**fields)`` (or ``temporary_context(fields)``) block entered on
    ``base`` makes: the supervised path's own code, run in a scratch ``contextvars.Context`` so that
    the caller's ``ContextVar`` is never touched. Raises what that block raises (``ContextKeyError``)."""
    block = temporary_context(fields) if temporary else with_context(**fields)
    return contextvars.Context().run(_enter_in_scratch, block, base)
