"""Registered names: ``start(name=)``, ``whereis``, ``registered_names`` (OTP's local name registry).

Groups: finding a server by name, a taken name (``AlreadyStarted``), names vanishing at the exit (any
reason, including a failed or ignored init) and being reusable, ``current_server``/``current_process``.
Every test uses names under its ``arbord_names``: the registry is interpreter-wide.
"""

from __future__ import annotations

import asyncio

import pytest

from supervisor import _runtime as runtime
from supervisor._exits import Exit, shutdown
from supervisor._runtime import current_process, current_server, is_alive, registered_names, whereis
from supervisor._server import Caller, Ignore, Server, Stop
from supervisor.errors import AlreadyStarted, InitIgnored, StartFailed
from supervisor.testing import LeakCheck, UniqueNames


class Named(Server):
    """``init(outcome)`` can fail; a cast of an ``Exit`` stops with it, ``"crash"`` crashes it; the
    call ``"me"`` reports ``current_server()`` and ``current_process()`` as seen from inside."""

    inits = 0

    async def init(self, outcome: str = "ok") -> None:
        type(self).inits += 1
        if outcome == "ignore":
            raise Ignore
        if outcome == "crash":
            raise ValueError("init crashed")

    async def handle_call(self, request: object, caller: Caller) -> object:
        if request == "me":
            return current_server(), current_process()
        return request

    async def handle_cast(self, message: object) -> None:
        if isinstance(message, Exit):
            raise Stop(message)
        if message == "crash":
            raise ValueError("cast crashed")


# --- finding a server by name ----------------------------------------------------------------------


async def test_a_named_server_is_found_by_whereis(
    arbord_names: UniqueNames, arbord_leak_check: LeakCheck
) -> None:
    found = arbord_names("found")
    server = await Named.start(name=found)
    assert whereis(found) is server
    assert server.name == found
    assert found in repr(server)
    assert await whereis(found).call("hi") == "hi"  # type: ignore[union-attr]
    await server.stop()


async def test_whereis_of_an_unknown_name_is_none(arbord_names: UniqueNames) -> None:
    assert whereis(arbord_names("nobody")) is None


async def test_an_unnamed_server_has_no_name_and_is_not_registered() -> None:
    before = registered_names()
    server = await Named.start()
    assert server.name is None
    assert registered_names() == before
    await server.stop()


async def test_registered_names_lists_the_live_names_sorted(
    arbord_names: UniqueNames, arbord_leak_check: LeakCheck
) -> None:
    servers = [await Named.start(name=arbord_names(n)) for n in ("b", "c", "a")]
    mine = [n for n in registered_names() if arbord_names.owns(n)]
    assert mine == [arbord_names("a"), arbord_names("b"), arbord_names("c")]
    await servers[0].stop()
    assert [n for n in registered_names() if arbord_names.owns(n)] == [arbord_names("a"), arbord_names("c")]
    for server in servers[1:]:
        await server.stop()


# --- a taken name ----------------------------------------------------------------------------------


async def test_starting_under_a_taken_name_raises_already_started_naming_the_holder(
    arbord_names: UniqueNames,
) -> None:
    holder = await Named.start(name=arbord_names("taken"))
    Named.inits = 0
    with pytest.raises(AlreadyStarted) as taken:
        await Named.start(name=arbord_names("taken"))
    assert taken.value.holder is holder
    assert Named.inits == 0  # the second server's init never ran
    assert whereis(arbord_names("taken")) is holder
    await holder.stop()


async def test_a_name_is_taken_while_the_holder_is_still_in_init(arbord_names: UniqueNames) -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    class Slow(Server):
        async def init(self) -> None:
            entered.set()
            await release.wait()

    starting = asyncio.create_task(Slow.start(name=arbord_names("slow")))
    await entered.wait()
    with pytest.raises(AlreadyStarted):
        await Named.start(name=arbord_names("slow"))
    release.set()
    server = await starting
    assert whereis(arbord_names("slow")) is server
    await server.stop()


# --- names vanish at the exit and can be reused ----------------------------------------------------


@pytest.mark.parametrize("how", ["stop", "crash", "kill", "stop-from-callback"])
async def test_a_name_vanishes_when_its_server_exits(how: str, arbord_names: UniqueNames) -> None:
    server = await Named.start(name=arbord_names("vanish"))
    if how == "stop":
        await server.stop()
    elif how == "crash":
        server.cast("crash")
    elif how == "kill":
        server.kill()
    else:
        server.cast(shutdown("bye"))
    await server.wait()
    assert whereis(arbord_names("vanish")) is None
    assert arbord_names("vanish") not in registered_names()


async def test_a_name_can_be_reused_after_its_server_exited(arbord_names: UniqueNames) -> None:
    first = await Named.start(name=arbord_names("reuse"))
    await first.stop()
    second = await Named.start(name=arbord_names("reuse"))
    assert second is not first
    assert whereis(arbord_names("reuse")) is second
    await second.stop()


@pytest.mark.parametrize("outcome", ["ignore", "crash"])
async def test_a_name_is_released_when_init_does_not_start(outcome: str, arbord_names: UniqueNames) -> None:
    with pytest.raises((InitIgnored, StartFailed)):
        await Named.start(outcome, name=arbord_names("init"))
    assert whereis(arbord_names("init")) is None
    server = await Named.start(name=arbord_names("init"))
    assert whereis(arbord_names("init")) is server
    await server.stop()


async def test_an_exited_holder_does_not_block_its_name(arbord_names: UniqueNames) -> None:
    holder = await Named.start(name=arbord_names("exited"))
    holder.kill()
    await holder.wait()
    successor = await Named.start(name=arbord_names("exited"))
    assert whereis(arbord_names("exited")) is successor
    # the old holder's exit must not unregister its successor
    runtime._unregister_name(arbord_names("exited"), holder)
    assert whereis(arbord_names("exited")) is successor
    await successor.stop()


# --- current_server / current_process ----------------------------------------------------------------


async def test_inside_a_server_current_server_and_current_process_are_the_server() -> None:
    server = await Named.start()
    assert await server.call("me") == (server, server)
    await server.stop()


async def test_outside_a_server_current_process_is_the_task() -> None:
    assert current_server() is None
    assert current_process() is asyncio.current_task()


def test_current_process_outside_a_task_raises() -> None:
    with pytest.raises(RuntimeError, match="no asyncio task"):
        current_process()


def test_current_server_outside_an_event_loop_is_none() -> None:
    assert current_server() is None


async def test_in_a_loop_callback_there_is_no_current_server_or_process() -> None:
    seen: asyncio.Future[tuple[Server | None, RuntimeError]] = asyncio.get_running_loop().create_future()

    def callback() -> None:
        try:
            current_process()
        except RuntimeError as error:
            seen.set_result((current_server(), error))

    asyncio.get_running_loop().call_soon(callback)
    server, error = await seen
    assert server is None
    assert "no asyncio task" in str(error)


async def test_is_alive_follows_servers_and_tasks() -> None:
    server = await Named.start()
    release = asyncio.Event()
    task = asyncio.create_task(release.wait())
    assert is_alive(server)
    assert is_alive(task)
    await server.stop()
    release.set()
    await task
    assert not is_alive(server)
    assert not is_alive(task)
