"""The soak's RSS creep, pinned down: what flag writes cost in memory is bounded.

A soak's RSS rose +0.26 to 0.45 MB/min with the work done; the cause was SQLite's page cache filling
with the flags' history (docs/performance.md, "The soak's RSS creep is SQLite's page cache
filling"): bounded by SQLite's ``cache_size`` (its default, 2,048,000 bytes), after which the RSS
stays flat. This test holds that account to the code: after a warm-up that fills the cache, as many
writes again through the flags server add nothing to SQLite's own memory (``sqlite3_memory_used``,
read through ctypes from the ``_sqlite3`` module) and next to nothing to Python's heap (tracemalloc),
and SQLite's memory stays within its cache's bound. The database lives on /dev/shm when there is one
(tmpfs: ``fdatasync`` costs nothing, so the test takes a couple of seconds, not twenty).
"""

from __future__ import annotations

import _sqlite3
import asyncio
import ctypes
import gc
import os
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.flags.config import FlagsSettings
from daemon.flags.server import Flags

WRITES = 400
"""Writes in each half: the first fills the page cache (200 actors: about 8 KB of history a write)."""
ACTORS = 200
CACHE_BOUND = 2_048_000 + 512 * 1024
"""SQLite's default page cache (``cache_size = -2000``: KiB) plus its own bookkeeping."""


def _sqlite_memory() -> int:
    library = ctypes.CDLL(_sqlite3.__file__)
    library.sqlite3_memory_used.restype = ctypes.c_int64
    return int(library.sqlite3_memory_used())


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        with tempfile.TemporaryDirectory(dir="/dev/shm", prefix="arbord-memory-") as directory:
            yield Path(directory)
    else:
        yield tmp_path


async def _write(flags: Flags, start: int, count: int) -> None:
    for i in range(start, start + count):
        await flags.enable("memory_bound", for_actor=f"actor-{i % ACTORS}", create=True, reason=f"write {i}")


async def _measure(directory: Path) -> tuple[int, int, int, int]:
    """SQLite's memory before, once the cache is full, and after; Python's heap growth meanwhile."""
    flags = await Flags.start(FlagsSettings(path=directory / "flags.db"))
    try:
        before = _sqlite_memory()
        await _write(flags, 0, WRITES)
        gc.collect()
        filled = _sqlite_memory()
        tracemalloc.start()
        try:
            traced_before = tracemalloc.get_traced_memory()[0]
            await _write(flags, WRITES, WRITES)
            gc.collect()
            traced_growth = tracemalloc.get_traced_memory()[0] - traced_before
        finally:
            tracemalloc.stop()
        after = _sqlite_memory()
    finally:
        await flags.stop()
    return before, filled, after, traced_growth


def test_flag_writes_past_the_page_cache_add_no_memory(fast_dir: Path) -> None:
    # One loop is enough (the memory is SQLite's and the server's, not the loop's): asyncio.run.
    before, filled, after, traced_growth = asyncio.run(_measure(fast_dir))
    assert filled - before > 1_000_000, "the warm-up did not fill the page cache: the test proves nothing"
    assert after - before <= CACHE_BOUND
    assert after - filled <= 64 * 1024, f"SQLite's memory grew {after - filled} bytes past its cache"
    assert traced_growth <= 256 * 1024, f"Python's heap grew {traced_growth} bytes over {WRITES} writes"
