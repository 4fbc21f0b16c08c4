"""Cache statistics: exact counters, and the identity they keep at all times.

Every value ever stored is counted once by ``sets`` and, once it is gone, exactly once by one of
``expirations``, ``evictions`` or ``deletions``; until then it is in ``size``. Hence, always::

    sets == size + expirations + evictions + deletions

An overwrite (a ``put`` on a key whose value is live) is a set of the new value and a deletion of
the old one; ``overwrites`` counts those deletions again, on their own (it is a part of
``deletions``, not a fifth term). A value that had expired when it was overwritten, deleted or
evicted counts as an expiration: it was already dead.

>>> stats = CacheStats(hits=3, misses=1, sets=5, evictions=1, expirations=1, deletions=1,
...                    overwrites=1, size=2)
>>> stats.hit_rate, stats.balanced
(0.75, True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CacheStats", "Counters"]


class Counters:
    """The live counters of one cache, bumped in place by its operations (in the caller's task)."""

    __slots__ = ("deletions", "evictions", "expirations", "hits", "misses", "overwrites", "sets")

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self.sets = 0
        self.evictions = 0
        self.expirations = 0
        self.deletions = 0
        self.overwrites = 0

    def snapshot(self, size: int) -> CacheStats:
        """A frozen copy, with ``size`` entries stored now."""
        return CacheStats(
            hits=self.hits,
            misses=self.misses,
            sets=self.sets,
            evictions=self.evictions,
            expirations=self.expirations,
            deletions=self.deletions,
            overwrites=self.overwrites,
            size=size,
        )


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A cache's counters at one moment (``Cache.stats()``); see the module docstring."""

    hits: int
    misses: int
    sets: int
    evictions: int
    expirations: int
    deletions: int
    overwrites: int
    size: int

    @property
    def hit_rate(self) -> float:
        """Hits over reads (hits + misses); 0.0 before the first read."""
        reads = self.hits + self.misses
        return self.hits / reads if reads else 0.0

    @property
    def balanced(self) -> bool:
        """True when ``sets == size + expirations + evictions + deletions`` (it always should be)."""
        return self.sets == self.size + self.expirations + self.evictions + self.deletions

    def as_dict(self) -> dict[str, Any]:
        """The counters and the hit rate, as JSON-ready values."""
        return {**asdict(self), "hit_rate": self.hit_rate}
