"""The caches' control methods over a real control socket: JSON values, TTLs, owned entries that go
with their connection, stats, listing, and the errors of bad requests."""

from __future__ import annotations

import asyncio

import pytest

from daemon.cache import cache_named
from daemon.ctl.client import ControlReplyError, open_control_client
from tests.daemon.test_registry_methods import running_daemon


async def test_put_get_delete_round_trip_json_values() -> None:
    async with running_daemon() as path, open_control_client(path) as client:
        value = {"user": "ada", "roles": ["admin"], "n": 1.5, "ok": True, "none": None}
        put = await client.call("cache.put", {"key": "session", "value": value, "ttl": 30})
        assert put["key"] == "session"
        assert 0 < put["ttl"] <= 30
        assert await client.call("cache.get", {"key": "session"}) == {"key": "session", "value": value}
        assert await client.call("cache.delete", {"key": "session"}) == {"deleted": True}
        with pytest.raises(ControlReplyError) as missing:
            await client.call("cache.get", {"key": "session"})
        assert missing.value.code == "not_found"
        assert await client.call("cache.delete", {"key": "session"}) == {"deleted": False}


async def test_named_caches_and_an_unknown_one() -> None:
    async with running_daemon() as path, open_control_client(path) as client:
        await client.call("cache.put", {"cache": "small", "key": "k", "value": 1})
        with pytest.raises(ControlReplyError):
            await client.call("cache.get", {"key": "k"})  # the default cache is another one
        assert (await client.call("cache.get", {"cache": "small", "key": "k"}))["value"] == 1
        with pytest.raises(ControlReplyError) as unknown:
            await client.call("cache.get", {"cache": "nope", "key": "k"})
        assert unknown.value.code == "not_found"
        assert unknown.value.data["cache"] == "nope"


async def test_an_owned_entry_goes_with_its_connection() -> None:
    async with running_daemon() as path:
        async with open_control_client(path) as client:
            await client.call("cache.put", {"key": "mine", "value": 1, "owned": True})
            await client.call("cache.put", {"key": "kept", "value": 2})
        cache = cache_named("default")
        async with asyncio.timeout(5):
            while "mine" in cache:
                await cache.settle()
        assert cache.keys() == ["kept"]


async def test_stats_list_and_clear() -> None:
    async with running_daemon() as path, open_control_client(path) as client:
        for key in ("a", "b", "c"):  # the small cache holds 2: "a" is evicted
            await client.call("cache.put", {"cache": "small", "key": key, "value": key, "ttl": 60})
        listed = await client.call("cache.list", {"cache": "small"})
        assert [k["key"] for k in listed["keys"]] == ["b", "c"]
        assert listed["total"] == 2
        assert all(0 < k["ttl"] <= 60 for k in listed["keys"])
        stats = await client.call("cache.stats", {"cache": "small"})
        assert stats["small"]["sets"] == 3
        assert stats["small"]["evictions"] == 1
        everything = await client.call("cache.stats")
        assert sorted(everything) == ["default", "small"]
        assert await client.call("cache.clear", {"cache": "small"}) == {"cleared": 2}
        assert (await client.call("cache.stats", {"cache": "small"}))["small"]["size"] == 0


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("cache.put", {"key": "k", "value": 1, "ttl": 0}),
        ("cache.put", {"key": "k", "value": 1, "ttl": -5}),
        ("cache.put", {"key": "", "value": 1}),
        ("cache.put", {"key": "k"}),
        ("cache.put", {"key": "k", "value": 1, "owner": "x"}),
        ("cache.get", {"key": ["k"]}),
        ("cache.list", {"limit": 0}),
    ],
)
async def test_bad_params_are_invalid_params(method: str, params: dict[str, object]) -> None:
    async with running_daemon() as path, open_control_client(path) as client:
        with pytest.raises(ControlReplyError) as refused:
            await client.call(method, params)
        assert refused.value.code == "invalid_params"
        assert len(cache_named("default")) == 0


async def test_list_pages_with_offset_and_next() -> None:
    async with running_daemon() as path, open_control_client(path) as client:
        for key in ("a", "b", "c"):
            await client.call("cache.put", {"key": key, "value": 1})
        first = await client.call("cache.list", {"limit": 2})
        assert ([k["key"] for k in first["keys"]], first["total"], first["next"]) == (["a", "b"], 3, 2)
        rest = await client.call("cache.list", {"limit": 2, "offset": first["next"]})
        assert ([k["key"] for k in rest["keys"]], rest["next"]) == (["c"], None)


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("cache.put", {"key": "k", "value": 1, "ttl": "5"}, "ttl"),
        ("cache.put", {"key": "k", "value": 1, "ttl": True}, "ttl"),
        ("cache.put", {"key": "k", "value": 1, "owned": "yes"}, "owned"),
        ("cache.put", {"key": "k", "value": 1, "owned": 1}, "owned"),
        ("cache.put", {"key": 5, "value": 1}, "key"),
        ("cache.list", {"limit": "10"}, "limit"),
        ("cache.list", {"limit": 10.0}, "limit"),
        ("registry.register", {"key": "k", "metadata": "{}"}, "metadata"),
        ("registry.list", {"limit": True}, "limit"),
        ("tree", {"depth": "1"}, "depth"),
    ],
)
async def test_wire_params_are_strictly_typed(method: str, params: dict[str, object], field: str) -> None:
    # The wire is JSON: a value already has its type, and a string or a boolean is not a number.
    async with running_daemon() as path, open_control_client(path) as client:
        with pytest.raises(ControlReplyError) as refused:
            await client.call(method, params)
        assert refused.value.code == "invalid_params"
        assert [problem["loc"][0] for problem in refused.value.data["errors"]] == [field]
        assert len(cache_named("default")) == 0


async def test_an_integer_is_still_a_number_of_seconds_on_the_wire() -> None:
    async with running_daemon() as path, open_control_client(path) as client:
        put = await client.call("cache.put", {"key": "k", "value": 1, "ttl": 5})
        assert 0 < put["ttl"] <= 5
