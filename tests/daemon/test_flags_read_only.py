"""The flags turn read-only when their store cannot persist a write, and back by themselves once a
probe write succeeds (daemon/flags/read_only.py; the fault matrix's F10, whose process-level tests
are in tests/faults/test_flag_faults.py)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from daemon.flags import Flags, MemoryStore, StoreFailed
from daemon.flags.config import FlagsSettings
from daemon.flags.errors import FlagsReadOnly
from daemon.flags.gates import GateOp
from daemon.flags.sqlite_store import SqliteStore
from daemon.verbs.render import render_status
from supervisor.testing import wait_for


async def _flags(store: MemoryStore | SqliteStore, probe_interval: float) -> Flags:
    settings = FlagsSettings.model_validate({"store": "memory", "probe_interval": probe_interval, "beta": {}})
    return await Flags.start(settings, store=store)


@pytest.fixture
async def slow_probe() -> AsyncIterator[tuple[Flags, MemoryStore]]:
    """A server whose first probe is an hour away: whatever happens meanwhile is not the probe's."""
    store = MemoryStore()
    flags = await _flags(store, 3600.0)
    yield flags, store
    await flags.stop()


async def test_a_write_the_disk_refuses_turns_the_flags_read_only_and_changes_nothing(
    slow_probe: tuple[Flags, MemoryStore], caplog: pytest.LogCaptureFixture
) -> None:
    flags, store = slow_probe
    await flags.enable("beta")
    store.full = True
    with pytest.raises(FlagsReadOnly, match="did not commit: it is told to be full; the flags are read-only"):
        await flags.disable("beta")
    assert flags.enabled("beta") is True
    assert flags.revision == 1
    assert flags.alive
    status = flags.read_only_status()
    assert status is not None
    assert status["reason"] == "the memory store did not commit: it is told to be full"
    assert (status["probes"], status["refused"]) == (0, 0)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "the flags are read-only: the memory store did not commit: it is told to be full; writes are"
        " refused until a probe write succeeds (every 3600 s)"
    ]


async def test_while_read_only_writes_are_refused_without_touching_the_store(
    slow_probe: tuple[Flags, MemoryStore],
) -> None:
    flags, store = slow_probe
    store.full = True
    with pytest.raises(FlagsReadOnly):
        await flags.enable("beta")
    store.full = False  # the store would take it now: only a probe may say so
    for _ in range(3):
        with pytest.raises(FlagsReadOnly, match=r"read-only since .*: nothing was changed; the next probe"):
            await flags.enable("beta")
        with pytest.raises(FlagsReadOnly):
            await flags.write_set([("beta", GateOp.enable())])
    assert (await store.load()).revision == 0
    assert flags.enabled("beta") is False
    status = flags.read_only_status()
    assert status is not None
    assert status["refused"] == 6


async def test_a_probe_that_succeeds_makes_the_flags_writable_again_by_itself(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    flags = await _flags(store, 0.01)
    try:
        store.full = True
        with pytest.raises(FlagsReadOnly):
            await flags.enable("beta")
        await wait_for(lambda: (flags.read_only_status() or {}).get("probes", 0) >= 2, 10.0)  # still full
        assert flags.read_only is not None
        store.full = False
        await wait_for(lambda: flags.read_only is None, 10.0)
        assert (await flags.enable("beta")).revision == 1
        assert flags.enabled("beta") is True
    finally:
        await flags.stop()
    assert any(r.getMessage().startswith("the flags are writable again after ") for r in caplog.records)


async def test_a_probe_failing_otherwise_keeps_the_flags_read_only_and_the_server_up() -> None:
    store = MemoryStore()
    flags = await _flags(store, 0.01)
    try:
        store.full = True
        with pytest.raises(FlagsReadOnly):
            await flags.enable("beta")
        store.full, store.fail_next = False, 1  # the next probe meets a lock, not a full disk
        await wait_for(lambda: flags.read_only is None, 10.0)
        assert flags.alive  # the failed probe was one more try, not a crash
        assert store.fail_next == 0
        assert (await flags.enable("beta")).revision == 1
    finally:
        await flags.stop()


async def test_a_failure_that_is_not_the_disks_does_not_turn_the_flags_read_only(
    slow_probe: tuple[Flags, MemoryStore],
) -> None:
    flags, store = slow_probe
    store.fail_next = 1  # a lost connection, a conflict: StoreFailed, not FlagsReadOnly
    with pytest.raises(StoreFailed) as failed:
        await flags.enable("beta")
    assert not isinstance(failed.value, FlagsReadOnly)
    assert flags.read_only is None
    await flags.enable("beta")


async def test_sqlite_out_of_pages_is_read_only_and_its_probe_still_writes(tmp_path: Path) -> None:
    # A real SQLITE_FULL ("database or disk is full"): the file may grow by no page.
    store = await SqliteStore.open(tmp_path / "flags.db")
    flags = await _flags(store, 3600.0)
    try:
        await flags.enable("beta")

        def full() -> None:
            assert store._db is not None
            pages = store._db.execute("PRAGMA page_count").fetchone()[0]
            store._db.execute(f"PRAGMA max_page_count = {pages}")

        await store._run(full)
        with pytest.raises(FlagsReadOnly, match="did not commit: database or disk is full"):
            await flags.disable("beta", reason="x" * 100_000)
        assert flags.read_only is not None
        assert flags.enabled("beta") is True
        await store.probe()  # it rewrites the header page, which exists: it commits
    finally:
        await flags.stop()


async def test_the_status_line_says_degraded_while_read_only() -> None:
    health = {
        "ok": False,
        "flags_read_only": {"seconds": 75.0, "reason": "disk full", "probes": 9, "refused": 2},
    }
    assert render_status({"health": health}) == (
        "health: DEGRADED: flags read-only for 1m15s (disk full), 9 probes, 2 writes refused"
    )
    assert render_status({"health": {"ok": True}}) == "health: ok"
