"""The user servers as a component of the daemon: ``[servers.<name>]`` under ``arbord.servers``.

Their supervisor (``servers``, flags in ``[tree.servers]``) is present even with no server, so
``start_child`` has a home. A reload that changes ``[tree.servers]`` restarts that supervisor with
all its servers; one that changes only servers diffs them one by one under the running supervisor,
so a server whose section did not change keeps running (tests/daemon/test_tree.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from daemon.component import (
    Component,
    ComponentContext,
    Reload,
    ReloadOutcome,
    UpdateInPlace,
)
from daemon.respec import replace_child
from daemon.sections import SupervisorSection
from daemon.servers.config import ServerSection, ServersSection
from supervisor import ChildSpec, Restart, Shutdown, Strategy, Supervisor, SupervisorFlags, whereis

__all__ = [
    "SERVERS",
    "SERVERS_ID",
    "SERVERS_NAME",
    "ServersView",
    "server_spec",
    "servers_supervisor_spec",
    "supervisor_flags",
]

log = logging.getLogger("arbord.reload")

SERVERS_NAME: Final = "arbord.servers"
SERVERS_ID: Final = "servers"


@dataclass(frozen=True, slots=True)
class ServersView:
    """What the servers component reads: its supervisor's flags and the servers by name."""

    flags: SupervisorSection
    servers: Mapping[str, ServerSection]


def supervisor_flags(section: SupervisorSection) -> SupervisorFlags:
    """The flags of a supervisor configured by a ``[tree.*]`` section."""
    return SupervisorFlags(
        strategy=Strategy(section.strategy), intensity=section.intensity, period=section.period
    )


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
        start_timeout=section.start_limit,
    )


def servers_supervisor_spec(view: ServersView) -> ChildSpec:
    """The supervisor of the user servers (present even with none, so ``start_child`` has a home)."""
    children = [server_spec(name, section) for name, section in view.servers.items()]
    return Supervisor.child_spec(
        children, id=SERVERS_ID, name=SERVERS_NAME, flags=supervisor_flags(view.flags)
    )


def _view(settings: Any) -> ServersView:
    return ServersView(settings.tree.servers, settings.servers)


def _children(view: ServersView, context: ComponentContext) -> Sequence[ChildSpec]:
    return (servers_supervisor_spec(view),)


async def _apply_servers(old: ServersView, new: ServersView, outcome: ReloadOutcome) -> None:
    """Diff the user servers one by one under their running supervisor, against the specs it actually
    holds (not the previous settings), up to the first that fails; each replacement records its undo.

    Only the servers named by either configuration are touched: one added by ``start_child`` stays.
    """
    servers = whereis(SERVERS_NAME)
    if not isinstance(servers, Supervisor):
        outcome.errors.append(f"{SERVERS_NAME} is not running; user servers not reloaded")
        return
    held = {info.id for info in await servers.which_children()}
    for name in [*new.servers, *(n for n in old.servers if n not in new.servers)]:
        after = new.servers.get(name)
        wanted = server_spec(name, after) if after is not None else None
        actual = await servers.get_childspec(name) if name in held else None
        if wanted == actual:
            continue
        error = await replace_child(servers, actual, wanted)
        outcome.restarted.append(f"servers.{name}")
        if error:
            outcome.errors.append(f"servers.{error}")
            if SERVERS_ID not in outcome.failed:
                outcome.failed.append(SERVERS_ID)
            return
        outcome.record(f"servers.{name}", partial(replace_child, servers, wanted, actual))


def _reload(old: ServersView, new: ServersView) -> Reload | UpdateInPlace:
    if old == new:
        return Reload.KEEP
    if old.flags != new.flags:
        return Reload.RESTART

    async def apply(outcome: ReloadOutcome) -> None:
        await _apply_servers(old, new, outcome)

    return UpdateInPlace(apply)


SERVERS: Final[Component[ServersView]] = Component(
    "servers",
    ServersSection,
    default=dict,
    view=_view,
    child_specs=_children,
    reload=_reload,
)
"""``[servers.<name>]`` under the ``servers`` supervisor (``[tree.servers]``)."""
