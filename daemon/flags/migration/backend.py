"""Which of a migrated component's two paths serves a call: the supervised one, or its legacy twin.

Foundation's cleanup kept both paths of every migrated component and chose between them per call
from a flag of its ``otp_cleanup`` plan, so production could move stage by stage and roll back.
arbord's migrated components (the registry, error context, span management, sampled events) do the
same through one interface each; this is the one place that reads the flag for them, and the read
is one table read on the flags server's hot path (no mailbox hop).

With no flags server running (the library used without the daemon, or a daemon still starting), the
supervised path serves: it is arbord's design, and the legacy path exists only so that a migration
can be staged and rolled back.

The read is on every switched call, so it is kept to what it must do: one read of the name table
(``supervisor.lowlevel.names_view``, bound once: a view of the runtime's table, not state of this
module), the server's type and readiness, whether its event loop is still open, and the flag's row
(``Flags.enabled``). ``whereis`` would check the same liveness through a property; a registered
server has not exited (its name goes in the same step as its exit), so the loop is what is left to
check. docs/performance.md gives the cost against ``Flags.enabled`` alone and against ``whereis``.

>>> use_supervised("use_ets_agent_registry")
True
"""

from __future__ import annotations

from typing import Final

from daemon.flags.binding import FLAGS_NAME
from daemon.flags.server import Flags
from supervisor.lowlevel import names_view

__all__ = ["flag_on", "use_supervised"]

_named: Final = names_view().get


def use_supervised(flag: str, actor: str | None = None) -> bool:
    """Does ``flag`` (for ``actor``, when the rollout is by actor) choose the supervised path?"""
    server = _named(FLAGS_NAME)
    if isinstance(server, Flags) and server._ready:
        loop = server._loop
        if loop is not None and not loop.is_closed():
            return server.enabled(flag, actor)
    return True


def flag_on(flag: str, actor: str | None = None) -> bool:
    """Is ``flag`` on (for ``actor``)? Unlike ``use_supervised``, False with no flags server running:
    for a flag that adds work (``enable_migration_monitoring``), not one that chooses a path."""
    server = _named(FLAGS_NAME)
    if isinstance(server, Flags) and server._ready:
        loop = server._loop
        if loop is not None and not loop.is_closed():
            return server.enabled(flag, actor)
    return False
