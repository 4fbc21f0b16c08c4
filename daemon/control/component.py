"""The control server as a component of the daemon: ``[control]``, the root's last child.

Last, so it starts once everything it serves is up and, stopping first, stops taking requests and
drains the in-flight ones. A reload that changes ``[control]`` replaces it after the reply to that
reload (the reply may travel on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from daemon.component import Component, ComponentContext
from daemon.control.config import CONTROL_SERVER_NAME, ControlSettings
from daemon.control.server import ControlServer
from daemon.verbs.method import DaemonContext, VerbTable
from supervisor import ChildSpec

__all__ = ["CONTROL", "control_child_spec"]


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
        args=(settings, socket_path, context, verbs),
        shutdown=settings.drain_timeout + 2.0,
        name=CONTROL_SERVER_NAME,
    )


def _children(section: ControlSettings, context: ComponentContext) -> Sequence[ChildSpec]:
    path = section.socket_path(context.runtime_dir)
    return (control_child_spec(section, path, context.daemon, context.verbs),)


CONTROL: Final[Component[ControlSettings]] = Component(
    "control", ControlSettings, child_specs=_children, after_reply=True
)
"""``[control]``: the control socket, serving every component's verbs."""
