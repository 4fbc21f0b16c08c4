"""A latency histogram that processes can merge: log-spaced buckets, 5 % wide, from 1 µs.

Each load process and the daemon's load server record their own; the harness adds them up and
reads percentiles from the sum. A percentile is the upper bound of the bucket it falls in, so it
is never under-reported and is at most 5 % over.

>>> h = Histogram()
>>> for ms in range(1, 101):
...     h.add(ms / 1000)
>>> round(h.percentile(0.50) * 1000, 1), round(h.percentile(0.99) * 1000, 1)
(50.6, 100.0)
>>> merged = Histogram.from_json(h.to_json())
>>> merged.merge(h)
>>> merged.count, round(merged.percentile(1.0) * 1000, 1)
(200, 100.0)
>>> later = Histogram.from_json(h.to_json())
>>> later.add(2.0)
>>> later.minus(h).count, later.minus(h).percentile(0.5)
(1, 2.0)
>>> Histogram().percentile(0.99)
0.0
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["Histogram"]

_FLOOR: Final = 1e-6
_RATIO: Final = 1.05
_LOG_RATIO: Final = math.log(_RATIO)


class Histogram:
    """Counts of durations (seconds) per bucket; ``bucket k`` holds ``(FLOOR·1.05^(k-1), FLOOR·1.05^k]``."""

    __slots__ = ("buckets", "count", "maximum")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.maximum = 0.0

    def add(self, seconds: float) -> None:
        """Record one duration."""
        k = 0 if seconds <= _FLOOR else math.ceil(math.log(seconds / _FLOOR) / _LOG_RATIO)
        self.buckets[k] = self.buckets.get(k, 0) + 1
        self.count += 1
        if seconds > self.maximum:
            self.maximum = seconds

    def merge(self, other: Histogram) -> None:
        """Add ``other``'s counts to these."""
        for k, n in other.buckets.items():
            self.buckets[k] = self.buckets.get(k, 0) + n
        self.count += other.count
        self.maximum = max(self.maximum, other.maximum)

    def minus(self, earlier: Histogram) -> Histogram:
        """What was added since ``earlier`` (an older copy of this histogram); its maximum is this one's."""
        diff = Histogram()
        for k, n in self.buckets.items():
            if left := n - earlier.buckets.get(k, 0):
                diff.buckets[k] = left
        diff.count = sum(diff.buckets.values())
        diff.maximum = self.maximum if diff.count else 0.0
        return diff

    def percentile(self, q: float) -> float:
        """The upper bound of the bucket holding the ``q``-quantile (0 with no sample)."""
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for k in sorted(self.buckets):
            seen += self.buckets[k]
            if seen >= rank:
                return min(_FLOOR * _RATIO**k, self.maximum)
        return self.maximum

    def to_json(self) -> dict[str, object]:
        """A JSON-able form (``from_json`` reads it back)."""
        return {"buckets": {str(k): n for k, n in self.buckets.items()}, "max": self.maximum}

    @classmethod
    def from_json(cls, data: object) -> Histogram:
        """The histogram ``to_json`` wrote."""
        h = cls()
        if isinstance(data, dict):
            buckets = data.get("buckets", {})
            if isinstance(buckets, dict):
                h.buckets = {int(k): int(n) for k, n in buckets.items()}
            h.count = sum(h.buckets.values())
            h.maximum = float(data.get("max", 0.0))
        return h
