"""``use_supervised``: which path a migrated component's call takes, from the flags server's table
(daemon/flags/migration/backend.py). The supervised path serves whenever there is no ready, running
flags server to ask."""

from __future__ import annotations

import asyncio

from daemon.flags import FLAGS_NAME, Flags, MemoryStore
from daemon.flags.config import FlagsSettings
from daemon.flags.migration.backend import use_supervised
from supervisor import Server

FLAG = "use_genserver_span_management"


async def _flags(on: bool) -> Flags:
    settings = FlagsSettings.model_validate({"store": "memory", FLAG: {"default": on}})
    return await Flags.start(settings, store=MemoryStore(), name=FLAGS_NAME)


async def test_the_flag_chooses_while_the_flags_server_runs_and_supervised_after() -> None:
    assert use_supervised(FLAG)
    flags = await _flags(False)
    try:
        assert not use_supervised(FLAG)
        await flags.enable(FLAG, actor="test")
        assert use_supervised(FLAG)
        await flags.disable(FLAG, actor="test")
        assert not use_supervised(FLAG)
    finally:
        await flags.stop()
    assert use_supervised(FLAG)


async def test_a_thread_reads_the_same_flag() -> None:
    # Switched calls come from threads too (the legacy error context is keyed by thread there).
    flags = await _flags(False)
    try:
        assert await asyncio.to_thread(use_supervised, FLAG) is False
    finally:
        await flags.stop()


async def test_another_server_under_the_flags_name_is_not_asked() -> None:
    other = await Server.start(name=FLAGS_NAME)
    try:
        assert use_supervised(FLAG)
    finally:
        await other.stop()


def test_a_flags_server_left_behind_by_a_closed_loop_is_not_asked() -> None:
    # As whereis: a server whose event loop is closed is not alive, even with its name still held.
    loop = asyncio.new_event_loop()
    loop.run_until_complete(_flags(False))
    assert loop.run_until_complete(asyncio.to_thread(use_supervised, FLAG)) is False
    loop.close()
    assert use_supervised(FLAG)
    asyncio.run(_take_the_name_back())


async def _take_the_name_back() -> None:
    """A new flags server replaces the stale one in the name table, and its stop frees the name."""
    await (await _flags(True)).stop()
