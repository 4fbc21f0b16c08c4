"""Management requests: frozen records matched by type, sent through the typed ``ask`` (issue 10).

Each management function is one request; the supervisor answers the ones it knows and refuses anything
else with ``UnknownRequest``, raised in the caller, while it carries on.
"""

from __future__ import annotations

import dataclasses

import pytest

from supervisor import ChildCounts, ChildSpec, DynamicSupervisor, Server, Supervisor
from supervisor._requests import (
    CountChildren,
    DeleteChild,
    GetChildSpec,
    ReplaceChildSpec,
    RestartChild,
    StartChild,
    TerminateChild,
    TerminateChildServer,
    WhichChildren,
    ask,
)
from supervisor.errors import ChildNotFound, UnknownRequest
from tests.supervisor.test_supervisor_support import EventLog, worker


async def test_ask_returns_each_requests_reply() -> None:
    log: EventLog = []
    spec = worker("a", log)
    async with Supervisor([spec]) as sup:
        assert await ask(sup, GetChildSpec("a"), None) == spec
        assert await ask(sup, CountChildren(), None) == ChildCounts(
            specs=1, active=1, supervisors=0, workers=1
        )
        await ask(sup, TerminateChild("a"), None)
        await ask(sup, ReplaceChildSpec(dataclasses.replace(spec, args=(log, "a2"))), None)
        server = await ask(sup, RestartChild("a"), None)
        assert server is not None
        assert await server.call("label?") == "a2"
        (info,) = await ask(sup, WhichChildren(), None)
        assert info.server is server
        await ask(sup, TerminateChild("a"), None)
        await ask(sup, DeleteChild("a"), None)
        assert await ask(sup, StartChild(worker("b", log)), None) is not None


@pytest.mark.parametrize("request_", ["which_children", ("which_children", None), None, 42], ids=repr)
async def test_a_call_that_is_no_request_is_refused_and_the_supervisor_carries_on(request_: object) -> None:
    async with Supervisor([]) as sup, DynamicSupervisor() as dyn:
        for target in (sup, dyn):
            with pytest.raises(UnknownRequest, match="takes no request"):
                await target.call(request_)
            assert target.alive
            assert await target.which_children() == []


async def test_each_supervisor_refuses_the_requests_of_the_other() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)]) as sup, DynamicSupervisor() as dyn:
        a = (await sup.which_children())[0].server
        assert a is not None
        with pytest.raises(UnknownRequest):
            await ask(sup, TerminateChildServer(a), None)
        with pytest.raises(UnknownRequest):
            await ask(dyn, TerminateChild("a"), None)
        with pytest.raises(UnknownRequest):
            await ask(dyn, GetChildSpec("a"), None)
        assert a.alive


async def test_a_refused_request_raises_its_own_error_through_a_plain_call() -> None:
    async with DynamicSupervisor() as dyn:
        stranger = await Server.start()
        with pytest.raises(ChildNotFound):
            await dyn.call(TerminateChildServer(stranger))
        await stranger.stop()
        assert dyn.alive


def test_requests_are_frozen_and_compare_by_value() -> None:
    spec = ChildSpec("a", Server)
    assert StartChild(spec) == StartChild(spec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        GetChildSpec("a").child_id = "b"  # type: ignore[misc]
