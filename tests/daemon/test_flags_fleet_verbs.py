"""The fleet verbs (``flags.status``, ``flags.wait``) in process, with a local store and with the
shared one on a real redis-server, and ``arborctl``'s ``--name VALUE`` words and ``--timeout``
bound for a verb that takes one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import pytest

from daemon.ctl.arborctl import _bounded, _param_options, parser
from daemon.flags import FLAGS_NAME, Flags, MemoryStore
from daemon.flags.config import FlagsSettings
from daemon.flags.fleet_methods import WaitParams, fleet_methods
from daemon.flags.redis_config import RedisStoreSettings
from daemon.flags.redis_store import NotConverged, RedisStore, StoreEvent
from daemon.verbs.method import MethodContext, NoParams
from supervisor.testing import capture
from tests.daemon.redis_server import RedisServer, start_redis_server

pytestmark = pytest.mark.timeout(60)

CONTEXT = cast(MethodContext, None)  # the fleet verbs read nothing of the connection
VERBS = {m.name: m for m in fleet_methods()}


async def flags_status(params: NoParams, context: MethodContext) -> Any:
    return await VERBS["flags.status"].handler(params, context)  # type: ignore[misc]


async def flags_wait(params: WaitParams, context: MethodContext) -> Any:
    return await VERBS["flags.wait"].handler(params, context)  # type: ignore[misc]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    yield from start_redis_server()


@pytest.fixture
async def local() -> AsyncIterator[Flags]:
    server = await Flags.start(FlagsSettings(store="memory"), store=MemoryStore(), name=FLAGS_NAME)
    yield server
    await server.stop()


async def test_with_a_local_store_this_daemon_is_the_fleet(local: Flags) -> None:
    record = await local.enable("x", create=True)
    status = await flags_status(NoParams(), CONTEXT)
    assert status == {
        "store": "memory",
        "location": "memory",
        "revision": record.revision,
        "in_sync": True,
        "stale": False,
        "read_only": None,
    }
    reply = await flags_wait(WaitParams(revision=record.revision, timeout=5), CONTEXT)
    assert reply["nodes"] == [{"node": "local", "revision": record.revision, "stale": False}]
    with pytest.raises(NotConverged, match="no other daemon shares it"):
        await flags_wait(WaitParams(revision=record.revision + 1, timeout=5), CONTEXT)


async def test_with_the_shared_store_status_and_wait_speak_for_the_fleet(redis_server: RedisServer) -> None:
    settings = RedisStoreSettings(url=redis_server.url, heartbeat=0.05)
    other = RedisStore(settings, node="other")
    with capture(StoreEvent.IN_SYNC) as events:
        server = await Flags.start(
            FlagsSettings(store="memory"), store=RedisStore(settings, node="me"), name=FLAGS_NAME
        )
        await other.load()
        other.subscribe(lambda record: None)
        async with asyncio.timeout(10):
            await events.wait(StoreEvent.IN_SYNC, count=2)
    try:
        record = await server.enable("x", create=True)
        reply: dict[str, Any] = await flags_wait(WaitParams(revision=record.revision, timeout=10), CONTEXT)
        assert [n["node"] for n in reply["nodes"]] == ["me", "other"]
        status = await flags_status(NoParams(), CONTEXT)
        assert status["node"] == "me"
        assert status["revision"] == record.revision
        assert status["in_sync"] is True
        await other.close()  # gone: it no longer holds anything up
        reply = await flags_wait(WaitParams(revision=record.revision, timeout=10), CONTEXT)
        assert [n["node"] for n in reply["nodes"]] == ["me"]
        with pytest.raises(NotConverged, match="me at 1"):
            await flags_wait(WaitParams(revision=record.revision + 1, timeout=0.2), CONTEXT)
    finally:
        await other.close()
        await server.stop()


def test_unknown_double_dash_options_are_param_words() -> None:
    known = parser()._option_string_actions
    words = ["--json", "flags", "wait", "--revision", "5", "--timeout", "3", "--dry-run=true"]
    assert _param_options(words, known) == [
        "--json",
        "flags",
        "wait",
        "revision=5",
        "--timeout",
        "3",
        "dry_run=true",
    ]
    assert _param_options(["--socket=/x", "ping"], known) == ["--socket=/x", "ping"]


def test_a_verb_that_takes_a_timeout_gets_arborctls_a_little_shorter() -> None:
    schema: dict[str, Any] = {"properties": {"revision": {}, "timeout": {}}}
    params: dict[str, Any] = {"revision": 3}
    _bounded(params, schema, 30.0)
    assert params == {"revision": 3, "timeout": 29.0}
    given = {"revision": 3, "timeout": 5}
    _bounded(given, schema, 30.0)
    assert given["timeout"] == 5
    other: dict[str, Any] = {}
    _bounded(other, {"properties": {"key": {}}}, 30.0)
    assert other == {}
