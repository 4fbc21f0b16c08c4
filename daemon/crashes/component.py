"""The crash log as a component of the daemon: ``[crashes]``, the server ``arbord.crashes``, the verbs
``crashes`` and ``crashes.show``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from daemon.component import Component, ComponentContext
from daemon.crashes.config import CrashesSettings
from daemon.crashes.flags_in_force import flags_in_force
from daemon.crashes.open_spans import spans_left_open
from daemon.crashes.server import CRASHES_NAME, CrashLog
from daemon.crashes.verbs import crash_methods
from daemon.verbs.method import Method
from supervisor import ChildSpec

__all__ = ["CRASHES", "CRASHES_ID"]

CRASHES_ID: Final = "crashes"


def _children(section: CrashesSettings, context: ComponentContext) -> Sequence[ChildSpec]:
    return (
        ChildSpec(
            CRASHES_ID,
            CrashLog,
            kwargs={"capacity": section.capacity, "open_spans": spans_left_open, "flags": flags_in_force},
            name=CRASHES_NAME,
        ),
    )


def _verbs() -> Sequence[Method]:
    return crash_methods()


CRASHES: Final[Component[CrashesSettings]] = Component(
    "crashes", CrashesSettings, child_specs=_children, verbs=_verbs
)
"""``[crashes]``: the crash log, ``arbord.crashes`` (docs/context.md, "Crash records")."""
