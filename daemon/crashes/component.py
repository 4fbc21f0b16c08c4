"""The crash log as two components of the daemon: its tables' keeper (``crashes_keeper``), then
``[crashes]``: the server ``arbord.crashes`` and the verbs ``crashes`` and ``crashes.show``.

The keeper takes no settings, so a reload never restarts it (as the registry's keeper): a crash of
the crash log, or a reload of ``[crashes]`` that restarts it, ends with a new crash log that claims
its records back from the same keeper.

>>> [spec.name for spec in CRASHES_KEEPER.child_specs(None, None)]
['arbord.crashes.keeper']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from daemon.component import Component, ComponentContext
from daemon.crashes.config import CrashesSettings
from daemon.crashes.flags_in_force import flags_in_force
from daemon.crashes.open_spans import spans_left_open
from daemon.crashes.server import CRASHES_NAME, KEEPER_NAME, CrashLog
from daemon.registry.keeper import TableKeeper
from daemon.verbs.method import Method
from supervisor import ChildSpec

__all__ = ["CRASHES", "CRASHES_ID", "CRASHES_KEEPER", "KEEPER_ID"]

CRASHES_ID: Final = "crashes"
KEEPER_ID: Final = "crashes_keeper"


def _keeper(section: None, context: ComponentContext) -> Sequence[ChildSpec]:
    return (ChildSpec(KEEPER_ID, TableKeeper, kwargs={"announce_to": (CRASHES_NAME,)}, name=KEEPER_NAME),)


def _children(section: CrashesSettings, context: ComponentContext) -> Sequence[ChildSpec]:
    return (
        ChildSpec(
            CRASHES_ID,
            CrashLog,
            kwargs={
                "capacity": section.capacity,
                "open_spans": spans_left_open,
                "flags": flags_in_force,
                "keeper": KEEPER_NAME,
            },
            name=CRASHES_NAME,
        ),
    )


def _verbs() -> Sequence[Method]:
    # Imported when the verb table is built (the first request), not at start.
    from daemon.crashes.verbs import crash_methods

    return crash_methods()


CRASHES_KEEPER: Final[Component[None]] = Component(KEEPER_ID, child_specs=_keeper)
"""The heir of the crash log's tables (``crashes_keeper``): no settings, never restarted by a reload."""

CRASHES: Final[Component[CrashesSettings]] = Component(
    "crashes", CrashesSettings, child_specs=_children, verbs=_verbs
)
"""``[crashes]``: the crash log, ``arbord.crashes`` (docs/context.md, "Crash records")."""
