"""TableKeeper: the heir that holds a crashed server's tables until its next incarnation claims them.

The pattern is the ETS one (a long-lived "heir" process beside the worker): the worker creates its
tables with ``heir=keeper``; when it exits, the tables pass to the keeper instead of being deleted;
the restarted worker calls ``claim`` and the keeper gives them back with ``give_away``. The keeper
does nothing else, so it practically never crashes; if it does, its supervisor restarts it and the
new keeper sends ``KeeperUp`` to every server named in ``announce_to`` so they re-appoint it.

>>> import asyncio
>>> from supervisor import Server, Table
>>> async def demo() -> list[object]:
...     keeper = await TableKeeper.start()
...     class Worker(Server):
...         async def init(self) -> None:
...             self.table = Table("t", heir=keeper, heir_data="worker")
...             self.table.insert(("k", 1))
...     first = await Worker.start()
...     await first.stop()                                   # the table survives, held by the keeper
...     second = await Worker.start()
...     claimed = await keeper.call(Claim("worker", second))
...     result = [t.lookup("k") for t in claimed], claimed[0].owner is second
...     await second.stop()
...     await keeper.stop()
...     return list(result)
>>> asyncio.run(demo())
[[[('k', 1)]], True]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from supervisor import Caller, Server, Table, whereis
from supervisor.tables import TableTransfer

__all__ = ["Claim", "KeeperUp", "TableKeeper"]


@dataclass(frozen=True, slots=True)
class Claim:
    """Call the keeper with this to get back the tables inherited under ``label`` (the heir data).

    The reply is the tuple of tables, now owned by ``claimant``, in the order they were created
    (empty when the keeper holds none). ``claimant`` receives a ``TableTransfer`` for each.
    """

    label: object
    claimant: Server


@dataclass(frozen=True, slots=True)
class KeeperUp:
    """Sent by a (re)started keeper to the servers it serves: make me the heir of your tables."""

    keeper: TableKeeper


class TableKeeper(Server):
    """Holds inherited tables by heir data until claimed. ``init(announce_to=())``: registered names
    of the servers to tell, with ``KeeperUp``, that a new keeper is running."""

    async def init(self, announce_to: tuple[str, ...] = ()) -> None:
        self._held: dict[object, list[Table]] = {}
        for name in announce_to:
            server = whereis(name)
            if server is not None:
                server.send(KeeperUp(self))

    async def handle_info(self, message: Any) -> None:
        if isinstance(message, TableTransfer) and message.table.owner is self:
            self._held.setdefault(message.heir_data, []).append(message.table)

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if not isinstance(request, Claim):
            return ()  # not a claim: nothing to give (and no reason to crash and lose the tables)
        if not request.claimant.alive:  # it died while asking: keep the tables for the next one
            return ()
        tables = tuple(t for t in self._held.pop(request.label, []) if not t.deleted)
        for table in tables:
            table.give_away(request.claimant, request.label)
        return tables

    def held(self) -> dict[object, int]:
        """How many tables the keeper holds, per label (for statistics and tests)."""
        return {label: len(tables) for label, tables in self._held.items()}
