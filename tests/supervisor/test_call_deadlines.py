"""Call deadlines kept in one coarse timer per server (``supervisor._deadlines``,
docs/supervision.md#servers).

Groups: the grain and the lateness bound, expiry order, completed calls are not retained and cost no
timer, the walk of an expiry, the timer.
The call-timeout semantics themselves (``CallTimeout``, late replies dropped) are tested in
test_server_calls.py, unchanged.
"""

from __future__ import annotations

import asyncio
import gc
import random
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from supervisor import NOREPLY, Caller, Server
from supervisor._deadlines import GRAIN_DIVISOR, Deadlines, grain_ms
from supervisor.errors import CallTimeout, ServerExited


class Silent(Server):
    """Never replies to a call (defers it, keeping the caller); echoes ``("echo", x)``."""

    async def init(self) -> None:
        self.unanswered: list[Caller] = []

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        match request:
            case ("echo", value):
                return value
        self.unanswered.append(caller)
        return NOREPLY


class Payload:
    """A reply whose lifetime a weakref can watch."""


# --- the grain and the lateness bound --------------------------------------------------------------


@pytest.mark.parametrize("timeout", [0.0, 0.0005, 0.02, 0.064, 0.1, 0.999, 1.0, 5.0, 60.0, 86_400.0])
def test_the_grain_is_a_power_of_two_ms_within_a_sixty_fourth_of_the_timeout(timeout: float) -> None:
    grain = grain_ms(timeout)
    assert grain & (grain - 1) == 0  # a power of two: the grids of all grains nest
    bound = max(1.0, timeout * 1000 / GRAIN_DIVISOR)
    assert bound / 2 < grain <= bound


class NoneWaiting:
    """A server with no call waiting: what the keeper walks when its timer fires."""

    def _mail_sent(self) -> int:
        return 0

    def _queued_from(self, position: int) -> tuple[int, Iterator[Caller | None]]:
        return 0, iter(())

    def _taken_callers(self) -> list[Caller]:
        return []


@pytest.mark.parametrize("timeout", [0.0, 0.003, 0.05, 1.0, 5.0, 300.0])
async def test_a_deadline_is_kept_late_by_at_most_one_grain_and_never_early(timeout: float) -> None:
    loop = asyncio.get_running_loop()
    keeper = Deadlines(loop)
    deadline = keeper.clock() + timeout
    keeper.watch(deadline, timeout, NoneWaiting())
    expiry = keeper.next_expiry
    assert expiry is not None
    # 1e-9: the sum on the right is a rounded float; the grid point itself is an exact integer of ms.
    assert deadline < expiry <= deadline + grain_ms(timeout) / 1000 + 1e-9
    keeper.close()


async def test_a_call_never_times_out_before_its_timeout() -> None:
    loop = asyncio.get_running_loop()
    server = await Silent.start()
    for timeout in (0.0, 0.001, 0.01, 0.02):
        started = loop.time()
        with pytest.raises(CallTimeout, match=f"^no reply within {timeout} s$"):
            await server.call("hang", timeout)
        assert loop.time() >= started + timeout
    await server.stop()


# --- expiry order ----------------------------------------------------------------------------------


async def test_concurrent_calls_with_mixed_timeouts_expire_in_deadline_order() -> None:
    loop = asyncio.get_running_loop()
    server = await Silent.start()
    # 60 calls, three of each of 20 timeouts from 5 ms to 290 ms (grains of 1 to 4 ms), in random order;
    # some get their reply at once.
    timeouts = [0.005 + 0.015 * (i % 20) for i in range(60)]
    random.Random(11).shuffle(timeouts)
    expired: list[tuple[float, float]] = []  # (deadline, timeout) in the order the calls timed out

    async def one(n: int, timeout: float) -> None:
        started = loop.time()
        request = ("echo", n) if n % 7 == 0 else "hang"
        try:
            assert await server.call(request, timeout) == n
        except CallTimeout:
            assert loop.time() >= started + timeout
            expired.append((started + timeout, timeout))

    await asyncio.gather(*(one(n, t) for n, t in enumerate(timeouts)))
    assert len(expired) == sum(1 for n in range(60) if n % 7)
    # Deadline order, not the shuffled order the calls were made in. (Not "timeout order": the 60
    # calls start one after another, and on a loaded machine the process may lose the CPU between
    # two of them for longer than two timeouts differ, so a shorter timeout started later can be due
    # after a longer one started earlier.)
    assert expired == sorted(expired)
    await server.stop()


