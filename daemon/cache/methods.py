"""The caches' control methods: ``cache.get/put/delete/stats/clear/list``.

Keys are strings, values any JSON. ``cache`` names the cache (``default`` when omitted); an unknown
name is ``not_found``. ``cache.put`` with ``"owned": true`` binds the entry to the connection, so
it is dropped when the client disconnects. A miss of ``cache.get`` is ``not_found``, so scripts can
test the exit status of ``arborctl cache get``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from daemon.cache.cache import Cache
from daemon.cache.config import DEFAULT_CACHE
from daemon.cache.errors import UnknownCache
from daemon.cache.spec import CACHE_PREFIX, cache_named
from daemon.cache.stats import CacheStats
from daemon.errors import ControlError
from daemon.verbs.codes import ErrorCode
from daemon.verbs.jsonable import jsonable
from daemon.verbs.method import Method, MethodContext, methods_of, verb
from daemon.verbs.paging import DEFAULT_LIMIT, Limit, Offset, page
from supervisor import registered_names, whereis

__all__ = ["cache_methods"]

Key = Annotated[str, Field(min_length=1, max_length=1024)]
CacheName = Annotated[str, Field(min_length=1, max_length=64)]
_FROZEN = ConfigDict(extra="forbid", frozen=True)
_MISSING: Any = object()


class CacheParams(BaseModel):
    """Which cache."""

    model_config = _FROZEN

    cache: CacheName = DEFAULT_CACHE


class KeyParams(CacheParams):
    """A key in a cache."""

    key: Key


class PutParams(KeyParams):
    """``cache.put``: ``ttl`` in seconds (omitted: the cache's default); ``owned`` binds the entry to
    this connection."""

    value: Any
    ttl: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    owned: bool = False


class ListParams(CacheParams):
    """``cache.list``: a page of at most ``limit`` live keys from ``offset``, least recently written
    first (daemon/verbs/paging.py)."""

    limit: Limit = DEFAULT_LIMIT
    offset: Offset = 0


class StatsParams(BaseModel):
    """``cache.stats``: one cache, or every cache when omitted."""

    model_config = _FROZEN

    cache: CacheName | None = None


def _cache(name: str, context: MethodContext) -> Cache:
    """The running cache ``name``: ``not_found`` if no such cache is configured, ``server_down`` if it
    is configured but not running (restarting after a crash: the fault matrix's F1)."""
    try:
        return cache_named(name)
    except UnknownCache as error:
        if name in getattr(getattr(context.daemon.settings, "cache", None), "caches", ()):
            message = f"cache {name!r} is not running (restarting?): try again"
            raise ControlError(ErrorCode.SERVER_DOWN, message, {"cache": name}) from None
        raise ControlError(ErrorCode.NOT_FOUND, str(error), {"cache": name}) from None


@verb("cache.get", "the live value of a key (not_found on a miss)")
async def cache_get(params: KeyParams, context: MethodContext) -> dict[str, Any]:
    value = _cache(params.cache, context).get(params.key, _MISSING)
    if value is _MISSING:
        raise ControlError(ErrorCode.NOT_FOUND, f"{params.key!r} is not in cache {params.cache!r}")
    return {"key": params.key, "value": jsonable(value)}


@verb("cache.put", "store a JSON value, with a TTL, optionally owned")
async def cache_put(params: PutParams, context: MethodContext) -> dict[str, Any]:
    cache = _cache(params.cache, context)
    owner = context.connection.task if params.owned else None
    cache.put(params.key, params.value, params.ttl, owner=owner)
    return {"key": params.key, "ttl": cache.ttl(params.key)}


@verb("cache.delete", "remove a key")
async def cache_delete(params: KeyParams, context: MethodContext) -> dict[str, bool]:
    return {"deleted": _cache(params.cache, context).delete(params.key)}


@verb("cache.clear", "remove every entry of a cache")
async def cache_clear(params: CacheParams, context: MethodContext) -> dict[str, int]:
    return {"cleared": await _cache(params.cache, context).clear_in_slices()}


@verb("cache.stats", "exact counters of one cache or all")
async def cache_stats(params: StatsParams, context: MethodContext) -> dict[str, Any]:
    if params.cache is not None:
        return {params.cache: (await _swept(_cache(params.cache, context))).as_dict()}
    caches = [whereis(name) for name in registered_names() if name.startswith(CACHE_PREFIX)]
    return {c.label: (await _swept(c)).as_dict() for c in caches if isinstance(c, Cache)}


async def _swept(cache: Cache) -> CacheStats:
    """A cache's exact counters after a sweep in slices (``stats`` alone sweeps in one step)."""
    await cache.sweep_in_slices()
    return cache.stats(sweep=False)


@verb("cache.list", "the live keys of a cache with their TTLs")
async def cache_list(params: ListParams, context: MethodContext) -> dict[str, Any]:
    cache = _cache(params.cache, context)
    keys = await cache.scan()

    def described(key: Any) -> dict[str, Any]:
        ttl = cache.ttl(key)
        return {"key": jsonable(key), "ttl": None if ttl is None or math.isinf(ttl) else ttl}

    listed = page(keys, params.offset, params.limit, described)
    return {"keys": listed.items, "total": len(keys), "next": listed.next}


def cache_methods() -> tuple[Method, ...]:
    """The caches' control methods."""
    return methods_of(globals())
