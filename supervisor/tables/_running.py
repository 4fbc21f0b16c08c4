"""Which task is running on a loop right now: the whole cost of a table's owner check.

A protected or private table lets only its owner write; the check is "is the task running on the
owner's loop the owner's task?". ``RUNNING_TASKS[loop]`` answers it: on 3.11 to 3.13 it is the very
dict ``asyncio.current_task`` reads (subscripting it costs about 20 ns, where ``current_task()``
costs about 200 ns on 3.11: bench/bench_tables.py); later Pythons keep the running task elsewhere,
and get the same mapping through the public (C, fast) ``asyncio.current_task``. A loop with no task
running at the moment has no entry.

>>> import asyncio
>>> async def demo() -> bool:
...     return RUNNING_TASKS[asyncio.get_running_loop()] is asyncio.current_task()
>>> asyncio.run(demo())
True
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["RUNNING_TASKS"]

if sys.version_info < (3, 14):
    from asyncio import tasks as _tasks

    RUNNING_TASKS: Mapping[asyncio.AbstractEventLoop, asyncio.Task[Any]] = _tasks._current_tasks  # type: ignore[attr-defined]
else:  # pragma: no cover - later Pythons keep the running task elsewhere

    class _RunningTasks:
        """The same mapping, through the public (C, fast) ``asyncio.current_task``."""

        def __getitem__(self, loop: asyncio.AbstractEventLoop) -> asyncio.Task[Any]:
            task = asyncio.current_task(loop)
            if task is None:
                raise KeyError(loop)
            return task

        def get(self, loop: asyncio.AbstractEventLoop) -> asyncio.Task[Any] | None:
            return asyncio.current_task(loop)

    RUNNING_TASKS = _RunningTasks()  # type: ignore[assignment]
