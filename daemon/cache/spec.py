"""The caches' place in the tree: one supervisor, one ``Cache`` server per configured cache.

::

    arbord.cache              (one_for_one)
    ├── default   Cache       arbord.cache.default
    └── <name>    Cache       arbord.cache.<name>

A cache that crashes restarts empty (a cache may always lose its contents); the others carry on.

>>> spec = cache_child_spec(CacheSettings())
>>> spec.id, spec.name, [child.name for child in spec.args[0]]
('cache', 'arbord.cache', ['arbord.cache.default'])
"""

from __future__ import annotations

from typing import Final

from daemon.cache.cache import Cache
from daemon.cache.config import CacheSettings
from daemon.cache.errors import UnknownCache
from supervisor import ChildSpec, Supervisor, whereis

__all__ = ["CACHE_PREFIX", "CACHE_SUPERVISOR_NAME", "cache_child_spec", "cache_named", "cache_server_name"]

CACHE_SUPERVISOR_NAME: Final = "arbord.cache"
CACHE_PREFIX: Final = "arbord.cache."


def cache_server_name(cache: str) -> str:
    """The registered name of the cache called ``cache``: ``arbord.cache.<cache>``."""
    return CACHE_PREFIX + cache


def cache_child_spec(settings: CacheSettings) -> ChildSpec:
    """The child spec of the cache supervisor for the daemon's root (child id ``cache``)."""
    children = [
        ChildSpec(name, Cache, args=(config,), kwargs={"label": name}, name=cache_server_name(name))
        for name, config in sorted(settings.caches.items())
    ]
    return Supervisor.child_spec(
        children, id="cache", name=CACHE_SUPERVISOR_NAME, intensity=settings.intensity, period=settings.period
    )


def cache_named(cache: str) -> Cache:
    """The running cache called ``cache``; ``UnknownCache`` if there is none (or it is restarting)."""
    server = whereis(cache_server_name(cache))
    if not isinstance(server, Cache) or not server._ready:
        raise UnknownCache(f"no cache named {cache!r} is running")
    return server
