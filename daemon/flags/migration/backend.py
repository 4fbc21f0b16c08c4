"""Which of a migrated component's two paths serves a call: the supervised one, or its legacy twin.

Foundation's cleanup kept both paths of every migrated component and chose between them per call
from a flag of its ``otp_cleanup`` plan, so production could move stage by stage and roll back.
arbord's migrated components (the registry, error context, span management, sampled events) do the
same through one interface each; this is the one place that reads the flag for them, and the read
is one table read on the flags server's hot path (no mailbox hop).

With no flags server running (the library used without the daemon, or a daemon still starting), the
supervised path serves: it is arbord's design, and the legacy path exists only so that a migration
can be staged and rolled back.

>>> use_supervised("use_ets_agent_registry")
True
"""

from __future__ import annotations

from daemon.flags.binding import FLAGS_NAME
from daemon.flags.server import Flags
from supervisor import whereis

__all__ = ["use_supervised"]


def use_supervised(flag: str, actor: str | None = None) -> bool:
    """Does ``flag`` (for ``actor``, when the rollout is by actor) choose the supervised path?"""
    server = whereis(FLAGS_NAME)
    if not isinstance(server, Flags) or not server._ready:
        return True
    return server.enabled(flag, actor)
