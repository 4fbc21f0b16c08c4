"""The registry's control methods over a real control socket: entries belong to the connection that
registered them and vanish when it closes; refusals carry the protocol's error codes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from daemon.cache import CacheConfig, CacheSettings, cache_child_spec
from daemon.cache.component import CACHE
from daemon.component import verb_table
from daemon.control import ControlSettings, control_child_spec
from daemon.ctl.client import ControlReplyError, open_control_client
from daemon.registry import (
    REGISTRY_NAME,
    RegistrySettings,
    keeper_child_spec,
    registry_child_spec,
    registry_named,
)
from daemon.registry.component import REGISTRY
from daemon.verbs.component import CORE
from supervisor import Server, Supervisor
from tests.daemon.test_control_helpers import FakeDaemon, short_tmpdir


@asynccontextmanager
async def running_daemon(cache: CacheSettings | None = None) -> AsyncIterator[Path]:
    """A root with the registry, the caches and a control server serving their methods; the socket."""
    with short_tmpdir() as tmp:
        runtime_dir = tmp / "run"
        settings = cache or CacheSettings(caches={"small": CacheConfig(ttl=60.0, max_size=2)})
        root = Supervisor(
            [keeper_child_spec(), registry_child_spec(RegistrySettings()), cache_child_spec(settings)]
        )
        async with root:
            control = ControlSettings()
            verbs = verb_table([CORE, REGISTRY, CACHE])
            path = control.socket_path(runtime_dir)
            await root.start_child(control_child_spec(control, path, FakeDaemon(root, runtime_dir), verbs))
            yield path


async def test_an_entry_registered_over_a_connection_vanishes_when_it_closes() -> None:
    async with running_daemon() as path, open_control_client(path) as watcher:
        async with open_control_client(path) as service:
            registered = await service.call("registry.register", {"key": "svc", "metadata": {"node": "a"}})
            assert registered["key"] == "svc"
            assert registered["metadata"] == {"node": "a"}
            assert registered["owner"].startswith("task ")
            found = await watcher.call("registry.lookup", {"key": "svc"})
            assert found == registered
        # The service's connection is closed: its task ends, the entry is not live any more.
        registry = registry_named(REGISTRY_NAME)
        async with asyncio.timeout(5):
            while registry.count():
                await registry.settle()
        with pytest.raises(ControlReplyError) as missing:
            await watcher.call("registry.lookup", {"key": "svc"})
        assert missing.value.code == "not_found"
        assert await watcher.call("registry.count") == {"count": 0}


async def test_a_key_held_by_another_connection_is_a_conflict_naming_it() -> None:
    async with running_daemon() as path, open_control_client(path) as a, open_control_client(path) as b:
        await a.call("registry.register", {"key": "svc"})
        with pytest.raises(ControlReplyError) as taken:
            await b.call("registry.register", {"key": "svc"})
        assert taken.value.code == "conflict"
        assert taken.value.data["owner"].startswith("task ")
        with pytest.raises(ControlReplyError) as not_yours:
            await b.call("registry.unregister", {"key": "svc"})
        assert not_yours.value.code == "conflict"
        assert await b.call("registry.unregister", {"key": "svc", "force": True}) == {"removed": True}
        assert await a.call("registry.unregister", {"key": "svc"}) == {"removed": False}


async def test_find_query_list_and_count() -> None:
    async with running_daemon() as path, open_control_client(path) as client:
        server = await Server.start()
        registry_named(REGISTRY_NAME).register(
            "in-process", server, {"capability": "x", "load": {"cpu": 0.9}}
        )
        await client.call(
            "registry.register", {"key": "ext", "metadata": {"capability": "x", "load": {"cpu": 0.1}}}
        )
        found = await client.call("registry.find", {"attribute": "capability", "value": "x"})
        assert sorted(e["key"] for e in found["entries"]) == ["ext", "in-process"]
        assert found["total"] == 2
        low = await client.call(
            "registry.query", {"criteria": [{"path": "load.cpu", "op": "lt", "value": 0.5}], "limit": 10}
        )
        assert [e["key"] for e in low["entries"]] == ["ext"]
        listed = await client.call("registry.list", {"limit": 1})
        assert len(listed["entries"]) == 1
        assert listed["total"] == 2
        assert await client.call("registry.count") == {"count": 2}
        await server.stop()


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("registry.find", {"attribute": "colour", "value": "red"}),
        ("registry.query", {"criteria": [{"path": "", "op": "eq", "value": 1}]}),
        ("registry.query", {"criteria": [{"path": "a", "op": "in", "value": "abc"}]}),
        ("registry.query", {"criteria": [{"path": "a", "op": "like", "value": 1}]}),
        ("registry.register", {"key": ""}),
        ("registry.register", {"key": "k", "metadata": [1, 2]}),
        ("registry.register", {"key": "k", "owner": "someone else"}),
    ],
)
async def test_bad_params_are_invalid_params_and_change_nothing(
    method: str, params: dict[str, object]
) -> None:
    async with running_daemon() as path, open_control_client(path) as client:
        with pytest.raises(ControlReplyError) as refused:
            await client.call(method, params)
        assert refused.value.code == "invalid_params"
        assert await client.call("registry.count") == {"count": 0}


async def test_list_answers_pages_of_bounded_size_that_cover_every_entry_once() -> None:
    # 40 entries of ~20 KB: one reply would be 800 KB; a page stops at about 256 KiB (issue 12).
    bulky = {"blob": "x" * 20_000}
    async with running_daemon() as path, open_control_client(path) as client:
        for i in range(40):
            await client.call("registry.register", {"key": f"bulky-{i:02d}", "metadata": bulky})
        seen: list[str] = []
        offset: int | None = 0
        pages = 0
        while offset is not None:
            reply = await client.call("registry.list", {"offset": offset})
            assert reply["total"] == 40
            seen += [e["key"] for e in reply["entries"]]
            offset = reply["next"]
            pages += 1
        assert sorted(seen) == [f"bulky-{i:02d}" for i in range(40)]
        assert pages >= 3
        small = await client.call("registry.list", {"limit": 5, "offset": 38})
        assert (len(small["entries"]), small["next"]) == (2, None)
        with pytest.raises(ControlReplyError) as too_many:
            await client.call("registry.list", {"limit": 10_001})
        assert too_many.value.code == "invalid_params"
