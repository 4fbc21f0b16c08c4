"""User servers for the end-to-end stage tests (tests/daemon/migration/test_daemon_stages.py names
them in ``[servers.<name>] start``): one that emits sampled events through the switched interface
each time it starts, and a shop whose new path (the supervised registry) is broken, with its traffic.

Not a test module: the daemon subprocess imports it (``PYTHONPATH`` is the repository's root).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from daemon.flags import flags_server
from daemon.registry.switched import REGISTRY_FLAG
from daemon.telemetry.switched_events import batch, emit_once_per
from supervisor import Server, call, telemetry
from supervisor.errors import HandlerExists

__all__ = ["BOOT", "WORK", "Emitter", "Shop", "Traffic"]

BOOT = ("stages", "boot")
WORK = ("stages", "work")
ACTORS = 40


class Emitter(Server):
    """At each start: ``emit_once_per(BOOT)`` twice (an hour's window) and three items of ``WORK``
    (batches of two, an hour's timeout); every emission of either goes to ``record`` as a JSON line.
    Each start is numbered (a line in ``record + ".starts"``), so each item is told apart."""

    async def init(self, record: str) -> None:
        def write(event: Any, measurements: Mapping[str, Any], metadata: Mapping[str, Any], _: Any) -> None:
            line = {"event": list(event), "measurements": dict(measurements), "metadata": dict(metadata)}
            with open(record, "a", encoding="utf-8") as file:
                file.write(json.dumps(line) + "\n")

        try:  # once per daemon: every start's emissions go to the same record
            telemetry.attach_many("stages-emitter", [BOOT, WORK], write)
        except HandlerExists:
            pass
        n = _count_start(record + ".starts")
        emit_once_per(BOOT, 3600.0, None, {"who": "emitter"})
        emit_once_per(BOOT, 3600.0, None, {"who": "emitter"})
        for item in range(3):
            batch(WORK, {"n": 1, "ids": [f"{n}.{item}"]}, 2, 3600.0)


def _count_start(path: str) -> int:
    """Add a line to ``path``; how many it has now (the number of this start)."""
    with open(path, "a", encoding="utf-8") as starts:
        starts.write("start\n")
    with open(path, encoding="utf-8") as starts:
        return sum(1 for _ in starts)


class Shop(Server):
    """Serves ``actor``: emits ``("shop", "checkout")`` for it, then crashes when the registry flag
    sends that actor to the supervised path (the "new path is broken" of a rollout)."""

    async def handle_call(self, request: Any, caller: Any) -> Any:
        telemetry.execute(("shop", "checkout"), {"duration": 0.001}, {"actor": request, "error": False})
        if flags_server().enabled(REGISTRY_FLAG, request):
            raise RuntimeError(f"the supervised registry is broken for {request}")
        return "ok"


class Traffic(Server):
    """Puts the registry flag on a 50 % rollout of actors, then calls the shop for 40 actors in
    turn for as long as it runs."""

    async def init(self) -> None:
        await flags_server().set_percentage(
            REGISTRY_FLAG, 50.0, of="actors", actor="deploy", reason="rollout"
        )
        self._traffic = asyncio.get_running_loop().create_task(self._drive())

    async def _drive(self) -> None:
        while True:
            for n in range(ACTORS):
                try:
                    await call("arbord.servers.shop", f"user-{n}", 1.0)
                except Exception:  # the shop crashed (or is restarting): that is the point
                    await asyncio.sleep(0.001)
                await asyncio.sleep(0.0005)

    async def terminate(self, reason: Any) -> None:
        self._traffic.cancel()
