"""Whose keys are these: one monitor per owner, the keys it holds, handed back when it exits.

A server that stores things on behalf of other processes (the registry's names, the cache's bound
entries) must drop them when their owner exits. ``OwnerIndex`` is that bookkeeping, once: it
monitors each owner once however many keys it holds, forgets the monitor with the owner's last
key, and on the owner's ``Down`` hands back the keys it held. Its rows live in a set ``Table`` the
server gives it (the registry's survives a crash through an heir), as ``(owner, ref, {key: None})``.

>>> import asyncio
>>> from supervisor import Server, Table, Access, Down
>>> class Keeper(Server):
...     async def init(self) -> None:
...         self.owners = OwnerIndex(Table("owners", access=Access.PUBLIC), self)
...         self.dropped: asyncio.Future[list[object]] = asyncio.get_running_loop().create_future()
...     async def handle_info(self, message: object) -> None:
...         if isinstance(message, Down):
...             self.dropped.set_result(self.owners.down(message.target, message.ref) or [])
>>> async def demo() -> list[object]:
...     keeper = await Keeper.start()
...     owner = asyncio.create_task(asyncio.sleep(0))
...     keeper.owners.add(owner, "a")
...     keeper.owners.add(owner, "b")
...     counted = [keeper.owners.count(owner), len(keeper.owners)]
...     return [*counted, await keeper.dropped, len(keeper.owners)]
>>> asyncio.run(demo())
[2, 1, ['a', 'b'], 0]
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from supervisor._monitors import MonitorRef, demonitor, monitor
from supervisor._runtime import Process
from supervisor._server import Server
from supervisor._task_of import task_of
from supervisor.tables import Table

__all__ = ["OwnerIndex", "task_of"]


def _itself(owner: Process) -> Hashable:
    return owner


class OwnerIndex:
    """``OwnerIndex(table, watcher, identify=None)``: the owners of keys, monitored by ``watcher``.

    ``table`` is a set the index owns the rows of (public, or owned by the caller of its writes).
    ``identify`` names an owner in the index (the owner itself by default; the cache names it by
    its task, which its rows keep): ``add`` and ``discard`` may be given either form it maps.
    """

    __slots__ = ("_get", "_identify", "_table", "_watcher")

    def __init__(
        self, table: Table, watcher: Server, identify: Callable[[Process], Hashable] | None = None
    ) -> None:
        self._table = table
        self._get = table.getter()
        self._watcher = watcher
        self._identify = identify or _itself

    @property
    def table(self) -> Table:
        """The table of rows ``(owner, monitor ref, {key: None})``."""
        return self._table

    def __len__(self) -> int:
        """How many owners are monitored: each holds at least one key."""
        return len(self._table)

    def count(self, owner: Process) -> int:
        """How many keys ``owner`` holds."""
        row = self._get(self._identify(owner))
        return 0 if row is None else len(row[2])

    def add(self, owner: Process, key: Hashable) -> None:
        """Record ``key`` as ``owner``'s, monitoring ``owner`` on its first key."""
        name = self._identify(owner)
        row = self._get(name)
        if row is None:
            self._table.insert((name, monitor(owner, watcher=self._watcher), {key: None}))
        else:
            row[2][key] = None

    def discard(self, owner: Process, key: Hashable) -> None:
        """Forget ``key`` as ``owner``'s; with its last key, the owner and its monitor go too."""
        name = self._identify(owner)
        row = self._get(name)
        if row is not None:
            row[2].pop(key, None)
            if not row[2]:
                # No flush: a Down already queued finds no row (or a newer monitor's): ``down``
                # ignores it.
                demonitor(row[1])
                self._table.delete(name)

    def down(self, owner: Process, ref: MonitorRef) -> list[Hashable] | None:
        """The keys ``owner`` held, forgotten, for its ``Down`` with ``ref``; None for a stale Down
        (the owner was forgotten, or re-added under a newer monitor, since)."""
        name = self._identify(owner)
        row = self._get(name)
        if row is None or row[1] is not ref:
            return None
        self._table.delete(name)
        return list(row[2])

    def held(self, owner: Process, ref: MonitorRef) -> list[Hashable] | None:
        """The keys ``owner`` holds, for its ``Down`` with ``ref``, without forgetting them: for a
        server that removes them in slices (``discard`` each; the row goes with the last), so that
        if it stops halfway the row is still there for its successor. None for a stale Down."""
        row = self._get(self._identify(owner))
        if row is None or row[1] is not ref:
            return None
        return list(row[2])

    def forget(self, owner: Process, ref: MonitorRef) -> None:
        """Drop ``owner``'s row if it is still the one of monitor ``ref`` (after ``held``: whatever
        keys its holder did not ``discard``)."""
        name = self._identify(owner)
        row = self._get(name)
        if row is not None and row[1] is ref:
            self._table.delete(name)

    def remonitor(self) -> None:
        """Monitor every owner anew from ``watcher``: after the rows were inherited from a previous
        watcher, whose monitors ended with it (the owners must be named by themselves)."""
        for owner, ref, keys in self._table.tab2list():
            demonitor(ref)  # already ended with its watcher by the library; harmless, and explicit
            self._table.insert((owner, monitor(owner, watcher=self._watcher), keys))
