"""``flags.history`` is paged as the list verbs are (daemon/verbs/paging.py), back in time: a page of
at most ``limit`` changes and about ``PAGE_BYTES`` of JSON, ``total`` and ``next``. It used to answer
``limit=10000`` with every change in one reply (8,653 changes, 13 MB held until the peer read it)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from daemon.flags import FLAGS_NAME, Flags, MemoryStore
from daemon.flags.config import FlagsSettings
from daemon.flags.gates import FlagState, GateOp, apply
from daemon.flags.methods import HistoryParams, flags_methods
from daemon.flags.sqlite_store import SqliteStore
from daemon.flags.store import Change, FlagStore
from daemon.verbs.method import MethodContext
from daemon.verbs.paging import PAGE_BYTES
from daemon.verbs.render import render_result
from daemon.verbs.words import build_params
from tests.daemon.redis_server import RedisServer, start_redis_server
from tests.daemon.test_flags_redis import _daemon as redis_daemon
from tests.daemon.test_flags_redis import _settings as redis_settings

CONTEXT = cast(MethodContext, None)  # flags.history reads nothing of the connection
HISTORY = next(m for m in flags_methods() if m.name == "flags.history")


async def history(**params: Any) -> dict[str, Any]:
    return await HISTORY.handler(HistoryParams.model_validate(params), CONTEXT)  # type: ignore[no-any-return,misc]


@pytest.fixture
async def flags() -> AsyncIterator[Flags]:
    server = await Flags.start(FlagsSettings(store="memory"), store=MemoryStore(), name=FLAGS_NAME)
    yield server
    await server.stop()


async def written(flags: Flags, count: int, *, reason: str = "") -> None:
    """``count`` changes: ``a`` and ``b`` in turn (``a`` on the odd revisions)."""
    for n in range(count):
        await flags.write("ab"[n % 2], GateOp.enable(for_actor=f"u{n}"), reason=reason or None, create=True)


async def test_the_default_page_is_the_newest_50_oldest_first_with_the_offset_of_the_older(
    flags: Flags,
) -> None:
    await written(flags, 120)
    first = await history()
    assert [c["revision"] for c in first["changes"]] == list(range(71, 121))
    assert (first["total"], first["next"], first["revision"]) == (120, 50, 120)
    second = await history(offset=first["next"])
    assert [c["revision"] for c in second["changes"]] == list(range(21, 71))
    last = await history(offset=second["next"])
    assert [c["revision"] for c in last["changes"]] == list(range(1, 21))
    assert last["next"] is None


async def test_one_flag_pages_through_its_own_changes(flags: Flags) -> None:
    await written(flags, 30)
    newest = await history(flag="a", limit=10)  # a: the 15 odd revisions
    assert [c["revision"] for c in newest["changes"]] == list(range(11, 30, 2))
    assert (newest["total"], newest["next"]) == (15, 10)
    older = await history(flag="a", limit=10, offset=10)
    assert [c["revision"] for c in older["changes"]] == [1, 3, 5, 7, 9]
    assert older["next"] is None


async def test_a_large_limit_is_cut_at_the_byte_budget_and_every_change_is_paged_once(flags: Flags) -> None:
    await written(flags, 600, reason="r" * 1000)  # 1.4-6 KB of JSON each (the states grow)
    seen: list[int] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        page = await history(limit=10_000, offset=offset)
        # The change that crosses the budget is the last one read (the oldest of the page).
        assert len(json.dumps(page["changes"][1:], separators=(",", ":"))) < PAGE_BYTES
        seen = [c["revision"] for c in page["changes"]] + seen
        offset = page["next"]
        pages += 1
    assert seen == list(range(1, 601))
    assert pages >= 3  # 600 changes under a limit of 10 000: the bytes cut every page but the last


def test_the_words_of_arborctl_and_the_console_name_the_page() -> None:
    schema = HISTORY.describe()["params"]
    assert build_params(["beta", "offset=50"], schema) == {"flag": "beta", "offset": 50}
    assert build_params(["beta", "20", "40"], schema) == {"flag": "beta", "limit": 20, "offset": 40}


def test_a_page_says_how_many_of_how_many_and_where_the_older_page_starts() -> None:
    change = {
        "revision": 3,
        "when": "2026-11-24T10:00:00.000+00:00",
        "flag": "beta",
        "op": {"verb": "percentage", "value": {"value": 25.0, "of": "actors", "group_id": "beta"}},
        "actor": "api",
        "reason": "ramp",
    }
    shown = render_result("flags.history", {"changes": [change], "total": 3, "next": 1, "revision": 3})
    assert shown.splitlines()[1].split() == [
        "3", "2026-11-24T10:00:00.000+00:00", "beta", "percentage", "25%", "of", "actors", "api", "ramp",
    ]  # fmt: skip
    assert shown.splitlines()[-1] == "(1 of 3 changes; older: offset=1)"
    everything = render_result("flags.history", {"changes": [change], "total": 1, "next": None})
    assert len(everything.splitlines()) == 2  # the whole trail: no count line
    assert render_result("flags.history", {"changes": [], "total": 0, "next": None}) == "no changes"


# --- the stores: skip and count ---------------------------------------------------------------------


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    yield from start_redis_server()


async def _store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[FlagStore, Flags | None]:
    """The store, and the flags server that opened it (a Redis store follows its channel through one;
    stopping that server closes the store)."""
    if kind == "memory":
        return MemoryStore(), None
    if kind == "sqlite":
        return await SqliteStore.open(tmp_path / "flags.db"), None
    server: RedisServer = request.getfixturevalue("redis_server")
    daemon = await redis_daemon("paging", redis_settings(server))
    return daemon.store, daemon.flags


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
async def test_each_store_skips_the_newest_and_counts(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store, opened_by = await _store(kind, tmp_path, request)
    try:
        for n in range(10):
            flag = "ab"[n % 2]
            old = FlagState(flag)
            await store.commit(Change(flag, GateOp.enable(), old, apply(old, GateOp.enable()), "t"))
        assert [r.revision for r in await store.history(limit=3, skip=2)] == [6, 7, 8]
        assert [r.revision for r in await store.history("a", limit=2, skip=1)] == [5, 7]
        assert [r.revision for r in await store.history("b", skip=3)] == [2, 4]
        assert [r.revision for r in await store.history(limit=5, skip=9)] == [1]
        assert (await store.count(), await store.count("a"), await store.count("nope")) == (10, 5, 0)
    finally:
        if opened_by is None:
            await store.close()
        else:
            await opened_by.stop()
