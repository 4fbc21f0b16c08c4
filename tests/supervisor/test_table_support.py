"""Helpers shared by the table tests (this module holds no tests).

``Agent`` is a server that runs whatever function it is called with in its own task, so a test can
act *as* a given server: create a table it owns, or try an operation as a foreigner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from supervisor._server import Caller, Server

T = TypeVar("T")


class _Raised:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Agent(Server):
    """Runs called functions in its own task; keeps every ``handle_info`` message in ``inbox``."""

    inbox: list[Any]

    async def init(self) -> None:
        self.inbox = []

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        try:
            return request()
        except Exception as error:  # handed back to the caller, the agent stays up
            return _Raised(error)

    async def handle_info(self, message: Any) -> None:
        self.inbox.append(message)


class QuietAgent(Agent):
    """An agent whose crashes the tests cause on purpose: not logged."""

    log_crashes = False


async def run_as(agent: Agent, fn: Callable[[], T]) -> T:
    """``fn()`` run in ``agent``'s task; its exception is raised here."""
    result = await agent.call(fn)
    if isinstance(result, _Raised):
        raise result.error
    return result  # type: ignore[no-any-return]


async def inbox_of(agent: Agent) -> list[Any]:
    """The agent's info messages so far (a call is handled after every message sent before it)."""
    return await run_as(agent, lambda: list(agent.inbox))


async def run_in_task(fn: Callable[[], T]) -> T:
    """``fn()`` run in a fresh plain task (a process of its own)."""
    return await asyncio.get_running_loop().create_task(_call(fn))


async def _call(fn: Callable[[], T]) -> T:
    return fn()
