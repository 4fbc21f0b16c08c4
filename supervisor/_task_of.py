"""``task_of(process)``: the task whose end is a process's exit.

A process is a ``Server`` or a plain ``asyncio.Task``. Code that must know quickly whether a process
is alive keeps its task and asks ``task.done()``, one C call: a table keeps its owner's, the
registry's and the cache's rows keep their owners'. A server's task ends in the same step in which
the server records its exit, so the two never disagree for other code.

>>> import asyncio
>>> async def demo() -> bool:
...     task = asyncio.current_task()
...     return task_of(task) is task
>>> asyncio.run(demo())
True
"""

from __future__ import annotations

import asyncio
from typing import Any

from supervisor._server import Server

__all__ = ["task_of"]


def task_of(process: object, role: str = "a process") -> asyncio.Task[Any]:
    """The task whose end is ``process``'s exit (a server's task ends in the step that records its
    exit). ``TypeError`` for a thing that is not a process, ``ValueError`` for a server that was
    never started; ``role`` names what the process is for, in those errors ("an owner")."""
    if isinstance(process, asyncio.Task):
        return process
    if isinstance(process, Server):
        task = process.task
        if task is None:
            raise ValueError(f"{process!r} was never started, so it cannot be {role}")
        return task
    raise TypeError(f"{role} is a Server or an asyncio.Task, not {process!r}")
