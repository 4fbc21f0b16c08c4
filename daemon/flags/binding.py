"""The flags as the application calls them: module functions over the running ``arbord.flags``.

``enabled(flag, actor=None)`` finds the server by its registered name and evaluates in the caller's
task (no mailbox hop); ``enable``, ``disable``, ``clear`` and ``set_percentage`` are writes through
the server (ordered, durable, then published). In a hot loop, keep ``flags_server().enabled``: it
saves the name lookup.
"""

from __future__ import annotations

from typing import Any, Final

from daemon.flags.evaluate import Predicate
from daemon.flags.gates import GateKind
from daemon.flags.server import Actor, Flags
from daemon.flags.store import ChangeRecord
from supervisor.errors import NoProc
from supervisor.lowlevel import names_view

__all__ = [
    "FLAGS_NAME",
    "clear",
    "disable",
    "enable",
    "enabled",
    "flags_server",
    "register_group",
    "set_percentage",
]

FLAGS_NAME: Final = "arbord.flags"
"""The flags server's registered name."""


_named: Final = names_view().get
"""The name table's own ``get`` (a live view, no state of this module's): the cheapest lookup of
the server by name. A server that has exited but not yet released its name is not ready (``Flags``
clears ``_ready`` when it exits), so it is refused as ``whereis`` would."""


def flags_server() -> Flags:
    """The running flags server; ``NoProc`` if there is none (or it is starting, or has exited)."""
    server = _named(FLAGS_NAME)
    if not isinstance(server, Flags) or not server._ready:
        raise NoProc(f"no flags server is running as {FLAGS_NAME!r}")
    return server


def enabled(flag: str, actor: str | Actor | None = None) -> bool:
    """Is ``flag`` on for ``actor``? Always a ``bool``; an unknown flag is off. (``flags_server``
    inline: this is the application's hot path, bench/bench_flags.py.)"""
    server = _named(FLAGS_NAME)
    try:  # no isinstance on the hot path: anything else under the name has no _ready (or is None)
        if server._ready:  # type: ignore[union-attr]
            return server.enabled(flag, actor)  # type: ignore[no-any-return,union-attr]
    except AttributeError:
        if isinstance(server, Flags) and server._ready:
            raise  # from the evaluation itself (a group's function): not a missing server
    raise NoProc(f"no flags server is running as {FLAGS_NAME!r}")


async def enable(flag: str, **options: Any) -> ChangeRecord:
    """``Flags.enable`` on the running server (``for_actor``, ``for_group``, ``actor``, ``reason``,
    ``create``)."""
    return await flags_server().enable(flag, **options)


async def disable(flag: str, **options: Any) -> ChangeRecord:
    """``Flags.disable`` on the running server."""
    return await flags_server().disable(flag, **options)


async def clear(flag: str, gate: GateKind | None = None, **options: Any) -> ChangeRecord:
    """``Flags.clear`` on the running server."""
    return await flags_server().clear(flag, gate, **options)


async def set_percentage(flag: str, value: float, **options: Any) -> ChangeRecord:
    """``Flags.set_percentage`` on the running server (``of="time"|"actors"``, ``group_id``)."""
    return await flags_server().set_percentage(flag, value, **options)


def register_group(name: str, predicate: Predicate) -> None:
    """``Flags.register_group`` on the running server."""
    flags_server().register_group(name, predicate)
