"""The soak's leak test: a least-squares slope after warm-up, judged against the noise around it.

A series leaks when, after the warm-up, it rises **significantly** (the slope is more than three
standard errors above zero: not noise) **and materially** (the rise the slope makes over the
judged window exceeds the series' floor: an absolute amount, or a share of its mean, whichever is
larger). A flat series, a noisy flat one, or one that only grows during the warm-up passes:

>>> times = [float(t) for t in range(100)]
>>> flat = [100.0 + (t % 7) - 3 for t in range(100)]
>>> judge_slope("rss", times, flat, Floor(absolute=4.0, relative=0.05), warmup=0.2).leak
False
>>> leaking = [100.0 + 0.5 * t + (t % 7) - 3 for t in range(100)]
>>> result = judge_slope("rss", times, leaking, Floor(absolute=4.0, relative=0.05), warmup=0.2)
>>> result.leak, round(result.slope, 2), round(result.rise)
(True, 0.5, 39)
>>> warming = [min(t, 10) * 10.0 for t in range(100)]
>>> judge_slope("fds", times, warming, Floor(absolute=4.0), warmup=0.2).leak
False
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["FLOORS", "Floor", "SlopeVerdict", "judge_slope", "least_squares"]

SIGNIFICANCE: Final = 3.0


@dataclass(frozen=True, slots=True)
class Floor:
    """The least rise over the judged window that counts as a leak (noise band's material part)."""

    absolute: float = 0.0
    relative: float = 0.0

    def of(self, mean: float) -> float:
        return max(self.absolute, self.relative * abs(mean))


FLOORS: Final = {
    "rss_mb": Floor(absolute=4.0, relative=0.05),
    "fds": Floor(absolute=4.0),
    "tasks": Floor(absolute=8.0, relative=0.05),
    "control_p99_ms": Floor(absolute=5.0, relative=0.5),
}
"""The series a soak judges, and their floors."""


@dataclass(frozen=True, slots=True)
class SlopeVerdict:
    """A series' slope (units per second), its standard error, the rise over the window, the floor."""

    series: str
    slope: float
    stderr: float
    rise: float
    floor: float
    points: int

    @property
    def leak(self) -> bool:
        return self.points >= 3 and self.slope > SIGNIFICANCE * self.stderr and self.rise > self.floor


def least_squares(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """``(slope, intercept, standard error of the slope)`` of the line through the points."""
    n = len(xs)
    if n < 2:
        return 0.0, (ys[0] if ys else 0.0), math.inf
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0, my, math.inf
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    stderr = math.sqrt(residual / (n - 2) / sxx) if n > 2 else math.inf
    return slope, intercept, stderr


def judge_slope(
    series: str, times: Sequence[float], values: Sequence[float], floor: Floor, *, warmup: float
) -> SlopeVerdict:
    """The verdict on ``values`` after the first ``warmup`` share of the time span."""
    if not times:
        return SlopeVerdict(series, 0.0, math.inf, 0.0, 0.0, 0)
    start = times[0] + warmup * (times[-1] - times[0])
    kept = [(t, v) for t, v in zip(times, values, strict=True) if t >= start]
    xs, ys = [t for t, _ in kept], [v for _, v in kept]
    slope, _, stderr = least_squares(xs, ys)
    span = (xs[-1] - xs[0]) if xs else 0.0
    mean = sum(ys) / len(ys) if ys else 0.0
    return SlopeVerdict(series, slope, stderr, slope * span, floor.of(mean), len(xs))
