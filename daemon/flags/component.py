"""The flags as a component of the daemon: ``[flags]``, the flags server, the ``flags.*`` verbs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from daemon.component import Component, ComponentContext
from daemon.flags.binding import FLAGS_NAME
from daemon.flags.config import FlagsSettings
from daemon.flags.server import Flags
from supervisor import ChildSpec

__all__ = ["FLAGS", "FLAGS_ID"]

FLAGS_ID: Final = "flags"


def _children(section: FlagsSettings, context: ComponentContext) -> Sequence[ChildSpec]:
    return (ChildSpec(FLAGS_ID, Flags, args=(section,), name=FLAGS_NAME),)


FLAGS: Final[Component[FlagsSettings]] = Component("flags", FlagsSettings, child_specs=_children)
"""``[flags]``: the flags server ``arbord.flags`` over the store the section names."""
