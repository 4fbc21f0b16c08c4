"""Named TTL caches: LRU-bounded, swept by a janitor, single-flight fetch, owner-bound entries.

``cache_child_spec`` puts the cache supervisor (``arbord.cache``) with one ``Cache`` per configured
cache in the daemon's tree; ``cache_methods`` are the control verbs; ``cache_named`` finds a
running cache; ``UnknownCache`` (daemon/cache/errors.py) carries its error code; ``CACHE``
(daemon/cache/component.py) is the component. docs/cache.md is the guide.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from daemon.cache.cache import EVICT, EXPIRE, HIT, MISS, SWEEP, Cache
    from daemon.cache.config import DEFAULT_CACHE, CacheConfig, CacheSettings
    from daemon.cache.fallback import Commit, Decline
    from daemon.cache.methods import cache_methods
    from daemon.cache.spec import CACHE_SUPERVISOR_NAME, cache_child_spec, cache_named, cache_server_name
    from daemon.cache.stats import CacheStats


__all__ = [
    "CACHE_SUPERVISOR_NAME",
    "DEFAULT_CACHE",
    "EVICT",
    "EXPIRE",
    "HIT",
    "MISS",
    "SWEEP",
    "Cache",
    "CacheConfig",
    "CacheSettings",
    "CacheStats",
    "Commit",
    "Decline",
    "cache_child_spec",
    "cache_methods",
    "cache_named",
    "cache_server_name",
]

# The names above are imported from their modules when first used (PEP 562), so that importing one
# module of the package (the daemon's start imports the few it runs) does not import them all.
_EXPORTS: Final = MappingProxyType(
    {
        "CACHE_SUPERVISOR_NAME": "daemon.cache.spec",
        "Cache": "daemon.cache.cache",
        "CacheConfig": "daemon.cache.config",
        "CacheSettings": "daemon.cache.config",
        "CacheStats": "daemon.cache.stats",
        "Commit": "daemon.cache.fallback",
        "DEFAULT_CACHE": "daemon.cache.config",
        "Decline": "daemon.cache.fallback",
        "EVICT": "daemon.cache.cache",
        "EXPIRE": "daemon.cache.cache",
        "HIT": "daemon.cache.cache",
        "MISS": "daemon.cache.cache",
        "SWEEP": "daemon.cache.cache",
        "cache_child_spec": "daemon.cache.spec",
        "cache_methods": "daemon.cache.methods",
        "cache_named": "daemon.cache.spec",
        "cache_server_name": "daemon.cache.spec",
    }
)


def __getattr__(name: str) -> Any:
    """A re-exported name, imported from its module when first asked for."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
