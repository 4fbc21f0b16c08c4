"""Call deadlines: one coarse timer per server for all its pending calls, and nothing per call but a number.

A call's timeout almost never fires, yet arming and cancelling a loop timer for every call cost a quarter
of a call's round trip, and filing every call in a dictionary and removing it again a tenth. A call now
writes its deadline into its own ``Caller`` (``_deadline``, ``_timeout``) and touches nothing else: the
server already knows every call that still waits for a reply (its mailbox, the call in progress, the
deferred ones: ``Waiting``). One loop timer per server, kept by a ``Deadlines`` keeper,
stands at a *grid point* after the earliest deadline; when it fires, the keeper walks the waiting
callers, fails those whose deadline has passed with ``CallTimeout`` (in the order of their deadlines)
and stands again at the next one. A call that gets its reply leaves nothing behind, and costs no timer.

The grid's step, the *grain*, grows with the timeout: the largest power of two of milliseconds not above
``max(1 ms, timeout / 64)``. A 5 s call may expire up to 64 ms late (1.3 %), a 20 ms call up to 1 ms
late, plus however late the loop runs its timers. Never early: a caller is failed only once the clock
has passed its own deadline.

>>> [grain_ms(t) for t in (0.0, 0.02, 0.1, 1.0, 5.0, 60.0)]
[1, 1, 1, 8, 64, 512]

A server's calls with one timeout have deadlines in the order they were made, so once the timer stands
at or before a call's deadline plus its grain, the next call with the same timeout needs nothing from
the keeper: ``horizon`` and ``horizon_timeout`` tell ``Server.call`` so with two reads and two
comparisons, and only a call outside them goes through ``watch``. While calls keep coming the timer fires
about once per timeout (at the earliest pending deadline), walks the few calls then in flight and stands
at the next; once none is waiting it is not armed again. A walk looks at the calls due and about one more
per timeout in use (``Deadlines._fire``), not at the whole mailbox of an overloaded server.

>>> import asyncio
>>> from supervisor import NOREPLY, Server
>>> class Silent(Server):
...     async def handle_call(self, request, caller):
...         return NOREPLY
>>> async def demo() -> tuple[str, bool]:
...     server = await Silent.start()
...     try:
...         await server.call("hello?", timeout=0.01)
...     except CallTimeout as timed_out:
...         message = str(timed_out)
...     armed = server._deadlines is not None and server._deadlines.armed
...     await server.stop()
...     return message, armed
>>> asyncio.run(demo())
('no reply within 0.01 s', False)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from math import inf
from typing import Any, Final, Protocol

from supervisor.errors import CallTimeout

__all__ = ["GRAIN_DIVISOR", "Deadlines", "Timed", "Waiting", "grain_ms", "grid_point"]

# A call may expire late by at most 1/GRAIN_DIVISOR of its timeout (and never by less than 1 ms'
# granularity): loose enough that a stream of calls needs the keeper about once per timeout, tight
# enough that nobody could tell a 5 s timeout that fired at 5.06 s from one that fired at 5 s.
GRAIN_DIVISOR: Final = 64


class Waiting(Protocol):
    """Where the keeper finds the calls still waiting for a reply (``supervisor.Server``).

    Mailbox positions count every entry ever queued: the first entry is 0, and an entry keeps its
    position while those before it are taken out.
    """

    def _mail_sent(self) -> int:
        """The position the next entry queued will have."""
        ...

    def _queued_from(self, position: int) -> tuple[int, Iterator[Timed | None]]:
        """The queued entries from about ``position`` on (never later), with the position of the first:
        a call's ``Caller``, None for anything else."""
        ...

    def _taken_callers(self) -> Iterable[Timed]:
        """The calls taken from the mailbox and not yet answered: in progress or deferred."""
        ...


class Timed(Protocol):
    """What the keeper reads of a waiting call (``supervisor.Caller``)."""

    @property
    def _future(self) -> asyncio.Future[Any]: ...

    @property
    def _timeout(self) -> float: ...


def grain_ms(timeout: float) -> int:
    """The grid step for ``timeout`` s: the largest power of two of ms up to ``max(1 ms, timeout / 64)``.

    A power of two so that every grain's grid is a subset of every finer one, and rounding to the grid is
    exact in floating point (division by a power of two).
    """
    return 1 << max(0, int(timeout * 1000.0 / GRAIN_DIVISOR).bit_length() - 1)


