"""What a ``fetch`` fallback may return, and the single flight that shares its result.

A fallback is ``async def fallback(key) -> value``. Returning a plain value caches it (with the
``ttl`` given to ``fetch``); ``Commit(value, ttl=...)`` caches it with its own TTL; ``Decline(value)``
returns it to every caller without caching it (Cachex's ``{:commit, v}`` and ``{:ignore, v}``).

>>> unwrap(Commit(3, ttl=5.0), default_ttl=None)
(3, True, 5.0)
>>> unwrap(Decline("busy"), default_ttl=None)
('busy', False, None)
>>> unwrap({"a": 1}, default_ttl=60.0)
({'a': 1}, True, 60.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Abandoned", "Commit", "Decline", "unwrap"]


@dataclass(frozen=True, slots=True)
class Commit:
    """Cache ``value`` (with ``ttl`` seconds, or the TTL given to ``fetch`` when None)."""

    value: Any
    ttl: float | None = None


@dataclass(frozen=True, slots=True)
class Decline:
    """Give ``value`` to every waiting caller, but do not cache it."""

    value: Any


class Abandoned(Exception):
    """Internal: the fetch leading a flight was cancelled; its followers try again (one leads)."""


def unwrap(result: object, default_ttl: float | None) -> tuple[Any, bool, float | None]:
    """``(value, cache_it, ttl)`` for what a fallback returned."""
    if isinstance(result, Decline):
        return result.value, False, None
    if isinstance(result, Commit):
        return result.value, True, default_ttl if result.ttl is None else result.ttl
    return result, True, default_ttl
