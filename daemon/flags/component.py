"""The flags as a component of the daemon: ``[flags]``, the flags server, the ``flags.*`` verbs, and
OFREP's mount when ``[flags] ofrep`` is on.

The component reads its section and, while OFREP is on, the HTTP listener's address
(``[telemetry.prometheus] listen``): a reload that would leave OFREP without a listener is refused
(the configuration in force stays), as the start is (exit 78). A change of the address alone
restarts nothing here: the mount follows the listener (daemon/flags/ofrep/mount.py).

>>> from daemon.flags.config import FlagsSettings
>>> on, off = FlagsSettings(store="memory", ofrep=True), FlagsSettings(store="memory")
>>> _reload(FlagsView(on, "127.0.0.1:9464"), FlagsView(on, "127.0.0.1:9465"))
<Reload.KEEP: 'keep'>
>>> type(_reload(FlagsView(on, "127.0.0.1:9464"), FlagsView(on, None))).__name__
'UpdateInPlace'
>>> _reload(FlagsView(off, None), FlagsView(on, "127.0.0.1:9464"))
<Reload.RESTART: 'restart'>
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from daemon.component import (
    Component,
    ComponentContext,
    Reload,
    ReloadOutcome,
    UpdateInPlace,
    restart_when_changed,
)
from daemon.flags.binding import FLAGS_NAME
from daemon.flags.config import FlagsSettings
from daemon.flags.migration.spec import migration_child_spec
from daemon.flags.server import Flags
from daemon.verbs.method import Method
from supervisor import ChildSpec, whereis

__all__ = ["FLAGS", "FLAGS_ID", "FlagsView"]

FLAGS_ID: Final = "flags"


@dataclass(frozen=True, slots=True)
class FlagsView:
    """What the flags component reads: ``[flags]``, and ``[telemetry.prometheus] listen`` while
    ``[flags] ofrep`` is on (None otherwise, or when no listener is configured)."""

    section: FlagsSettings
    listen: str | None = None


def _view(settings: Any) -> FlagsView:
    section: FlagsSettings = settings.flags
    if not section.ofrep:
        return FlagsView(section)
    telemetry = getattr(settings, "telemetry", None)  # a daemon built without the telemetry component
    return FlagsView(section, None if telemetry is None else telemetry.prometheus.listen)


def _reload(old: FlagsView, new: FlagsView) -> Reload | UpdateInPlace:
    if new.section.ofrep and new.listen is None:
        from daemon.flags.ofrep.mount import NO_LISTENER

        async def refuse(outcome: ReloadOutcome) -> None:
            outcome.errors.append(NO_LISTENER)

        return UpdateInPlace(refuse)
    return restart_when_changed(old.section, new.section)


def _children(view: FlagsView, context: ComponentContext) -> Sequence[ChildSpec]:
    section = view.section
    specs = [
        ChildSpec(FLAGS_ID, Flags, args=(section,), name=FLAGS_NAME),
        migration_child_spec(section),  # arbord.migration, after the flags it reads (docs/migrations.md)
    ]
    if section.ofrep:  # OFREP's routes on arbord.http (daemon/flags/ofrep, docs/flags.md "OFREP")
        # Imported only when configured, with the HTTP listener behind it: not at a default start.
        from daemon.flags.ofrep.mount import ofrep_child_spec

        specs.append(ofrep_child_spec())
    return specs


def _health() -> Mapping[str, Any]:
    """``flags_read_only`` (since, seconds, reason, probes, refused) while the store refuses writes."""
    server = whereis(FLAGS_NAME)
    status = server.read_only_status() if isinstance(server, Flags) and server.alive else None
    return {} if status is None else {"flags_read_only": status}


def _verbs() -> Sequence[Method]:
    # Imported when the verb table is built (the first request), not at start.
    from daemon.flags.fleet_methods import fleet_methods
    from daemon.flags.methods import flags_methods
    from daemon.flags.migration.verbs import migration_methods

    # flags_methods: the flags' verbs; fleet_methods: flags.status, flags.wait (fleet_methods.py);
    # migration_methods: the migration.* verbs and flags.why (daemon/flags/migration/verbs.py)
    return (*flags_methods(), *fleet_methods(), *migration_methods())


FLAGS: Final[Component[FlagsView]] = Component(
    "flags", FlagsSettings, view=_view, child_specs=_children, verbs=_verbs, reload=_reload, health=_health
)
"""``[flags]``: the flags server ``arbord.flags`` over the store the section names."""
