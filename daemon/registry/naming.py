"""Naming servers through a registry: Elixir's ``{:via, Registry, {registry, key}}``.

A server started with ``start_via`` is registered under ``via.key`` with itself as the owner, so
the name is freed the moment it exits, and ``whereis_via`` finds the live one. Unlike a plain
``name=`` (a global string), a via name is any hashable key in a registry of your choice, and it
carries metadata that ``find_by_attribute`` and ``query`` can search.

>>> import asyncio
>>> from supervisor import Server
>>> async def demo() -> list[object]:
...     registry = await Registry.start(name="doc.registry")
...     via = Via("doc.registry", ("worker", 7), {"node": "a"})
...     worker = await start_via(via, Server)
...     found = whereis_via(via) is worker
...     try:
...         await start_via(via, Server)
...     except AlreadyStarted as taken:
...         refused = taken.holder is worker
...     await worker.stop()
...     freed = whereis_via(via)
...     await registry.stop()
...     return [found, refused, freed]
>>> asyncio.run(demo())
[True, True, None]
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from daemon.registry.errors import AlreadyRegistered
from daemon.registry.registry import Registry, registry_named
from supervisor import NoProc, Server
from supervisor.errors import AlreadyStarted

__all__ = ["Via", "start_via", "whereis_registry", "whereis_via"]

S = TypeVar("S", bound=Server)


def _no_metadata() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Via:
    """A name in a registry: the registry's registered name, the key, the entry's metadata."""

    registry: str
    key: Hashable
    metadata: Mapping[str, Any] = field(default_factory=_no_metadata)


def whereis_via(via: Via) -> Server | None:
    """The live server registered under ``via``, or None (also when the registry is not running)."""
    server = whereis_registry(via.registry)
    if server is None:
        return None
    entry = server.lookup(via.key)
    owner = None if entry is None else entry.owner
    return owner if isinstance(owner, Server) else None


def whereis_registry(name: str) -> Registry | None:
    """The running registry called ``name``, or None."""
    try:
        return registry_named(name)
    except NoProc:
        return None


async def start_via(via: Via, server_class: type[S], *args: Any, **kwargs: Any) -> S:
    """Start ``server_class(*args, **kwargs)`` and register it under ``via``.

    A name already held by a live server raises ``AlreadyStarted`` with that server (OTP's
    ``{error, {already_started, Pid}}``); if another server took the name while this one was
    starting, the new one is stopped and the same error raised. Usable as a ``ChildSpec`` start
    function: ``ChildSpec("w", start_via, args=(via, Worker))``.
    """
    registry_named(via.registry)  # fail before starting anything when there is no registry
    holder = whereis_via(via)
    if holder is not None:
        raise AlreadyStarted(f"{via.key!r} in {via.registry} is already taken by {holder!r}", holder)
    server = await server_class.start(*args, **kwargs)
    try:
        registry = registry_named(via.registry)  # again: it may have restarted meanwhile
        registry.register(via.key, server, via.metadata)
    except AlreadyRegistered as taken:
        await server.stop()
        message = f"{via.key!r} in {via.registry} was taken by {taken.owner!r}"
        raise AlreadyStarted(message, taken.owner) from None
    except BaseException:
        await server.stop()
        raise
    return server
