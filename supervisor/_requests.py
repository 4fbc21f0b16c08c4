"""Supervisor management requests: small frozen records, each naming the type of its reply.

``Supervisor.start_child(spec)`` and the other management functions are calls to the supervisor: each
sends one of these records, which the supervisor handles in its own mailbox (so requests are ordered
with restarts) by matching on its type. ``ask`` is the typed call helper: the request's type parameter
is the reply's type, and a refused request raises its error in the caller, never in the supervisor.

>>> import asyncio
>>> from supervisor import DynamicSupervisor
>>> async def demo() -> object:
...     async with DynamicSupervisor() as sup:
...         counts = await ask(sup, CountChildren(), None)
...         try:
...             await ask(sup, "count_children", None)       # not a request: refused
...         except UnknownRequest as error:
...             return counts.specs, str(error)
>>> asyncio.run(demo())  # doctest: +ELLIPSIS
(0, "DynamicSupervisor@0x... takes no request 'count_children'")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from supervisor._child_records import ChildCounts, ChildInfo
from supervisor._childspec import ChildSpec
from supervisor._server import Server
from supervisor.errors import UnknownRequest

__all__ = [
    "CountChildren",
    "DeleteChild",
    "GetChildSpec",
    "ReplaceChildSpec",
    "Request",
    "RestartChild",
    "StartChild",
    "TerminateChild",
    "TerminateChildServer",
    "UpdateChildSpec",
    "WhichChildren",
    "ask",
    "unknown_request",
]

R = TypeVar("R")


class Request(Generic[R]):
    """Base of every management request; ``R`` is the type of its reply."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class StartChild(Request[Server | None]):
    """Add and start a child (``start_child``): the server, or None if it ignored."""

    spec: ChildSpec


@dataclass(frozen=True, slots=True)
class TerminateChild(Request[None]):
    """Stop the child ``child_id`` without restarting it (``Supervisor.terminate_child``)."""

    child_id: str


@dataclass(frozen=True, slots=True)
class TerminateChildServer(Request[None]):
    """Stop the child ``server`` without restarting it (``DynamicSupervisor.terminate_child``)."""

    server: Server


@dataclass(frozen=True, slots=True)
class RestartChild(Request[Server | None]):
    """Start the stopped child ``child_id`` again (``restart_child``)."""

    child_id: str


@dataclass(frozen=True, slots=True)
class DeleteChild(Request[None]):
    """Forget the stopped child ``child_id`` (``delete_child``)."""

    child_id: str


@dataclass(frozen=True, slots=True)
class ReplaceChildSpec(Request[None]):
    """Give the stopped child ``spec.id`` a new spec in its place (``replace_childspec``)."""

    spec: ChildSpec


@dataclass(frozen=True, slots=True)
class UpdateChildSpec(Request[None]):
    """Give the child ``spec.id``, running or not, a new spec for its next start (``update_childspec``)."""

    spec: ChildSpec


@dataclass(frozen=True, slots=True)
class GetChildSpec(Request[ChildSpec]):
    """The spec of the child ``child_id`` (``get_childspec``)."""

    child_id: str


@dataclass(frozen=True, slots=True)
class WhichChildren(Request[list[ChildInfo]]):
    """Every child as a ``ChildInfo`` (``which_children``)."""


@dataclass(frozen=True, slots=True)
class CountChildren(Request[ChildCounts]):
    """The ``ChildCounts`` (``count_children``)."""


async def ask(supervisor: Server, request: Request[R], timeout: float | None) -> R:
    """Send ``request`` to ``supervisor`` and return its reply, of the type the request names.

    Raises the error the supervisor refused the request with, or what ``Server.call`` raises.
    """
    # The one place the reply's type is asserted rather than checked: the supervisor's match arm for
    # each request type returns that type (tests/supervisor/test_supervisor_requests.py).
    reply: Any = await supervisor.call(request, timeout)
    return cast("R", reply)


def unknown_request(supervisor: str, request: object) -> UnknownRequest:
    """The error a supervisor refuses a call it has no arm for with."""
    return UnknownRequest(f"{supervisor} takes no request {request!r}")
