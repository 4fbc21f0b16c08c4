"""Call deadlines kept in one coarse timer per server (``supervisor._deadlines``,
docs/supervision.md#servers).

Groups: the grain and the lateness bound, expiry order, completed calls are not retained, the timer.
The call-timeout semantics themselves (``CallTimeout``, late replies dropped) are tested in
test_server_calls.py, unchanged.
"""

from __future__ import annotations

import asyncio
import gc
import random
import weakref
from typing import Any

import pytest

from supervisor import NOREPLY, Caller, Server
from supervisor._deadlines import GRAIN_DIVISOR, Deadlines, grain_ms
from supervisor.errors import CallTimeout


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


def timer_and_pending(keeper: Deadlines) -> tuple[bool, int]:
    """The keeper's state, read afresh (a helper, so that mypy does not narrow ``armed`` across awaits)."""
    return keeper.armed, keeper.pending


class Payload:
    """A reply whose lifetime a weakref can watch."""


# --- the grain and the lateness bound --------------------------------------------------------------


@pytest.mark.parametrize("timeout", [0.0, 0.0005, 0.02, 0.064, 0.1, 0.999, 1.0, 5.0, 60.0, 86_400.0])
def test_the_grain_is_a_power_of_two_ms_within_a_sixty_fourth_of_the_timeout(timeout: float) -> None:
    grain = grain_ms(timeout)
    assert grain & (grain - 1) == 0  # a power of two: the grids of all grains nest
    bound = max(1.0, timeout * 1000 / GRAIN_DIVISOR)
    assert bound / 2 < grain <= bound


@pytest.mark.parametrize("timeout", [0.0, 0.003, 0.05, 1.0, 5.0, 300.0])
async def test_a_deadline_is_kept_late_by_at_most_one_grain_and_never_early(timeout: float) -> None:
    loop = asyncio.get_running_loop()
    keeper = Deadlines(loop)
    before = loop.time()
    keeper.add(loop.create_future(), timeout)
    after = loop.time()
    expiry = keeper.next_expiry
    assert expiry is not None
    # 1e-9: the sums on the right are rounded floats; the grid point itself is an exact integer of ms.
    assert before + timeout < expiry <= after + timeout + grain_ms(timeout) / 1000 + 1e-9
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
    assert expired == sorted(expired)
    assert [t for _, t in expired] == sorted(t for _, t in expired)
    await server.stop()


async def test_a_shorter_timeout_filed_later_moves_the_timer_earlier() -> None:
    loop = asyncio.get_running_loop()
    keeper = Deadlines(loop)
    slow, quick = loop.create_future(), loop.create_future()
    keeper.add(slow, 60.0)
    keeper.add(quick, 0.001)
    with pytest.raises(CallTimeout):
        await quick
    assert not slow.done()
    assert timer_and_pending(keeper) == (True, 1)
    keeper.close()
    assert timer_and_pending(keeper) == (False, 0)


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


async def test_completed_calls_leave_no_pending_entry() -> None:
    loop = asyncio.get_running_loop()
    keeper = Deadlines(loop)
    futures = [loop.create_future() for _ in range(100)]
    buckets = [keeper.add(f, 5.0) for f in futures]
    assert keeper.pending == 100
    for future, bucket in zip(futures, buckets, strict=True):
        future.set_result(None)
        bucket.pop(future, None)  # what Server.call does when the call ends
    assert keeper.pending == 0
    keeper.close()


# --- the timer --------------------------------------------------------------------------------------


async def test_the_timer_is_released_at_its_next_firing_when_no_call_pends() -> None:
    loop = asyncio.get_running_loop()
    keeper = Deadlines(loop)
    future = loop.create_future()
    keeper.add(future, 0.002).pop(future)  # the call completed at once
    expiry = keeper.next_expiry
    assert expiry is not None
    assert timer_and_pending(keeper) == (True, 0)
    passed = loop.create_future()
    loop.call_at(expiry + 0.01, passed.set_result, None)  # a timer strictly after the keeper's
    await passed
    assert timer_and_pending(keeper) == (False, 0)
    assert keeper.next_expiry is None


async def test_the_timer_is_released_once_the_last_pending_call_expired() -> None:
    # While a call pends the timer is re-armed (test_a_shorter_timeout_filed_later_moves_the_timer_earlier).
    loop = asyncio.get_running_loop()
    keeper = Deadlines(loop)
    first, second = loop.create_future(), loop.create_future()
    keeper.add(first, 0.001)
    keeper.add(second, 0.02)
    with pytest.raises(CallTimeout):
        await first
    with pytest.raises(CallTimeout):
        await second
    assert timer_and_pending(keeper) == (False, 0)


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
