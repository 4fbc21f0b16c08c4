"""``arbord.experiments``: the small server that owns the experiments' tables.

It does nothing but own them: experiments write their counts from the caller's task
(``daemon.flags.experiments.table``), and ``migration.experiments`` reads them, so the server never
sits on a hot path. Its tables are public (every task writes) and named (found by name on each
write). If it crashes, its supervisor starts it again with empty tables: the counts of an experiment
are a measurement of the current run, not a record to keep (docs/migrations.md, "Experiments").

>>> import asyncio
>>> from supervisor.tables import whereis_table
>>> async def demo() -> tuple[bool, bool]:
...     server = await Experiments.start()
...     up = whereis_table(COUNTS_TABLE) is not None
...     await server.stop()
...     return up, whereis_table(COUNTS_TABLE) is None
>>> asyncio.run(demo())
(True, True)
"""

from __future__ import annotations

from typing import Final

from daemon.flags.experiments.table import COUNTS_TABLE, MISMATCHES_TABLE, SAMPLES_TABLE
from supervisor import ChildSpec, Server
from supervisor.tables import Access, Table

__all__ = ["EXPERIMENTS_ID", "EXPERIMENTS_NAME", "Experiments", "experiments_child_spec"]

EXPERIMENTS_NAME: Final = "arbord.experiments"
"""The server's registered name (its counts table has the same name)."""
EXPERIMENTS_ID: Final = "experiments"
"""Its child id at the root."""


class Experiments(Server):
    """Owns ``arbord.experiments``, ``arbord.experiments.samples`` and ``.mismatches``."""

    async def init(self) -> None:
        self.tables = tuple(
            Table(name, named=True, access=Access.PUBLIC)
            for name in (COUNTS_TABLE, SAMPLES_TABLE, MISMATCHES_TABLE)
        )


def experiments_child_spec() -> ChildSpec:
    """The root's child ``experiments``, registered as ``arbord.experiments``."""
    return ChildSpec(EXPERIMENTS_ID, Experiments, name=EXPERIMENTS_NAME)
