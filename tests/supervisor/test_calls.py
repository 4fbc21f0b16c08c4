"""``supervisor.call`` / ``supervisor.cast``: by registered name, resolved at call time (OTP's
``gen_server:call(Name, ...)``)."""

from __future__ import annotations

import asyncio

import pytest

from supervisor import (
    KILLED,
    CallTimeout,
    ChildSpec,
    NoProc,
    Server,
    ServerDown,
    ServerExited,
    Strategy,
    Supervisor,
    call,
    cast,
    whereis,
)


class Counter(Server):
    async def init(self) -> None:
        self.seen: list[object] = []
        self.cast_seen = asyncio.Event()

    async def handle_call(self, request: object, caller: object) -> object:
        if request == "crash":
            raise RuntimeError("asked to")
        if request == "hang":
            await asyncio.Event().wait()
        return ("reply", request, len(self.seen))

    async def handle_cast(self, message: object) -> None:
        self.seen.append(message)
        self.cast_seen.set()


async def test_call_by_name_reaches_the_registered_server() -> None:
    async with Supervisor([ChildSpec("c", Counter, name="calls.counter")]):
        assert await call("calls.counter", "x") == ("reply", "x", 0)


async def test_call_by_name_reaches_the_new_incarnation_after_a_restart() -> None:
    async with Supervisor([ChildSpec("c", Counter, name="calls.restarted")], intensity=5) as sup:
        first = whereis("calls.restarted")
        assert first is not None
        first.cast("one")
        with pytest.raises(ServerExited):
            await call("calls.restarted", "crash")
        await first.wait()
        await sup.count_children()  # the restart is handled before this returns
        second = whereis("calls.restarted")
        assert second is not None
        assert second is not first
        assert await call("calls.restarted", "y") == ("reply", "y", 0)


async def test_call_to_a_name_nobody_holds_raises_noproc() -> None:
    with pytest.raises(NoProc, match=r"calls\.nobody"):
        await call("calls.nobody", "x")


async def test_call_accepts_a_server_too() -> None:
    async with Supervisor([ChildSpec("c", Counter, name="calls.direct")]):
        server = whereis("calls.direct")
        assert server is not None
        assert await call(server, "z") == ("reply", "z", 0)


async def test_call_by_name_times_out_like_server_call() -> None:
    async with Supervisor([ChildSpec("c", Counter, name="calls.slow", shutdown=0.1)]):
        with pytest.raises(CallTimeout):
            await call("calls.slow", "hang", timeout=0.01)


async def test_cast_by_name_delivers_and_a_cast_to_nobody_is_dropped() -> None:
    cast("calls.nobody", "dropped")  # never raises (OTP)
    async with Supervisor([ChildSpec("c", Counter, name="calls.cast")]):
        cast("calls.cast", "hello")
        server = whereis("calls.cast")
        assert isinstance(server, Counter)
        async with asyncio.timeout(5):
            await server.cast_seen.wait()
        assert server.seen == ["hello"]


# --- the fault matrix's F1: callers of a dead server get ServerDown or CallTimeout, never a hang ----


class Gated(Server):
    """Its init waits for ``gate`` from its second start on, with ``entered`` set: a restart held open."""

    async def init(self, starts: list[int], entered: asyncio.Event, gate: asyncio.Event) -> None:
        starts.append(len(starts) + 1)
        if len(starts) > 1:
            entered.set()
            await gate.wait()


class Stuck(Server):
    """Its handler sets ``entered`` and waits forever: a call in flight."""

    async def init(self, entered: asyncio.Event) -> None:
        self.entered = entered

    async def handle_call(self, request: object, caller: object) -> object:
        self.entered.set()
        await asyncio.Event().wait()
        return request


async def test_a_call_in_flight_when_its_server_crashes_raises_server_down_with_the_reason() -> None:
    entered = asyncio.Event()
    async with Supervisor([ChildSpec("c", Stuck, args=(entered,), name="calls.crashing")], intensity=5):
        server = whereis("calls.crashing")
        assert server is not None
        pending = asyncio.ensure_future(call("calls.crashing", "x", timeout=None))
        await entered.wait()
        server.kill()
        with pytest.raises(ServerDown) as down:
            await pending
        assert isinstance(down.value, ServerExited)
        assert down.value.reason == KILLED  # OTP: the caller exits with the monitor's reason


async def test_a_call_by_name_between_a_crash_and_the_restart_raises_server_down_at_once() -> None:
    # one_for_all restarts the gated sibling first: until it is released, nobody holds the name.
    starts: list[int] = []
    entered, gate = asyncio.Event(), asyncio.Event()
    children = [
        ChildSpec("gated", Gated, args=(starts, entered, gate)),
        ChildSpec("c", Counter, name="calls.between"),
    ]
    async with Supervisor(children, strategy=Strategy.ONE_FOR_ALL, intensity=5) as sup:
        first = whereis("calls.between")
        assert first is not None
        first.kill()
        await entered.wait()
        assert whereis("calls.between") is None
        with pytest.raises(ServerDown) as down:
            await call("calls.between", "x", timeout=None)  # timeout=None: it must not wait
        assert isinstance(down.value, NoProc)
        gate.set()
        await sup.count_children()  # answered once the restart is done
        assert await call("calls.between", "y", timeout=None) == ("reply", "y", 0)
