"""Call deadlines: one coarse timer per server for all its pending calls, not one timer handle per call.

A call's timeout almost never fires, yet arming and cancelling a loop timer for every call cost a quarter
of a call's round trip. A ``Deadlines`` keeper instead files each pending call's future in a *bucket*: the
deadline rounded **up** to a grid whose step, the *grain*, grows with the timeout. One loop timer stands
at the earliest bucket; when it fires, every call of every due bucket gets ``CallTimeout``. Filing a call
is a clock read and two dictionary stores; a call that gets its reply removes itself from its bucket (one
``dict.pop``), so a completed call's future and result are never kept until its bucket comes due.

The grain is the largest power of two of milliseconds not above ``max(1 ms, timeout / 64)``: a 5 s call
may expire up to 64 ms late (1.3 %), a 20 ms call up to 1 ms late. Never early: a bucket fires only once
the loop's clock has passed its grid point, which lies after every deadline filed in it. The grids of all
grains are nested (each a power of two of the millisecond), so calls filed at the same moment share
buckets and expire in the order of their deadlines; so do any two calls whose deadlines lie more than a
grain apart.

>>> [grain_ms(t) for t in (0.0, 0.02, 0.1, 1.0, 5.0, 60.0)]
[1, 1, 1, 8, 64, 512]

The timer is not cancelled the moment the last pending call completes, which would cost a cancel and a
re-arm per call for a caller that calls one at a time, the common case: it fires once at its bucket,
finds nothing due and is not armed again. ``close`` cancels it at once. (Closing on the server's exit
would add an exit callback every caller-side audit counts; the loop drops the timer when it closes.)

>>> import asyncio
>>> async def demo() -> tuple[str, bool]:
...     loop = asyncio.get_running_loop()
...     keeper = Deadlines(loop)
...     future = loop.create_future()
...     keeper.add(future, 0.01)
...     try:
...         await future
...     except CallTimeout as timed_out:
...         message = str(timed_out)
...     return message, keeper.armed
>>> asyncio.run(demo())
('no reply within 0.01 s', False)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from heapq import heappop, heappush
from math import nextafter
from typing import Any, Final

from supervisor.errors import CallTimeout

__all__ = ["GRAIN_DIVISOR", "Deadlines", "grain_ms"]

# A call may expire late by at most 1/GRAIN_DIVISOR of its timeout (and never by less than 1 ms'
# granularity): loose enough that a burst of calls shares a handful of buckets, tight enough that
# nobody could tell a 5 s timeout that fired at 5.06 s from one that fired at 5 s.
GRAIN_DIVISOR: Final = 64

# The calls of one timeout due by one grid point: future -> its deadline (loop time, seconds).
Bucket = dict["asyncio.Future[Any]", float]


def grain_ms(timeout: float) -> int:
    """The bucket step for ``timeout`` s: the largest power of two of ms up to ``max(1 ms, timeout / 64)``.

    A power of two so that every grain's grid is a subset of every finer one: buckets of different grains
    coincide, and rounding to the grid is exact in floating point (division by a power of two).
    """
    return 1 << max(0, int(timeout * 1000.0 / GRAIN_DIVISOR).bit_length() - 1)


class Deadlines:
    """The pending calls' deadlines of one server, behind one loop timer.

    ``add`` files a future and returns its bucket; the caller pops the future from that bucket when the
    call ends (``bucket.pop(future, None)``), whichever way it ends. Futures still filed when their
    bucket comes due get ``CallTimeout("no reply within {timeout} s")``, in the order of their deadlines.
    """

    __slots__ = (
        "_buckets",
        "_grain",
        "_grain_of",
        "_handle",
        "_keys",
        "_last",
        "_last_before",
        "_last_timeout",
        "_loop",
        "_time",
        "_when",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        # asyncio's own loops read time.monotonic through a Python method; calling it directly saves a
        # third of filing a call. Any other loop (uvloop, a test loop) is asked for its own time.
        self._time: Callable[[], float] = (
            time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else loop.time
        )
        # Grid point in integer ms -> timeout -> the bucket of that timeout's calls due by then.
        self._buckets: dict[int, dict[float, Bucket]] = {}
        self._keys: list[int] = []  # heap of the grid points in _buckets
        self._handle: asyncio.Handle | None = None
        self._when = 0  # the grid point the timer stands at, while _handle is set
        # The bucket the last call was filed in: the next call with the same timeout, filed before that
        # bucket's grid point, belongs there too (the clock only moves forward). Reset whenever a bucket
        # leaves _buckets, so a call is never filed in a bucket that can no longer fire.
        self._last: Bucket = {}
        self._last_before = 0.0  # a deadline before this (in s) rounds up to the last bucket's grid point
        self._last_timeout = -1.0
        self._grain_of = -1.0  # the timeout whose grain _grain is
        self._grain = 1

    @property
    def armed(self) -> bool:
        """True while the keeper's loop timer is scheduled."""
        return self._handle is not None

    @property
    def next_expiry(self) -> float | None:
        """The loop time the timer stands at, or None when it is not armed."""
        return None if self._handle is None else self._when / 1000.0

    @property
    def pending(self) -> int:
        """How many filed calls are still waiting (completed calls have removed themselves)."""
        return sum(len(bucket) for group in self._buckets.values() for bucket in group.values())

    def add(self, future: asyncio.Future[Any], timeout: float) -> Bucket:
        """File ``future`` to fail with ``CallTimeout`` unless it is popped from the returned bucket first."""
        deadline = self._time() + timeout
        if deadline < self._last_before and timeout == self._last_timeout:
            bucket = self._last
        else:
            bucket = self._file(deadline, timeout)
        bucket[future] = deadline
        return bucket

    def _file(self, deadline: float, timeout: float) -> Bucket:
        if timeout != self._grain_of:
            self._grain = grain_ms(timeout)
            self._grain_of = timeout
        grain = self._grain
        # The next grid point strictly after the deadline: exact, as grain is a power of two.
        key = (int((deadline * 1000.0) // grain) + 1) * grain
        group = self._buckets.get(key)
        if group is None:
            group = self._buckets[key] = {}
            heappush(self._keys, key)
            if self._handle is None or key < self._when:
                self._arm(key)
        bucket = group.get(timeout)
        if bucket is None:
            bucket = group[timeout] = {}
        # The last float whose ms value still rounds below key: comparing in seconds then needs no
        # multiplication, and x < before implies x * 1000.0 < key exactly (rounding is monotonic).
        before = key / 1000.0
        while before * 1000.0 >= key:
            before = nextafter(before, 0.0)
        self._last, self._last_before, self._last_timeout = bucket, before, timeout
        return bucket

    def close(self) -> None:
        """Cancel the timer and forget every filed call (they stay pending, for their owner to fail)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._buckets.clear()
        self._keys.clear()
        self._last_before = 0.0

    def _arm(self, key: int) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._when = key
        self._handle = self._loop.call_at(key / 1000.0, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._last_before = 0.0
        now_ms = self._time() * 1000.0
        keys, buckets = self._keys, self._buckets
        due: list[tuple[float, float, asyncio.Future[Any]]] = []
        # A timer may fire a little before its time (asyncio's clock resolution, uvloop's rounding to
        # whole ms): only buckets whose grid point the clock has passed are due, so no call expires early.
        while keys and keys[0] <= now_ms:
            for timeout, bucket in buckets.pop(heappop(keys)).items():
                due.extend((deadline, timeout, future) for future, deadline in bucket.items())
                bucket.clear()  # the callers' own pop now finds nothing
        while keys and not any(buckets[keys[0]].values()):  # buckets whose calls all completed
            del buckets[heappop(keys)]
        if keys:
            self._arm(keys[0])
        due.sort(key=_deadline_of)
        for _, timeout, future in due:
            if not future.done():
                future.set_exception(CallTimeout(f"no reply within {timeout} s"))


def _deadline_of(entry: tuple[float, float, asyncio.Future[Any]]) -> float:
    return entry[0]
