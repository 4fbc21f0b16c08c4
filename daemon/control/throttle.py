"""At most one warning per interval about the same kind of event, with a count of those held back.

A flood of refused peers (a script retrying as the wrong user, or someone probing) would otherwise
write one log line per attempt. ``Throttle`` lets the first through, then one per ``interval``
seconds, saying how many it held back in between:

>>> throttle = Throttle(10.0)
>>> throttle.admit(0.0), throttle.admit(1.0), throttle.admit(2.0), throttle.admit(10.5)
((True, 0), (False, 0), (False, 0), (True, 2))
"""

from __future__ import annotations

__all__ = ["Throttle"]


class Throttle:
    """Decides which of a stream of events is logged; time is passed in (the loop's clock)."""

    __slots__ = ("_held", "_interval", "_next")

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._next: float | None = None
        self._held = 0

    def admit(self, now: float) -> tuple[bool, int]:
        """(log this one?, how many were held back since the last one logged)."""
        if self._next is not None and now < self._next:
            self._held += 1
            return False, 0
        held, self._held = self._held, 0
        self._next = now + self._interval
        return True, held
