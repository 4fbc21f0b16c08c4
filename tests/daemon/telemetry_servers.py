"""User servers that emit sampled events, for the real-daemon tests of telemetry
(tests/daemon/test_telemetry_daemon.py names them in ``[servers.<name>] start``).

Not a test module: the daemon subprocess imports it (``PYTHONPATH`` is the repository's root).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from daemon.telemetry import Emitter, batch, emit_once_per
from supervisor import Exit, Server, telemetry

__all__ = ["Batcher", "Ticker"]


class Batcher(Server):
    """Batches ``items`` items of ``("user", "work")`` that only a stop will flush (size 1000, one
    hour), and records every flushed batch as a JSON line in ``record``."""

    async def init(self, record: str = "", items: int = 3) -> None:
        def write(
            event: Any, measurements: Mapping[str, Any], metadata: Mapping[str, Any], config: Any
        ) -> None:
            with open(record, "a", encoding="utf-8") as file:
                file.write(
                    json.dumps({"measurements": dict(measurements), "metadata": dict(metadata)}) + "\n"
                )

        telemetry.attach("test-batcher-record", ("user", "work"), write)
        for n in range(items):
            batch(("user", "work"), {"n": 1, "ids": [n]}, 1000, 3600.0)
        emit_once_per(("user", "boot"), 3600.0)
        emit_once_per(("user", "boot"), 3600.0)


class Ticker(Server):
    """Emits ``("user", "tick")`` every ``every`` seconds, for ``arborctl telemetry tap``."""

    async def init(self, every: float = 0.01) -> None:
        self._every = every
        self._emitter = Emitter(("user",))
        self._tick = asyncio.get_running_loop().call_later(every, self.send, "tick")

    async def handle_info(self, message: Any) -> None:
        if message == "tick":
            self._emitter.emit_event("tick", {"n": 1}, {"who": "ticker"})
            self._tick = asyncio.get_running_loop().call_later(self._every, self.send, "tick")

    async def terminate(self, reason: Exit) -> None:
        self._tick.cancel()
