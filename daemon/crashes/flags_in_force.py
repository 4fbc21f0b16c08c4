"""What flags were in force at a crash: the crash log's ``FlagsHook`` over the flags server
(``arbord.flags``), read from its table in the crash's telemetry handler (no hop).

Each flag's gates as the stores keep them, bounded: at most ``MAX_FLAGS`` flags, and a flag with more
than ``MAX_ACTORS`` actor gates keeps only how many it has (a rollout to thousands of named actors
must not make every crash record that large). Without a flags server, a crash records none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from daemon.flags.binding import FLAGS_NAME
from daemon.flags.server import Flags
from supervisor import whereis

__all__ = ["MAX_ACTORS", "MAX_FLAGS", "flags_in_force"]

MAX_FLAGS: Final = 200
"""The most flags one crash record keeps (the rest are counted in ``left_out``)."""
MAX_ACTORS: Final = 20
"""Past this many actor gates, a flag's record keeps their count instead of the gates."""


def flags_in_force() -> Mapping[str, Any] | None:
    """``{"revision", "flags": {name: gates}, "left_out"}`` from the running flags server, or None."""
    server = whereis(FLAGS_NAME)
    if not isinstance(server, Flags):
        return None
    names = server.known()
    flags: dict[str, Any] = {}
    for name in names[:MAX_FLAGS]:
        state = server.state(name)
        if state is None:
            continue
        gates = state.to_json()
        actors = gates.get("actors")
        if isinstance(actors, Mapping) and len(actors) > MAX_ACTORS:
            gates["actors"] = {"count": len(actors)}
        flags[name] = gates
    return {"revision": server.revision, "flags": flags, "left_out": max(0, len(names) - MAX_FLAGS)}
