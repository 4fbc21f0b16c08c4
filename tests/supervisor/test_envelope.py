"""The envelope hook (supervisor/_envelope.py): what a sender's task carries into the handler of its
call or cast, generic over what is carried."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextvars import ContextVar, Token

import pytest

from supervisor import Caller, Server
from supervisor.lowlevel import EnvelopeHook, envelope_hook, set_envelope_hook

# What the hooks under test carry: a ContextVar of the test's own, as a program's hook would carry its.
tag: ContextVar[str | None] = ContextVar("test_envelope_tag", default=None)  # arbord: allow-state(a test)


class Recorder:
    """A hook over ``tag`` that records what it was asked to do."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def capture(self) -> str | None:
        self.calls.append("capture")
        return tag.get()

    def enter(self, value: str) -> Token[str | None]:
        self.calls.append(f"enter {value}")
        return tag.set(value)

    def exit(self, token: Token[str | None]) -> None:
        self.calls.append("exit")
        tag.reset(token)

    def hook(self) -> EnvelopeHook:
        return EnvelopeHook(self.capture, self.enter, self.exit)


class Seer(Server):
    """Replies with the tag its handler sees; records what its casts and infos see."""

    async def init(self) -> None:
        self.seen: list[object] = []
        self.waiter: asyncio.Future[None] | None = None

    async def handle_call(self, request: object, caller: Caller) -> object:
        if request == "raise":
            raise RuntimeError("handler failed")
        return tag.get()

    async def handle_cast(self, message: object) -> None:
        self.seen.append(("cast", tag.get()))

    async def handle_info(self, message: object) -> None:
        self.seen.append(("info", tag.get()))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    previous = set_envelope_hook(recorder.hook())
    yield recorder
    set_envelope_hook(previous)


async def test_a_call_carries_the_senders_value_into_handle_call(recorder: Recorder) -> None:
    server = await Seer.start()
    tag.set("request-1")
    assert await server.call("what") == "request-1"
    assert recorder.calls == ["capture", "enter request-1", "exit"]
    # The server's own context is untouched afterwards.
    tag.set(None)
    assert await server.call("what") is None
    await server.stop()


async def test_a_cast_carries_it_into_handle_cast_and_send_carries_nothing(recorder: Recorder) -> None:
    server = await Seer.start()
    tag.set("c")
    server.cast("x")
    server.send("y")
    await server.call("sync")
    assert server.seen == [("cast", "c"), ("info", None)]
    await server.stop()


async def test_nothing_captured_means_nothing_entered(recorder: Recorder) -> None:
    server = await Seer.start()
    assert await server.call("what") is None
    server.cast("x")
    await server.call("sync")
    assert recorder.calls == ["capture", "capture", "capture"]
    await server.stop()


async def test_exit_runs_when_the_handler_raises(recorder: Recorder) -> None:
    server = await Seer.start()
    tag.set("t")
    with pytest.raises(Exception, match="handler failed"):
        await server.call("raise")
    assert recorder.calls[-1] == "exit"


async def test_each_message_carries_the_value_current_when_it_was_sent(recorder: Recorder) -> None:
    server = await Seer.start()
    for value in ("a", "b", "c"):
        tag.set(value)
        server.cast(value)
    await server.call("sync")
    assert server.seen == [("cast", "a"), ("cast", "b"), ("cast", "c")]
    await server.stop()


async def test_without_a_hook_nothing_is_carried() -> None:
    assert envelope_hook() is None
    server = await Seer.start()
    tag.set("not carried")
    assert await server.call("what") is None
    await server.stop()


def test_set_envelope_hook_returns_the_previous_one_and_refuses_other_things() -> None:
    hook = Recorder().hook()
    assert set_envelope_hook(hook) is None
    assert envelope_hook() is hook
    assert set_envelope_hook(None) is hook
    with pytest.raises(TypeError, match="EnvelopeHook"):
        set_envelope_hook(lambda: None)  # type: ignore[arg-type]


class Gate(Seer):
    """A Seer whose call "hold" waits until the test opens the gate, so later calls queue up."""

    async def init(self) -> None:
        await super().init()
        self.gate = asyncio.Event()
        self.holding = asyncio.Event()

    async def handle_call(self, request: object, caller: Caller) -> object:
        if request == "hold":
            self.holding.set()
            await self.gate.wait()
        return await super().handle_call(request, caller)


async def test_a_call_is_entered_by_the_hook_that_captured_it_when_the_hook_changes_meanwhile() -> None:
    # The Caller keeps the capturing hook beside what it captured (two slots, not a pair): a hook
    # installed after the call was sent must not be given another hook's value.
    first, second = Recorder(), Recorder()
    captured = asyncio.Event()

    def capture() -> str | None:
        value = first.capture()
        if value is not None:
            captured.set()
        return value

    previous = set_envelope_hook(EnvelopeHook(capture, first.enter, first.exit))
    try:
        server = await Gate.start()
        held = asyncio.create_task(server.call("hold"))
        await server.holding.wait()
        tag.set("sent under the first hook")
        queued = asyncio.create_task(server.call("what"))
        await captured.wait()  # the queued call is in the mailbox, with what the first hook captured
        set_envelope_hook(second.hook())
        server.gate.set()
        assert await queued == "sent under the first hook"
        await held
        assert first.calls.count("enter sent under the first hook") == 1
        assert second.calls == []
        await server.stop()
    finally:
        set_envelope_hook(previous)


def test_a_caller_built_by_hand_takes_the_hook_and_its_value_as_a_pair() -> None:
    # Caller(future, carried) keeps its signature: carried is (hook, value) or None.
    loop = asyncio.new_event_loop()
    try:
        hook = Recorder().hook()
        caller = Caller(loop.create_future(), (hook, "v"))
        assert (caller._hook, caller._carried) == (hook, "v")
        assert Caller(loop.create_future())._carried is None
    finally:
        loop.close()
