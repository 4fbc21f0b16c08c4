"""The control server as a component of the daemon: ``[control]``, the root's last child.

Last, so it starts once everything it serves is up and, stopping first, stops taking requests and
drains the in-flight ones. A reload that changes only its limits and timeouts updates the running
server in place: the listener and every connection stay, with the registry entries they own
(test_lifecycle.py::test_a_reload_of_control_limits_keeps_the_connections_and_their_entries). One
that changes ``socket`` or ``group`` replaces it after the reply to that reload (the reply may
travel on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Final

from daemon.component import Component, ComponentContext, Reload, ReloadOutcome, UpdateInPlace
from daemon.control.config import CONTROL_SERVER_NAME, ControlSettings, LiveControlSettings
from daemon.control.server import ControlServer, UpdateSettings
from daemon.verbs.method import DaemonContext, VerbTable
from supervisor import ArbordError, ChildSpec, whereis

_UPDATE_TIMEOUT: Final = 10.0
"""Seconds the control server has to take on new settings (it answers at once unless wedged)."""

__all__ = ["CONTROL", "control_child_spec", "update_control"]


def control_child_spec(
    settings: ControlSettings, socket_path: Path, context: DaemonContext, verbs: VerbTable
) -> ChildSpec:
    """The control server as a child of the root (add it last, so it stops first).

    Registered as ``arbord.control``; its shutdown allows the drain (``drain_timeout``) plus a margin.
    Its start raises (as ``StartFailed`` from the tree) ``daemon.errors.AlreadyRunning`` when a live
    daemon answers on ``socket_path`` and ``ControlSocketError`` when the socket cannot be made safe.
    """
    return ChildSpec(
        "control",
        ControlServer,
        # Shared with the running server, which updates it in place on a reload of its limits. The
        # reload then gives the root this spec (daemon/app_reload.py follow_specs), so a restart
        # after a crash starts with the settings in force and the new stop budget (``shutdown``).
        args=(LiveControlSettings(settings), socket_path, context, verbs),
        shutdown=settings.drain_timeout + 2.0,
        name=CONTROL_SERVER_NAME,
    )


def _children(section: ControlSettings, context: ComponentContext) -> Sequence[ChildSpec]:
    path = section.socket_path(context.runtime_dir)
    return (control_child_spec(section, path, context.daemon, context.verbs),)


async def update_control(settings: ControlSettings) -> str | None:
    """Have the running control server take on ``settings`` in place; an error line, or None."""
    server = whereis(CONTROL_SERVER_NAME)
    if server is None:
        return "control: the control server is not running"
    try:
        refused = await server.call(UpdateSettings(settings), timeout=_UPDATE_TIMEOUT)
    except ArbordError as error:
        return f"control: could not update its settings: {error}"
    return f"control: {refused}" if refused is not None else None


def _reload(old: ControlSettings, new: ControlSettings) -> Reload | UpdateInPlace:
    """Keep; update in place (limits and timeouts); or restart after the reply (socket or group)."""
    if old == new:
        return Reload.KEEP
    if LiveControlSettings.listener_changed(old, new):
        return Reload.RESTART

    async def apply(outcome: ReloadOutcome) -> None:
        error = await update_control(new)
        if error:
            outcome.errors.append(error)
            return
        outcome.record("control", partial(update_control, old))

    return UpdateInPlace(apply)


CONTROL: Final[Component[ControlSettings]] = Component(
    "control", ControlSettings, child_specs=_children, reload=_reload, after_reply=True
)
"""``[control]``: the control socket, serving every component's verbs."""
