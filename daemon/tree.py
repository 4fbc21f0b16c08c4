"""The daemon's supervision tree, assembled from the settings.

The root supervisor (``arbord.root``) starts, in this order::

    arbord.root (one_for_one)
    ├── registry_keeper  the heir of the registry's tables   (daemon/registry/keeper.py)
    ├── registry         the agent registry's supervisor     (daemon/registry), over the registry
    ├── cache            the cache supervisor                (daemon/cache), one child per named cache
    ├── servers          the user servers' supervisor        (arbord.servers), one per [servers.<name>]
    ├── console          the aiomonitor console, only when [console] enabled
    └── control          the control socket server, last: it starts once everything it serves is up
                         and, stopping first, stops taking requests and drains the in-flight ones

Children find each other by registered name (``whereis("arbord.registry")``), never by reference, so
a restart of one needs no restart of the others: hence ``one_for_one`` at the root. docs/operations.md
explains the choice for each supervisor.

Each planned child carries the slice of the settings it was built from; a reload compares slices to
restart only the children whose configuration changed (``changed_children``). The registry's keeper
is a child of the root, first, rather than of the registry's supervisor: it takes no settings, so a
reload of ``[registry]`` restarts the registry alone, which claims its tables back from the keeper,
and it outlives the registry's supervisor giving up (daemon/registry/spec.py, docs/registry.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from daemon.app_paths import RuntimePaths
from daemon.cache import cache_child_spec, cache_methods
from daemon.cache.config import CacheSettings
from daemon.console.config import ConsoleSettings
from daemon.control import control_child_spec, core_methods
from daemon.control.config import ControlSettings
from daemon.control.methods import DaemonContext, Method, methods_by_name
from daemon.registry import keeper_child_spec, registry_child_spec, registry_methods
from daemon.registry.config import RegistrySettings
from daemon.settings import ServerSection, Settings, SupervisorSection
from supervisor import ChildSpec, ChildType, Restart, Shutdown, Strategy, Supervisor

__all__ = [
    "CONSOLE_ID",
    "CONTROL_ID",
    "ROOT_NAME",
    "SERVERS_ID",
    "SERVERS_NAME",
    "Components",
    "PlannedChild",
    "changed_children",
    "plan_tree",
    "root_flags",
    "server_spec",
    "servers_supervisor_spec",
    "standard_components",
    "supervisor_flags",
]

ROOT_NAME: Final = "arbord.root"
SERVERS_NAME: Final = "arbord.servers"
SERVERS_ID: Final = "servers"
CONSOLE_ID: Final = "console"
CONTROL_ID: Final = "control"


@dataclass(frozen=True, slots=True)
class Components:
    """The factories the tree is made of. ``standard_components()`` gives the daemon's own; tests
    substitute small ones to exercise assembly and reload without sockets."""

    registry_spec: Callable[[RegistrySettings], ChildSpec]
    cache_spec: Callable[[CacheSettings], ChildSpec]
    control_spec: Callable[[ControlSettings, Path, DaemonContext, Mapping[str, Method]], ChildSpec]
    console_spec: Callable[[ConsoleSettings, Path, DaemonContext, Mapping[str, Method]], ChildSpec]
    methods: Callable[[], Mapping[str, Method]]


def _console_spec(
    settings: ConsoleSettings, runtime_dir: Path, context: DaemonContext, methods: Mapping[str, Method]
) -> ChildSpec:
    # Imported only when the console is enabled: aiomonitor and its UI stack cost more start-up time
    # than the rest of the daemon (bench/bench_daemon.py).
    from daemon.console import console_child_spec

    return console_child_spec(settings, runtime_dir, context, methods)


def standard_components() -> Components:
    """The registry, cache, console and control components of ``daemon``, with all their methods."""

    def methods() -> Mapping[str, Method]:
        return methods_by_name(core_methods(), registry_methods(), cache_methods())

    return Components(
        registry_spec=registry_child_spec,
        cache_spec=cache_child_spec,
        control_spec=control_child_spec,
        console_spec=_console_spec,
        methods=methods,
    )


@dataclass(frozen=True, slots=True)
class PlannedChild:
    """One child of the root: its spec and the settings it was built from (compared on reload)."""

    spec: ChildSpec
    source: object

    @property
    def id(self) -> str:
        return self.spec.id


def supervisor_flags(section: SupervisorSection) -> dict[str, Any]:
    """The ``Supervisor`` keyword arguments for a ``[tree.*]`` section."""
    return {
        "strategy": Strategy(section.strategy),
        "intensity": section.intensity,
        "period": section.period,
    }


def root_flags(settings: Settings) -> dict[str, Any]:
    """The root supervisor's keyword arguments, name included."""
    return {**supervisor_flags(settings.tree.root), "name": ROOT_NAME}


def server_spec(name: str, section: ServerSection) -> ChildSpec:
    """The child spec of the user server ``[servers.<name>]``, registered as ``arbord.servers.<name>``."""
    shutdown: float | Shutdown = (
        section.shutdown if isinstance(section.shutdown, float) else Shutdown(section.shutdown)
    )
    return ChildSpec(
        name,
        section.server_class(),
        args=tuple(section.args),
        kwargs=dict(section.kwargs),
        restart=Restart(section.restart),
        shutdown=shutdown,
        name=f"{SERVERS_NAME}.{name}",
    )


def servers_supervisor_spec(settings: Settings) -> ChildSpec:
    """The supervisor of the user servers (present even with none, so ``start_child`` has a home)."""
    children = [server_spec(name, section) for name, section in settings.servers.items()]
    return ChildSpec(
        SERVERS_ID,
        Supervisor,
        args=(children,),
        kwargs=supervisor_flags(settings.tree.servers),
        type=ChildType.SUPERVISOR,
        name=SERVERS_NAME,
    )


def plan_tree(
    settings: Settings,
    paths: RuntimePaths,
    context: DaemonContext,
    components: Components,
    methods: Mapping[str, Method],
) -> list[PlannedChild]:
    """The root's children, in start order (the registry's keeper first, the control server last)."""
    planned = [
        PlannedChild(keeper_child_spec(), None),  # no settings: a reload never restarts it
        PlannedChild(components.registry_spec(settings.registry), settings.registry),
        PlannedChild(components.cache_spec(settings.cache), settings.cache),
        PlannedChild(servers_supervisor_spec(settings), (settings.tree.servers, settings.servers)),
    ]
    if settings.console.enabled:
        spec = components.console_spec(settings.console, paths.runtime_dir, context, methods)
        planned.append(PlannedChild(spec, settings.console))
    control = components.control_spec(settings.control, paths.control_socket, context, methods)
    planned.append(PlannedChild(control, (settings.control, paths.control_socket)))
    return planned


def changed_children(old: Sequence[PlannedChild], new: Sequence[PlannedChild]) -> list[str]:
    """Ids of children added, removed, or whose settings differ between two plans, in ``new``'s order
    (removed ones last)."""
    before = {child.id: child.source for child in old}
    after = {child.id: child.source for child in new}
    changed = [cid for cid, source in after.items() if cid not in before or before[cid] != source]
    changed.extend(cid for cid in before if cid not in after)
    return changed
