"""The TTL caches' settings: the ``[cache]`` section of the daemon's configuration.

Each named cache has a default TTL, a maximum size (LRU eviction past it) and a janitor interval.
A cache named ``default`` always exists: it is added with the defaults when the configuration
names other caches only.

>>> settings = CacheSettings(caches={"sessions": CacheConfig(ttl=30.0, max_size=500)})
>>> sorted(settings.caches)
['default', 'sessions']
>>> settings.caches["sessions"].janitor_interval
60.0
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DEFAULT_CACHE", "MIN_JANITOR_INTERVAL", "CacheConfig", "CacheSettings"]

DEFAULT_CACHE: Final = "default"
"""The cache every daemon has, used when a control request names no cache."""

MIN_JANITOR_INTERVAL: Final = 0.01
"""The shortest pause between two sweeps: a shorter one would keep the cache's server sweeping."""

_CACHE_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class CacheConfig(BaseModel):
    """One cache. Times are seconds on the monotonic clock.

    ``ttl``: the default time to live of an entry (``None``: entries never expire unless given a
    TTL). ``max_size``: past it the least recently used entry is evicted (``None``: unbounded).
    ``janitor_interval``: the pause between two sweeps of expired entries, counted from the end of
    the previous sweep, at least ``MIN_JANITOR_INTERVAL`` (``None``: no janitor; expired entries still
    never reach a reader). Non-finite numbers (``inf``, ``nan``) are refused: say ``None``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttl: float | None = Field(default=300.0, gt=0, allow_inf_nan=False)
    max_size: int | None = Field(default=10_000, ge=1)
    janitor_interval: float | None = Field(default=60.0, ge=MIN_JANITOR_INTERVAL, allow_inf_nan=False)


def _default_caches() -> dict[str, CacheConfig]:
    return {DEFAULT_CACHE: CacheConfig()}


class CacheSettings(BaseModel):
    """The named caches the cache supervisor (``arbord.cache``, one_for_one) runs as
    ``arbord.cache.<name>``; ``intensity``/``period`` are that supervisor's restart limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    caches: Mapping[str, CacheConfig] = Field(default_factory=_default_caches)
    intensity: int = Field(default=3, ge=0)
    period: float = Field(default=5.0, gt=0, allow_inf_nan=False)

    @field_validator("caches")
    @classmethod
    def _names_and_default(cls, value: Mapping[str, CacheConfig]) -> Mapping[str, CacheConfig]:
        for name in value:
            if not _CACHE_NAME.match(name):
                raise ValueError(
                    f"a cache name is 1-64 of [a-z0-9_-], starting with a letter or digit, not {name!r}"
                )
        caches = dict(value)
        caches.setdefault(DEFAULT_CACHE, CacheConfig())
        return caches
