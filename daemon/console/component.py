"""The console as a component of the daemon: ``[console]``, present in the tree only when enabled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from daemon.component import Component, ComponentContext
from daemon.console import console_child_spec
from daemon.console.config import ConsoleSettings
from supervisor import ChildSpec

__all__ = ["CONSOLE"]


def _children(section: ConsoleSettings, context: ComponentContext) -> Sequence[ChildSpec]:
    if not section.enabled:
        return ()
    return (console_child_spec(section, context.runtime_dir, context.daemon, context.verbs),)


CONSOLE: Final[Component[ConsoleSettings]] = Component("console", ConsoleSettings, child_specs=_children)
"""``[console]``: the aiomonitor console, off by default; enabling or disabling it on reload starts or
stops it."""
