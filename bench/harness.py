"""The benchmark harness: medians of repeated runs, ratios against a baseline from the same run.

Absolute times on a shared 2-core machine are noise; a ratio measured back to back is not. Each benchmark
module exposes ``run(loop_name) -> list[Row]``; ``python -m bench`` runs them on both loops and prints one
table. Targets are checked here and reported, never asserted in tests.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Row", "median_time", "paired", "per_op"]


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: ``ratio`` is arbord over baseline, compared with ``target``.

    ``higher_is_better`` flips the comparison for throughput figures. A ``target`` of None marks a
    row shown for information (a stricter or wider comparison than the one the target is set on).
    """

    suite: str
    name: str
    loop: str
    arbord: float
    baseline: float
    unit: str
    target: float | None
    higher_is_better: bool = False

    @property
    def ratio(self) -> float:
        return self.arbord / self.baseline if self.baseline else float("inf")

    @property
    def ok(self) -> bool:
        if self.target is None:
            return True
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target


def median_time(fn: Callable[[], object], *, repeat: int = 7) -> float:
    """The median wall time of ``fn()`` over ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def per_op(total_seconds: float, ops: int) -> float:
    """Seconds per operation, in microseconds."""
    return total_seconds / ops * 1e6


def paired(
    arbord: Callable[[], object], baseline: Callable[[], object], *, rounds: int
) -> tuple[float, float]:
    """Median seconds of each over ``rounds``, measured in alternating rounds so drift hits both."""
    a, b = [], []
    for _ in range(rounds):
        b.append(median_time(baseline, repeat=1))
        a.append(median_time(arbord, repeat=1))
    return statistics.median(a), statistics.median(b)
