"""The flags as a component of the daemon: ``[flags]``, the flags server, the ``flags.*`` verbs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from daemon.component import Component, ComponentContext
from daemon.flags.binding import FLAGS_NAME
from daemon.flags.config import FlagsSettings
from daemon.flags.fleet_methods import fleet_methods
from daemon.flags.methods import flags_methods
from daemon.flags.migration.spec import migration_child_spec
from daemon.flags.migration.verbs import migration_methods
from daemon.flags.ofrep.mount import ofrep_child_spec
from daemon.flags.server import Flags
from daemon.verbs.method import Method
from supervisor import ChildSpec

__all__ = ["FLAGS", "FLAGS_ID"]

FLAGS_ID: Final = "flags"


def _children(section: FlagsSettings, context: ComponentContext) -> Sequence[ChildSpec]:
    specs = [
        ChildSpec(FLAGS_ID, Flags, args=(section,), name=FLAGS_NAME),
        migration_child_spec(section),  # arbord.migration, after the flags it reads (docs/migrations.md)
    ]
    if section.ofrep:  # OFREP's routes on arbord.http (daemon/flags/ofrep, docs/flags.md "OFREP")
        specs.append(ofrep_child_spec())
    return specs


def _verbs() -> Sequence[Method]:
    # flags_methods: the flags' verbs; fleet_methods: flags.status, flags.wait (fleet_methods.py);
    # migration_methods: the migration.* verbs and flags.why (daemon/flags/migration/verbs.py)
    return (*flags_methods(), *fleet_methods(), *migration_methods())


FLAGS: Final[Component[FlagsSettings]] = Component(
    "flags", FlagsSettings, child_specs=_children, verbs=_verbs
)
"""``[flags]``: the flags server ``arbord.flags`` over the store the section names."""
