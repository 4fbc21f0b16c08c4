"""Restart intensity: OTP's sliding window of restart times on a monotonic clock.

More than ``intensity`` restarts within ``period`` seconds and the supervisor gives up:

>>> from supervisor._clock import ManualClock
>>> clock = ManualClock()
>>> window = RestartIntensity(intensity=2, period=5.0, clock=clock)
>>> window.add_restart(), window.add_restart(), window.add_restart()
(True, True, False)
>>> clock.advance(5.1)
>>> RestartIntensity(intensity=0, period=5.0, clock=clock).add_restart()
False
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from supervisor._clock import Clock, MonotonicClock

__all__ = ["RestartIntensity"]


class RestartIntensity:
    """Counts restarts in a sliding window; ``add_restart`` says whether one more is still allowed."""

    __slots__ = ("_clock", "_now", "_times", "intensity", "period")

    def __init__(self, intensity: int, period: float, clock: Clock) -> None:
        self.intensity = intensity
        self.period = period
        self._clock = clock
        # The real clock is read directly rather than through MonotonicClock's method: one Python call
        # fewer per restart (bench core, "crash -> restarted & ready").
        self._now: Callable[[], float] = time.monotonic if type(clock) is MonotonicClock else clock.monotonic
        self._times: deque[float] = deque()

    def add_restart(self) -> bool:
        """Record a restart now; False when that makes more than ``intensity`` within ``period``."""
        now = self._now()
        threshold = now - self.period
        times = self._times
        while times and times[0] < threshold:
            times.popleft()
        times.append(now)
        return len(times) <= self.intensity

    @property
    def left(self) -> int:
        """Restarts still allowed in the window as ``add_restart`` last pruned it (telemetry's
        ``intensity_left``: read right after a restart, it is what the next crashes may spend)."""
        return max(0, self.intensity - len(self._times))

    @property
    def recent(self) -> int:
        """How many restarts are in the current window."""
        threshold = self._now() - self.period
        return sum(1 for t in self._times if t >= threshold)
