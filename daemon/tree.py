"""The daemon's supervision tree: the ordered list of its components, and the plan built from them.

The root supervisor (``arbord.root``) starts each component's children, in the order of
``COMPONENTS``::

    arbord.root (one_for_one)
    ├── telemetry_keeper the heir of the sampled events' tables (arbord.telemetry.keeper)
    ├── telemetry        sampled events, sampling, accounting (arbord.telemetry, daemon/telemetry)
    ├── metrics          the metrics' tables and handlers     (daemon/telemetry/aggregation.py)
    ├── poller           periodic measurements (arbord.metrics.poller), unless disabled
    ├── http             the HTTP listener (/metrics), only with [telemetry.prometheus] listen
    ├── spans            the span server, arbord.spans: the table of in-flight spans (daemon/spans)
    ├── crashes_keeper   the heir of the crash log's tables  (arbord.crashes.keeper)
    ├── crashes          the crash log, arbord.crashes      (daemon/crashes): one record per crash
    ├── registry_keeper  the heir of the registry's tables   (daemon/registry/keeper.py)
    ├── registry         the agent registry's supervisor     (daemon/registry), over the registry
    ├── cache            the cache supervisor                (daemon/cache), one child per named cache
    ├── flags            the feature flags' server           (daemon/flags), over its store
    ├── migration        migrations and automatic rollback   (daemon/flags/migration), after flags
    ├── ofrep            OFREP's routes on arbord.http       (daemon/flags/ofrep), with [flags] ofrep
    ├── experiments      the experiments' tables' owner      (daemon/flags/experiments/server.py)
    ├── servers          the user servers' supervisor        (daemon/servers), one per [servers.<name>]
    ├── console          the aiomonitor console, only when [console] enabled
    └── control          the control socket server, last: it starts once everything it serves is up
                         and, stopping first, stops taking requests and drains the in-flight ones

(``core``, first in the list, has no children: it brings the verbs every daemon has.)

Children find each other by registered name (``whereis("arbord.registry")``), never by reference, so
a restart of one needs no restart of the others: hence ``one_for_one`` at the root. docs/operations.md
explains the choice for each supervisor.

A component is one package exporting one ``daemon.component.Component``; adding one is adding it
here (docs/operations.md, "Adding a component"). Its place in the list is its place in the tree.
The registry's keeper is a component of its own, first, rather than a child of the registry's
supervisor: it takes no settings, so a reload of ``[registry]`` restarts the registry alone, which
claims its tables back from the keeper, and it outlives the registry's supervisor giving up
(daemon/registry/spec.py, docs/registry.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from daemon.cache.component import CACHE
from daemon.component import Component, ComponentContext, Reload
from daemon.console.component import CONSOLE
from daemon.control.component import CONTROL
from daemon.crashes.component import CRASHES, CRASHES_KEEPER
from daemon.flags.component import FLAGS
from daemon.flags.experiments.component import EXPERIMENTS
from daemon.registry.component import KEEPER, REGISTRY
from daemon.sections import SettingsBase
from daemon.servers.component import (
    SERVERS,
    SERVERS_ID,
    SERVERS_NAME,
    server_spec,
    servers_supervisor_spec,
    supervisor_flags,
)
from daemon.spans.component import SPANS
from daemon.telemetry.component import TELEMETRY
from daemon.verbs.component import CORE
from supervisor import ChildSpec

__all__ = [
    "COMPONENTS",
    "CONSOLE_ID",
    "CONTROL_ID",
    "ROOT_NAME",
    "SERVERS_ID",
    "SERVERS_NAME",
    "PlannedChild",
    "changed_components",
    "plan_tree",
    "root_flags",
    "server_spec",
    "servers_supervisor_spec",
    "standard_components",
    "supervisor_flags",
]

ROOT_NAME: Final = "arbord.root"
CONSOLE_ID: Final = "console"
CONTROL_ID: Final = "control"

COMPONENTS: Final[tuple[Component[Any], ...]] = (
    CORE,
    TELEMETRY,
    SPANS,
    CRASHES_KEEPER,
    CRASHES,
    KEEPER,
    REGISTRY,
    CACHE,
    FLAGS,
    EXPERIMENTS,
    SERVERS,
    CONSOLE,
    CONTROL,
)
"""The daemon's components, in start order (the control server last: it stops first)."""


def standard_components() -> tuple[Component[Any], ...]:
    """The daemon's own components (``COMPONENTS``)."""
    return COMPONENTS


@dataclass(frozen=True, slots=True)
class PlannedChild:
    """One child of the root: its spec and the component that planned it."""

    spec: ChildSpec
    component: str

    @property
    def id(self) -> str:
        return self.spec.id


def root_flags(settings: SettingsBase) -> dict[str, Any]:
    """The root supervisor's keyword arguments, name included."""
    return {"flags": supervisor_flags(settings.tree.root), "name": ROOT_NAME}


def plan_tree(
    settings: SettingsBase, context: ComponentContext, components: Sequence[Component[Any]]
) -> list[PlannedChild]:
    """The root's children, in start order: each component's, in the order of ``components``."""
    return [
        PlannedChild(spec, component.name)
        for component in components
        for spec in component.child_specs(component.of(settings), context)
    ]


def changed_components(
    components: Sequence[Component[Any]], old: SettingsBase, new: SettingsBase
) -> list[str]:
    """The names of the components a reload from ``old`` to ``new`` does something to."""
    return [c.name for c in components if c.reload(c.of(old), c.of(new)) is not Reload.KEEP]
