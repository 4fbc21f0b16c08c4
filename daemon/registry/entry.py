"""What the registry stores: ``Entry`` rows, the key mode, and how an owner is watched and described.

An owner is whatever can exit: a ``Server``, a plain ``asyncio.Task``, or a control connection (its
``Connection.task``). Every entry keeps the owner's *task* beside it, because "is the owner alive?"
is then one C call, ``task.done()``, on the read path. A server's task ends in the same step in
which the server records its exit, so the two never disagree for other code (only the server's own
exit callbacks run in between).

>>> import asyncio
>>> async def demo() -> list[object]:
...     task = asyncio.current_task()
...     assert task is not None
...     return [owner_task(task) is task, describe_owner(task).startswith("task ")]
>>> asyncio.run(demo())
[True, True]
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from typing import Any, NamedTuple

from supervisor import Server
from supervisor.lowlevel import Process, task_of

__all__ = ["Entry", "KeyMode", "describe_owner", "owner_task"]


class KeyMode(enum.Enum):
    """How many owners a key may have (Elixir's ``keys: :unique | :duplicate``)."""

    UNIQUE = "unique"
    """One entry per key: a name registry. Registering a key a live owner holds is refused."""
    DUPLICATE = "duplicate"
    """One entry per (key, owner): a pub/sub topic with its subscribers; see ``Registry.dispatch``."""


class Entry(NamedTuple):
    """One registration, as stored and as returned by every read (no copy is made).

    ``task`` is the owner's task (the owner itself when it is a task): the entry lives while it runs.
    ``metadata`` is a read-only copy of the mapping given at registration.
    """

    key: Any
    owner: Process
    metadata: Mapping[str, Any]
    task: asyncio.Task[Any]


def owner_task(owner: object) -> asyncio.Task[Any]:
    """The task whose end is ``owner``'s exit (``supervisor.lowlevel.task_of``): ``TypeError`` for
    a thing that is not an owner, ``ValueError`` for a server that was never started."""
    return task_of(owner, "an owner")


def describe_owner(owner: object) -> str:
    """A short, stable, JSON-friendly label: ``server arbord.x``, ``server Worker#0x…``, ``task name``."""
    if isinstance(owner, Server):
        return f"server {owner.name}" if owner.name else f"server {type(owner).__name__}#{id(owner):x}"
    if isinstance(owner, asyncio.Task):
        return f"task {owner.get_name()}"
    return repr(owner)
