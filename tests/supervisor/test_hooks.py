"""The internal protocol between servers and supervisors (supervisor/_hooks.py) is complete and closed.

``Server`` and ``Caller`` provide every hook the protocol names, and the supervisor engine's modules touch
no other private member of theirs: a new hook is added to the protocol, documented, or not at all.
"""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from typing import Protocol

import pytest

import supervisor
from supervisor._hooks import CallerHooks, SupervisorHooks
from supervisor._server import Caller, Server

ENGINE_MODULES = [
    "_children.py",
    "_child_records.py",
    "_dynamic.py",
    "_engine.py",
    "_monitors.py",
    "_requests.py",
    "_runtime.py",
    "_supervisor.py",
]


class _Empty(Protocol):
    pass


def _members(protocol: type) -> set[str]:
    names = set(vars(protocol)) | set(getattr(protocol, "__annotations__", {}))
    return {n for n in names - set(vars(_Empty)) if n.startswith("_") and not n.startswith("__")}


def _private_members(cls: type) -> set[str]:
    names = set(dir(cls))
    for klass in cls.__mro__:
        names.update(getattr(klass, "__slots__", ()))
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


async def test_server_and_caller_provide_every_hook() -> None:
    # Checked by mypy too: these assignments type-check only if the classes match the protocols.
    hooks: SupervisorHooks = Server()
    caller_hooks: CallerHooks = Caller(asyncio.get_running_loop().create_future())
    assert hooks is not None
    assert caller_hooks is not None
    assert _members(SupervisorHooks) <= _private_members(Server)
    assert _members(CallerHooks) <= _private_members(Caller)


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_the_engine_touches_only_the_hooks(module: str) -> None:
    allowed = _members(SupervisorHooks) | _members(CallerHooks)
    internals = _private_members(Server) | _private_members(Caller)
    path = Path(supervisor.__file__).parent / module
    used = {
        node.attr
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Attribute) and node.attr in internals
    }
    assert used - allowed == set()
