"""The registry and the caches in the real daemon (``python -m daemon run``), through its control
socket: configuration reaches them, a connection's entries live exactly as long as it does, through
a reload of the registry's settings too."""

from __future__ import annotations

import asyncio

import pytest

from daemon.ctl.client import ControlReplyError, open_control_client
from tests.daemon.conftest import StartArbord

CONFIG = """
[registry]
indexed_attributes = ["capability", "zone"]

[cache.caches.sessions]
ttl = 30.0
max_size = 2
"""


async def test_a_service_registered_over_the_socket_lives_as_long_as_its_connection(
    start_arbord: StartArbord,
) -> None:
    daemon = start_arbord(CONFIG)
    async with open_control_client(daemon.control_socket) as watcher:
        async with open_control_client(daemon.control_socket) as service:
            await service.call("registry.register", {"key": "web-1", "metadata": {"zone": "eu"}})
            found = await watcher.call("registry.find", {"attribute": "zone", "value": "eu"})
            assert [e["key"] for e in found["entries"]] == ["web-1"]
        async with asyncio.timeout(10):  # the daemon sees the connection close, the entry goes
            while (await watcher.call("registry.count"))["count"]:
                continue  # each poll is a round trip to the daemon
        with pytest.raises(ControlReplyError) as missing:
            await watcher.call("registry.lookup", {"key": "web-1"})
        assert missing.value.code == "not_found"
        with pytest.raises(ControlReplyError) as unindexed:
            await watcher.call("registry.find", {"attribute": "node", "value": "a"})
        assert unindexed.value.code == "invalid_params"


async def test_a_reload_of_the_registry_settings_keeps_a_connection_s_entries(
    start_arbord: StartArbord,
) -> None:
    daemon = start_arbord(CONFIG)
    async with open_control_client(daemon.control_socket) as watcher:
        async with open_control_client(daemon.control_socket) as service:
            params = {"key": "web-1", "metadata": {"zone": "eu", "node": "a"}}
            await service.call("registry.register", params)
            daemon.write_config(CONFIG.replace('["capability", "zone"]', '["node"]'))
            reply = await watcher.call("reload")
            assert (reply["ok"], reply["restarted"]) == (True, ["registry"])
            # The new registry holds the entry, indexed under the new attributes.
            assert (await watcher.call("registry.lookup", {"key": "web-1"}))["key"] == "web-1"
            found = await watcher.call("registry.find", {"attribute": "node", "value": "a"})
            assert [e["key"] for e in found["entries"]] == ["web-1"]
            with pytest.raises(ControlReplyError) as unindexed:
                await watcher.call("registry.find", {"attribute": "zone", "value": "eu"})
            assert unindexed.value.code == "invalid_params"
        async with asyncio.timeout(10):  # and it monitors the connection: its close removes the entry
            while (await watcher.call("registry.count"))["count"]:
                continue  # each poll is a round trip to the daemon
        with pytest.raises(ControlReplyError) as missing:
            await watcher.call("registry.lookup", {"key": "web-1"})
        assert missing.value.code == "not_found"


async def test_configured_caches_serve_over_the_socket(start_arbord: StartArbord) -> None:
    daemon = start_arbord(CONFIG)
    async with open_control_client(daemon.control_socket) as client:
        for key in ("a", "b", "c"):
            await client.call("cache.put", {"cache": "sessions", "key": key, "value": {"k": key}})
        assert (await client.call("cache.get", {"cache": "sessions", "key": "c"}))["value"] == {"k": "c"}
        stats = await client.call("cache.stats")
        assert sorted(stats) == ["default", "sessions"]
        assert stats["sessions"]["evictions"] == 1
        assert stats["sessions"]["size"] == 2


async def test_an_entry_with_more_indexed_values_than_the_cap_is_refused_at_once(
    start_arbord: StartArbord,
) -> None:
    # Issue 12: 20,000 distinct values of an indexed attribute held the daemon's loop ~9 s at
    # registration and again at disconnect. Refused now, before anything is written; at the cap
    # the entry registers and goes with its connection.
    daemon = start_arbord(CONFIG)
    many = [f"c{n}" for n in range(20_000)]
    async with open_control_client(daemon.control_socket) as watcher:
        async with open_control_client(daemon.control_socket) as service:
            with pytest.raises(ControlReplyError) as refused:
                await service.call("registry.register", {"key": "many", "metadata": {"capability": many}})
            assert refused.value.code == "invalid_params"
            assert "registry.max_indexed_values is 1024" in refused.value.message
            at_cap = {"capability": many[:1023], "zone": "eu"}  # 1,024 values
            await service.call("registry.register", {"key": "at-cap", "metadata": at_cap})
            found = await watcher.call("registry.find", {"attribute": "capability", "value": "c1022"})
            assert [e["key"] for e in found["entries"]] == ["at-cap"]
        async with asyncio.timeout(10):  # the daemon sees the connection close, the entry goes
            while (await watcher.call("registry.count"))["count"]:
                continue  # each poll is a round trip to the daemon
        assert await watcher.call("ping") == {"pong": True}
