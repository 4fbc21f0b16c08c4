"""Which bucket an actor falls in for a percentage-of-actors rollout: Unleash's normalized value.

Arbord invents no hash: the bucket is murmur3 (32-bit, seed 0) of ``"{group_id}:{actor}"``, modulo
100, plus 1 — a number in 1..100 — and the actor is in the rollout iff the bucket ≤ the percentage.
The group id defaults to the flag's name. So an actor lands in the same bucket in arbord as in any
Unleash SDK for the same rollout (tests/daemon/test_flags_bucket.py checks the cases of Unleash's
published client specification), 0 % includes nobody, 100 % everybody, the same actor scores
differently under different group ids, and raising the percentage never drops an actor.

>>> normalized("AB12A", "122"), normalized("AB12A", "155")
(23, 100)
>>> in_rollout("AB12A", "122", 50.0), in_rollout("AB12A", "155", 50.0)
(True, False)
"""

from __future__ import annotations

from typing import Final

import mmh3

__all__ = ["BUCKETS", "in_rollout", "normalized"]

BUCKETS: Final = 100
_hash: Final = mmh3.hash


def normalized(group_id: str, actor: str) -> int:
    """The actor's bucket in 1..100 under ``group_id`` (Unleash's ``normalizedValue``, seed 0, of
    the UTF-8 bytes). The key is encoded here, ``surrogatepass``, and the bytes hashed: for every
    valid string they are the bytes mmh3 would hash, and a lone surrogate (which UTF-8 cannot carry)
    gets a bucket instead of reaching mmh3's own encoder, which crashes the process on one (mmh3
    5.x: tests/daemon/test_flags_bucket.py)."""
    return _hash(f"{group_id}:{actor}".encode("utf-8", "surrogatepass"), 0, False) % BUCKETS + 1


def in_rollout(group_id: str, actor: str, percentage: float) -> bool:
    """True iff the actor's bucket is ≤ ``percentage`` (in [0, 100])."""
    return normalized(group_id, actor) <= percentage
