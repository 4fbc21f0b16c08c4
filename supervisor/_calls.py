"""Calling a server by its registered name, resolved at the moment of the call (OTP's
``gen_server:call(Name, Request)``).

``whereis(name).call(...)`` breaks while a supervisor restarts the server: ``whereis`` returns None
and the caller gets an ``AttributeError``. ``call(name, ...)`` instead raises ``NoProc``, the error a
caller already handles for a server that is gone, and always reaches the current incarnation:

>>> import asyncio
>>> from supervisor import ChildSpec, NoProc, Server, Supervisor, call
>>> class Echo(Server):
...     async def handle_call(self, request: object, caller: object) -> object:
...         return request
>>> async def demo() -> list[object]:
...     async with Supervisor([ChildSpec("echo", Echo, name="echo")]):
...         answers = [await call("echo", "hello")]
...     try:
...         await call("echo", "again")
...     except NoProc as error:
...         answers.append(type(error).__name__)
...     return answers
>>> asyncio.run(demo())
['hello', 'NoProc']
"""

from __future__ import annotations

from typing import Any

from supervisor._runtime import whereis
from supervisor._server import DEFAULT_CALL_TIMEOUT, Server
from supervisor.errors import NoProc

__all__ = ["call", "cast"]


def _resolve(target: str | Server, operation: str) -> Server:
    if not isinstance(target, str):
        return target
    server = whereis(target)
    if server is None:
        raise NoProc(f"{operation} to {target!r}: no live server is registered under that name")
    return server


async def call(target: str | Server, request: Any, timeout: float | None = DEFAULT_CALL_TIMEOUT) -> Any:
    """``target.call(request, timeout)``, where ``target`` may be a registered name.

    A name is resolved now, so a restarted server is reached in its new incarnation. Raises
    ``NoProc`` when no live server holds the name, and otherwise exactly what ``Server.call`` raises.
    """
    return await _resolve(target, "call").call(request, timeout)


def cast(target: str | Server, message: Any) -> None:
    """``target.cast(message)``, where ``target`` may be a registered name. Like OTP's
    ``gen_server:cast``, it always returns: a message to a name nobody holds is dropped."""
    try:
        server = _resolve(target, "cast")
    except NoProc:
        return
    server.cast(message)
