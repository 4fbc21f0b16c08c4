"""Clocks: the monotonic time source behind restart intensity and timeouts, injectable for tests.

>>> clock = ManualClock()
>>> clock.monotonic()
0.0
>>> clock.advance(2.5)
>>> clock.monotonic()
2.5
"""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "MonotonicClock"]


class Clock(Protocol):
    """Anything with a ``monotonic()`` method returning seconds."""

    def monotonic(self) -> float: ...


class MonotonicClock:
    """The real clock: ``time.monotonic``."""

    __slots__ = ()

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to, so tests need no sleeps."""

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def monotonic(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (never backward: the clock is monotonic)."""
        if seconds < 0:
            raise ValueError(f"a monotonic clock cannot go back (advance by {seconds})")
        self._now += seconds
