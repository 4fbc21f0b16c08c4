"""MigrationControl's place in the tree: a child of the root in the flags component, after the flags
server (it reads the flags in force when it starts and writes through that server)."""

from __future__ import annotations

from typing import Final

from daemon.flags.binding import flags_server
from daemon.flags.config import FlagsSettings
from daemon.flags.migration.config import plans
from daemon.flags.migration.control import MIGRATION_NAME, MigrationControl
from daemon.flags.migration.port import ServerFlags
from supervisor import ChildSpec

__all__ = ["MIGRATION_ID", "migration_child_spec"]

MIGRATION_ID: Final = "migration"


def migration_child_spec(section: FlagsSettings) -> ChildSpec:
    """``arbord.migration`` over the ``[flags.migration]`` part of ``section`` (its plans already
    checked against the declared flags when the settings loaded)."""
    migration = section.migration
    return ChildSpec(
        MIGRATION_ID,
        MigrationControl,
        args=(migration, plans(migration, section.declared), ServerFlags(flags_server)),
        name=MIGRATION_NAME,
    )
