"""Named TTL caches: LRU-bounded, swept by a janitor, single-flight fetch, owner-bound entries.

``cache_child_spec`` puts the cache supervisor (``arbord.cache``) with one ``Cache`` per configured
cache in the daemon's tree; ``cache_methods`` are the control verbs; ``cache_named`` finds a
running cache; ``UnknownCache`` (daemon/cache/errors.py) carries its error code; ``CACHE``
(daemon/cache/component.py) is the component. docs/cache.md is the guide.
"""

from __future__ import annotations

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