async def test_a_shorter_timeout_made_later_moves_the_timer_earlier() -> None:
    server = await Silent.start()
    slow = asyncio.create_task(server.call("hang", 60.0))
    with pytest.raises(CallTimeout):
        await server.call("hang", 0.001)
    keeper = server._deadlines
    assert keeper is not None
    assert not slow.done()
    assert keeper.armed  # for the slow call, still waiting
    await server.stop()
    with pytest.raises(ServerExited):
        await slow
    assert not keeper.armed  # the exit fails every waiting call and cancels the timer


# --- completed calls are not retained --------------------------------------------------------------


async def test_a_completed_call_keeps_neither_its_future_nor_its_reply() -> None:
    server = await Silent.start()
    reply = weakref.ref(await server.call(("echo", Payload())))  # default timeout: its bucket is 5 s away
    many = await asyncio.gather(*(server.call(("echo", Payload())) for _ in range(1000)))
    replies = [weakref.ref(r) for r in many]
    del many
    await server.call(("echo", None))  # the server's task still holds the last request it handled
    gc.collect()
    assert reply() is None
    assert all(r() is None for r in replies)
    await server.stop()


async def test_a_call_that_gets_its_reply_costs_no_timer() -> None:
    server = await Silent.start()
    await server.call(("echo", 0))
    keeper = server._deadlines
    assert keeper is not None
    first = keeper.next_expiry
    assert first is not None
    for n in range(1000):  # the timer armed for the first call covers these: it is never moved
        await server.call(("echo", n))
    assert keeper.next_expiry == first
    await server.stop()


class Walked(Silent):
    """Counts the queued calls the deadline keeper looks at."""

    async def init(self) -> None:
        await super().init()
        self.walks: list[int] = []  # queued entries looked at, per expiry
        self.blocking = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if request == "block":
            self.blocking.set()
            await self.release.wait()
            return None
        return await super().handle_call(request, caller)

    def _queued_from(self, position: int) -> tuple[int, Iterator[Caller | None]]:
        first, entries = super()._queued_from(position)
        self.walks.append(0)
        return first, self._counted(entries)

    def _counted(self, entries: Iterator[Caller | None]) -> Iterator[Caller | None]:
        for entry in entries:
            self.walks[-1] += 1
            yield entry


async def test_an_expiry_walks_the_calls_due_and_one_per_timeout_not_the_whole_mailbox() -> None:
    server = await Walked.start()
    blocked = asyncio.create_task(server.call("block", None))
    await server.blocking.wait()  # the server is busy: what follows queues up
    quick = [asyncio.create_task(server.call("hang", 0.001)) for _ in range(10)]
    slow = [asyncio.create_task(server.call("hang", 60.0)) for _ in range(1000)]
    for call in quick:
        with pytest.raises(CallTimeout):
            await call
    # The ten due calls, then one 60 s call shows that timeout is not due: nothing behind it can be.
    # (A timer that fires a little early walks less: nothing is due yet.)
    assert server.walks
    assert max(server.walks) <= 11
    assert not any(call.done() for call in slow)
    server.release.set()
    await server.stop()
    await asyncio.gather(blocked, *slow, return_exceptions=True)


# --- the timer --------------------------------------------------------------------------------------


async def test_the_timer_is_released_at_its_next_firing_when_no_call_pends() -> None:
    loop = asyncio.get_running_loop()
    server = await Silent.start()
    await server.call(("echo", 1), 0.002)  # the call completed at once
    keeper = server._deadlines
    assert keeper is not None
    expiry = keeper.next_expiry
    assert expiry is not None
    passed = loop.create_future()
    loop.call_at(expiry + 0.01, passed.set_result, None)  # a timer strictly after the keeper's
    await passed
    assert not keeper.armed
    assert keeper.next_expiry is None
    await server.stop()


async def test_the_timer_is_released_once_the_last_pending_call_expired() -> None:
    # While a call pends the timer is armed again (test_a_shorter_timeout_made_later_moves_the_timer_earlier).
    server = await Silent.start()
    second = asyncio.create_task(server.call("hang", 0.02))
    with pytest.raises(CallTimeout):
        await server.call("hang", 0.001)
    with pytest.raises(CallTimeout):
        await second
    keeper = server._deadlines
    assert keeper is not None
    assert not keeper.armed
    await server.stop()


# --- timeouts with no finite deadline --------------------------------------------------------------


async def test_an_infinite_call_timeout_waits_like_none_and_arms_no_timer() -> None:
    server = await Silent.start()
    assert await server.call(("echo", 1), float("inf")) == 1
    assert server._deadlines is None  # white box: no keeper was needed
    await server.stop()


async def test_a_nan_call_timeout_is_rejected_before_anything_is_sent() -> None:
    server = await Silent.start()
    with pytest.raises(ValueError, match="non-negative"):
        await server.call("hang", float("nan"))
    assert server.unanswered == []
    await server.stop()
