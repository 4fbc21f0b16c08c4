"""User servers for the end-to-end rollback test (tests/daemon/migration/test_daemon_rollback.py names
them in ``[servers.<name>] start``): a shop that serves actors and emits one outcome event per request,
and the traffic that calls it.

Not a test module: the daemon subprocess imports it (``PYTHONPATH`` is the repository's root).
"""

from __future__ import annotations

import asyncio
from typing import Any

from daemon.flags import flags_server
from supervisor import Server, call, telemetry

__all__ = ["Shop", "Traffic"]

FLAG = "new_checkout"
ACTORS = 40


class Shop(Server):
    """Serves ``(actor, round)``: emits ``("shop", "checkout")`` for the actor, then crashes when its
    fault says so. ``fault``: ``"treatment"`` (the new path is broken: it crashes for every actor the
    flag serves) or ``"both"`` (a fault of its own: it crashes on odd rounds, whatever the arm)."""

    async def init(self, fault: str) -> None:
        self.fault = fault

    async def handle_call(self, request: Any, caller: Any) -> Any:
        actor, round_ = request
        telemetry.execute(("shop", "checkout"), {"duration": 0.001}, {"actor": actor, "error": False})
        if self.fault == "treatment" and flags_server().enabled(FLAG, actor):
            raise RuntimeError(f"the new checkout is broken for {actor}")
        if self.fault == "both" and round_ % 2:
            raise RuntimeError(f"the shop fails on odd rounds ({actor})")
        return "ok"


class Traffic(Server):
    """Puts ``new_checkout`` on a 50 % rollout of actors, then calls the shop for 40 actors in turn,
    round after round, for as long as it runs (a crashed shop's call fails; the next goes on)."""

    async def init(self) -> None:
        await flags_server().set_percentage(FLAG, 50.0, of="actors", actor="deploy", reason="rollout")
        self._traffic = asyncio.get_running_loop().create_task(self._drive())

    async def _drive(self) -> None:
        round_ = 0
        while True:
            for n in range(ACTORS):
                try:
                    await call("arbord.servers.shop", (f"user-{n}", round_), 1.0)
                except Exception:  # the shop crashed (or is restarting): that is the point
                    await asyncio.sleep(0.001)
                await asyncio.sleep(0.0005)
            round_ += 1

    async def terminate(self, reason: Any) -> None:
        self._traffic.cancel()