def grid_point(deadline: float, timeout: float) -> int:
    """The first grid point (integer ms) strictly after ``deadline`` on the grid of ``timeout``'s grain."""
    grain = grain_ms(timeout)
    return (int((deadline * 1000.0) // grain) + 1) * grain


class Deadlines:
    """The loop timer of one server's call deadlines; the server's ``call`` reads ``clock``,
    ``horizon`` and ``horizon_timeout`` directly.

    A call with a deadline at or after ``horizon`` and the timeout ``horizon_timeout`` is covered: the
    timer stands no later than its deadline plus its grain. Any other call goes through ``watch``.
    """

    __slots__ = (
        "_handle",
        "_last_position",
        "_loop",
        "_settled",
        "_timeouts",
        "_when",
        "clock",
        "horizon",
        "horizon_timeout",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        # asyncio's own loops read time.monotonic through a Python method; calling it directly saves a
        # third of a deadline's cost. Any other loop (uvloop, a test loop) is asked for its own time
        # (uvloop's time() is a C method, as cheap as time.monotonic).
        self.clock: Callable[[], float] = (
            time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else loop.time
        )
        self._handle: asyncio.TimerHandle | None = None
        self._when = 0  # the grid point (ms) the timer stands at, while _handle is set
        self._timeouts: set[float] = set()  # every timeout a waiting call may have
        # Timeout -> a mailbox position before which all its queued calls lie: known for every timeout
        # but horizon_timeout, whose calls come without a word to the keeper.
        self._last_position: dict[float, int] = {}
        self._settled = 0  # mailbox position before which no queued call can still time out
        self.horizon = inf
        self.horizon_timeout = -1.0  # no timeout equals it: every call goes through watch

    @property
    def armed(self) -> bool:
        """True while the keeper's loop timer is scheduled."""
        return self._handle is not None

    @property
    def next_expiry(self) -> float | None:
        """The loop time the timer stands at, or None when it is not armed."""
        return None if self._handle is None else self._when / 1000.0

    def watch(self, deadline: float, timeout: float, server: Waiting) -> None:
        """Make sure the timer fires within ``deadline`` plus ``timeout``'s grain, to look through
        ``server``'s waiting calls; called before the call is queued."""
        self._timeouts.add(timeout)
        point = grid_point(deadline, timeout)
        if self._handle is None or point < self._when:
            self._arm(point, server)
        if timeout != self.horizon_timeout:
            self._drop_horizon(server)
            self._last_position.pop(timeout, None)  # its calls may come without a word again
            self.horizon_timeout = timeout
        # Later calls with this timeout have later deadlines: the timer stays within their grain while
        # it stands no later than the deadline plus the grain, i.e. for deadlines from _when - grain on.
        self.horizon = (self._when - grain_ms(timeout)) / 1000.0

    def close(self) -> None:
        """Cancel the timer (the server has exited: its waiting calls were failed with it)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.horizon_timeout = -1.0
        self._timeouts.clear()
        self._last_position.clear()

    def _drop_horizon(self, server: Waiting) -> None:
        """From now on every call goes through ``watch``: the calls of the horizon's timeout so far all
        lie before the mailbox's end."""
        if self.horizon_timeout >= 0.0:
            self._last_position[self.horizon_timeout] = server._mail_sent()
            self.horizon_timeout = -1.0

    def _arm(self, point: int, server: Waiting) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._when = point
        self._handle = self._loop.call_at(point / 1000.0, self._fire, server)
        # A timer armed anew (after firing, or moved) may stand later than the horizon assumed.
        self._drop_horizon(server)

    def _fire(self, server: Waiting) -> None:
        self._handle = None
        self._drop_horizon(server)
        now = self.clock()
        due: list[tuple[float, float, asyncio.Future[Any]]] = []
        pending: set[float] = set()  # timeouts of calls still waiting
        next_point = 0
        # Queued calls are in the order they were made, so those of one timeout are in the order of their
        # deadlines: once a call of each timeout in use has shown itself not yet due, or the walk has
        # passed the last call of that timeout, nothing further can be due. Where no queued call can
        # time out any more (a prefix of the mailbox: answered, due now, or without a deadline) the next
        # walk starts after it. So an expiry walks the calls due plus about one per timeout in use, not
        # the whole mailbox of an overloaded server whose callers give up by the thousand.
        last_position = self._last_position
        unseen = {t for t in self._timeouts if t not in last_position}  # must show a call not yet due
        until = max((last_position[t] for t in self._timeouts if t in last_position), default=0)
        position, entries = server._queued_from(self._settled)
        settled = position
        for caller in entries:
            position += 1
            if caller is not None:
                deadline: float | None = getattr(caller, "_deadline", None)
                if deadline is not None and not caller._future.done():  # else None, or given up
                    timeout = caller._timeout
                    if deadline <= now:
                        due.append((deadline, timeout, caller._future))
                    else:
                        settled = -1
                        if timeout not in pending:
                            pending.add(timeout)
                            point = grid_point(deadline, timeout)
                            if not next_point or point < next_point:
                                next_point = point
                            unseen.discard(timeout)
                            if timeout in last_position:
                                until = max(
                                    (
                                        last_position[t]
                                        for t in self._timeouts - pending
                                        if t in last_position
                                    ),
                                    default=0,
                                )
            if settled >= 0:
                settled = position
            if not unseen and position >= until:
                break
        if settled >= 0:
            self._settled = settled
        for caller in server._taken_callers():  # in progress or deferred: in no particular order
            deadline = getattr(caller, "_deadline", None)
            if deadline is None or caller._future.done():
                continue
            timeout = caller._timeout
            # A timer may fire a little before its time (asyncio's clock resolution, uvloop's whole
            # ms): only calls whose own deadline the clock has passed are due, so none expires early.
            if deadline <= now:
                due.append((deadline, timeout, caller._future))
            else:
                pending.add(timeout)
                point = grid_point(deadline, timeout)
                if not next_point or point < next_point:
                    next_point = point
        self._timeouts = pending
        self._last_position = {t: p for t, p in last_position.items() if t in pending}
        if next_point:
            self._arm(next_point, server)
        due.sort(key=_deadline_of)
        for _, timeout, future in due:
            if not future.done():
                future.set_exception(CallTimeout(f"no reply within {timeout} s"))


def _deadline_of(entry: tuple[float, float, asyncio.Future[Any]]) -> float:
    return entry[0]
