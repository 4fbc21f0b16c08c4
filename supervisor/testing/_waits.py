"""Waiting for something definite: a condition, telemetry events, a supervisor's mailbox.

A test that sleeps "long enough" is slow on a quiet machine and wrong on a loaded one. These waits
return the moment what they wait for is true, and fail with a message that says what was awaited
and what was seen instead:

>>> import asyncio
>>> from supervisor import telemetry
>>> async def demo() -> str:
...     with telemetry.capture(("demo", "tick")) as seen:
...         asyncio.get_running_loop().call_soon(telemetry.execute, ("demo", "tick"), {"n": 1})
...         [tick] = await wait_for_events(seen, [("demo", "tick")], timeout=1.0)
...         try:
...             await wait_for_events(seen, [("demo", "tock")], timeout=0.01)
...         except WaitTimeout as error:
...             return str(error).splitlines()[0]
...     return "no timeout"
>>> asyncio.run(demo())
"wait_for_events: [('demo', 'tock')] not seen within 0.01 s"
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import linecache
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Protocol, TypeVar, overload

from supervisor.telemetry import Capture, Captured, EventName

__all__ = ["WaitTimeout", "settle", "wait_for", "wait_for_events"]

T = TypeVar("T")

# wait_for checks its predicate after every loop turn while the loop is busy, then, once this many
# checks found nothing, after a timer that doubles from 1 ms up to _MAX_PAUSE: a predicate that waits
# on a real timer (a call timeout, a shutdown grace) then costs no busy loop.
_BUSY_CHECKS: Final = 64
_FIRST_PAUSE: Final = 0.001
_MAX_PAUSE: Final = 0.02
_SHOWN: Final = 20  # the last events a failed wait_for_events lists


class WaitTimeout(AssertionError):
    """A wait of ``supervisor.testing`` ran out of time; the message says what was awaited and seen.

    An ``AssertionError``, so pytest reports it as a failed test rather than an error in the test.
    """


def _describe(predicate: Callable[[], object]) -> str:
    """A lambda's source (``lambda: sup.alive``), else the predicate's qualified name. Only a failed
    wait calls this: reading and parsing the source file costs nothing on the way to success."""
    name: str = getattr(predicate, "__qualname__", repr(predicate))
    code = getattr(predicate, "__code__", None)
    if not name.endswith("<lambda>") or code is None:
        return name
    try:
        source = "".join(linecache.getlines(code.co_filename))
        lambdas = [
            node
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Lambda) and node.lineno == code.co_firstlineno
        ]
    except (SyntaxError, ValueError):
        return name
    if len(lambdas) != 1:
        return name
    return ast.get_source_segment(source, lambdas[0]) or name


@overload
async def wait_for(
    predicate: Callable[[], Awaitable[T]], timeout: float = ..., *, what: str | None = ...
) -> T: ...
@overload
async def wait_for(predicate: Callable[[], T], timeout: float = ..., *, what: str | None = ...) -> T: ...
async def wait_for(
    predicate: Callable[[], object], timeout: float = 5.0, *, what: str | None = None
) -> object:
    """Return ``predicate()``'s first truthy value, checked on every loop turn; ``WaitTimeout`` after
    ``timeout`` seconds, naming the predicate (or ``what``) and its last value.

    No sleep decides the outcome: the predicate is checked after every turn of the event loop while
    the loop has work, then on a short doubling timer (1 to 20 ms) while it idles, so a condition
    that becomes true through a real timer is seen without a busy loop. A predicate may return an
    awaitable (``lambda: sup.which_children()``): its result is what is tested.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    checks = 1
    value = await _value(predicate)
    pause = _FIRST_PAUSE
    while not value:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise _still_false("wait_for", what or _describe(predicate), timeout, checks, value)
        if checks < _BUSY_CHECKS:
            await asyncio.sleep(0)  # one loop turn: whatever was ready has run
        else:
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, _MAX_PAUSE)
        checks += 1
        value = await _value(predicate)
    return value


