"""The building blocks under the public API, for code that builds servers of its own kind.

- ``OwnerIndex`` and ``task_of``: the bookkeeping of a server that holds keys for other processes
  (monitor each owner once, count its keys, hand them back on its ``Down``), as the registry and
  the cache do;
- ``GuardedGetter`` and ``TableCore``: the tables' core (C, or its Python twin under
  ``ARBORD_NO_EXTENSIONS=1``): a reader that rejects rows by one element, and the base class of
  every table; ``wants_twin()``: whether this interpreter runs the pure-Python twins (the
  variable ``NO_EXTENSIONS_VARIABLE``, ``ARBORD_NO_EXTENSIONS``, or not CPython): the one rule any
  other C accelerator of arbord's follows (daemon/flags/fastpath.py);
- ``add_exit_callback`` / ``remove_exit_callback``: run a function when a server or task exits,
  without a monitor's message (what monitors and owned tables are built on);
- ``EnvelopeHook`` / ``set_envelope_hook`` / ``envelope_hook``: carry per-task state (``ContextVar`` values)
  from the sender of a call or cast into the server's handler of that message;
- ``names_view``: the name table as a read-only live mapping, for a hot path's lookup by name;
- ``Process`` (a server or a plain task: what can own, be monitored, hold keys), and the clock
  protocol ``Clock`` with the real ``MonotonicClock`` (``supervisor.testing.ManualClock`` for tests).

>>> import asyncio
>>> async def demo() -> bool:
...     task = asyncio.current_task()
...     return task_of(task) is task
>>> asyncio.run(demo())
True
"""

from __future__ import annotations

from supervisor._clock import Clock, MonotonicClock
from supervisor._envelope import EnvelopeHook, envelope_hook, set_envelope_hook
from supervisor._owner_index import OwnerIndex
from supervisor._runtime import ExitCallback, Process, add_exit_callback, names_view, remove_exit_callback
from supervisor._task_of import task_of
from supervisor.tables._core import NO_EXTENSIONS_VARIABLE, GuardedGetter, TableCore, wants_twin

__all__ = [
    "NO_EXTENSIONS_VARIABLE",
    "Clock",
    "EnvelopeHook",
    "ExitCallback",
    "GuardedGetter",
    "MonotonicClock",
    "OwnerIndex",
    "Process",
    "TableCore",
    "add_exit_callback",
    "envelope_hook",
    "names_view",
    "remove_exit_callback",
    "set_envelope_hook",
    "task_of",
    "wants_twin",
]

for _public in (
    Clock,
    EnvelopeHook,
    MonotonicClock,
    OwnerIndex,
    add_exit_callback,
    envelope_hook,
    names_view,
    remove_exit_callback,
    set_envelope_hook,
    task_of,
    wants_twin,
):
    _public.__module__ = __name__
del _public
