"""Opening the store ``[flags] store`` names: the one place a new kind of store is added.

>>> import asyncio
>>> asyncio.run(open_store(FlagsSettings(store="memory"), {})).location
'memory'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from daemon.flags.config import FlagsSettings
from daemon.flags.redis_config import RedisStoreSettings
from daemon.flags.sqlite_store import SqliteStore
from daemon.flags.state_dir import database_path
from daemon.flags.store import FlagStore, MemoryStore

__all__ = ["open_store"]


async def open_store(
    settings: FlagsSettings, environ: Mapping[str, str] | None = None, *, database: Path | None = None
) -> FlagStore:
    """The store ``settings.store`` names, open: ``memory``, or ``sqlite`` at ``database`` (default:
    ``database_path(settings, environ)``). Raises ``StoreCorrupt`` or ``StoreFailed``."""
    if settings.store == "memory":
        return MemoryStore()
    if settings.store == "redis":
        from daemon.flags.redis_store import RedisStore  # only when configured: not at a default start

        return RedisStore(settings.redis or RedisStoreSettings())
    path = database or database_path(settings, os.environ if environ is None else environ)
    return await SqliteStore.open(path)