def wait_until(predicate: Callable[[], T], timeout: float = 5.0, *, what: str | None = None) -> T:
    """``wait_for`` for a test outside an event loop, waiting on another process (a daemon subprocess,
    a file it writes): ``predicate()``'s first truthy value; ``WaitTimeout`` after ``timeout`` seconds,
    naming the predicate (or ``what``) and its last value.

    Between checks it sleeps a pause that doubles from 1 to 20 ms: a polling interval, not a
    synchronisation, since the predicate decides and no outcome depends on the pause.

    >>> wait_until(lambda: [1, 2])
    [1, 2]
    """
    deadline = time.monotonic() + timeout
    checks = 1
    value = predicate()
    pause = _FIRST_PAUSE
    while not value:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _still_false("wait_until", what or _describe(predicate), timeout, checks, value)
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, _MAX_PAUSE)
        checks += 1
        value = predicate()
    return value


def _still_false(wait: str, what: str, timeout: float, checks: int, value: object) -> WaitTimeout:
    return WaitTimeout(
        f"{wait}: {what} still false after {timeout} s ({checks} checks); last value: {value!r}"
    )


async def _value(predicate: Callable[[], object]) -> object:
    value = predicate()
    if inspect.isawaitable(value):
        return await value
    return value


def _as_list(events: Sequence[EventName] | EventName) -> list[EventName]:
    if isinstance(events, tuple) and all(isinstance(part, str) for part in events):
        return [events]  # one event name, not a sequence of them
    return list(events)  # type: ignore[arg-type]


def _match(seen: Sequence[Captured], wanted: list[EventName], ordered: bool) -> list[Captured] | None:
    """The captured events that satisfy ``wanted``, or None if some are still missing."""
    if ordered:
        matched: list[Captured] = []
        for captured in seen:
            if len(matched) < len(wanted) and captured.event == wanted[len(matched)]:
                matched.append(captured)
        return matched if len(matched) == len(wanted) else None
    needed = Counter(wanted)
    found: list[Captured] = []
    for captured in seen:
        if needed[captured.event] > 0:
            needed[captured.event] -= 1
            found.append(captured)
    return found if len(found) == len(wanted) else None


async def wait_for_events(
    seen: Capture,
    events: Sequence[EventName] | EventName,
    timeout: float = 5.0,
    *,
    ordered: bool = False,
) -> list[Captured]:
    """Wait until ``seen`` (a ``capture``) holds ``events``; return the captured emissions that match.

    Each event counts as often as it is listed; with ``ordered=True`` they must also have been
    emitted in that order (other events may come between). Emissions captured before the call count.
    Wakes on each captured event, never on a timer. On timeout ``WaitTimeout`` lists what was
    awaited, what is still missing and the events seen instead.
    """
    wanted = _as_list(events)
    try:
        async with asyncio.timeout(timeout):
            while (found := _match(seen, wanted, ordered)) is None:
                await seen.wait(count=len(seen) + 1)
    except TimeoutError:
        got = Counter(c.event for c in seen)
        missing = list((Counter(wanted) - got).elements()) or "(all, but not in this order)"
        shown = [c.event for c in seen[-_SHOWN:]]
        more = f" (the last {_SHOWN} of {len(seen)})" if len(seen) > _SHOWN else ""
        raise WaitTimeout(
            f"wait_for_events: {wanted} not seen within {timeout} s{' in order' if ordered else ''}\n"
            f"  missing: {missing}\n"
            f"  seen instead{more}: {shown}"
        ) from None
    return found


class _Settleable(Protocol):
    @property
    def alive(self) -> bool: ...

    async def count_children(self) -> object: ...


async def settle(supervisor: _Settleable) -> None:
    """Return once ``supervisor`` has handled every request sent to it before this call.

    A round trip through its mailbox (a ``count_children`` call): exits, restarts and management
    requests already queued are done when it returns. A supervisor that stopped, or stops meanwhile
    (it gave up, or shut down on its own), is settled too: this returns without raising.
    """
    if not supervisor.alive:
        return
    try:
        await supervisor.count_children()
    except Exception:
        if supervisor.alive:
            raise
