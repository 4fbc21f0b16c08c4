"""The soak's periodic faults, injected from outside the daemon, and the server that takes the crashes.

``Victim`` (configured as ``[servers.victim]``, permanent) crashes when it finds the key
``stress.crash`` in the ``default`` cache: the soak puts that key over the control socket
(``cache.put``), so a crash is asked for by a control client, and its supervisor must restart it.
``Faults`` cycles through ``crash``, ``sighup`` (a reload by signal) and ``reload`` (the control
method, whose reply must say ``ok``), one every ``every`` seconds, and counts what it did, so the
judge can hold the daemon to "restarts equal injected crashes".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Final

from daemon.cache import cache_named
from daemon.cache.errors import UnknownCache
from supervisor import Exit, NoProc, Server

__all__ = ["CRASH_KEY", "CYCLE", "VICTIM_PATH", "Faults", "Victim"]

CRASH_KEY: Final = "stress.crash"
VICTIM_PATH: Final = "root/servers/victim"
CYCLE: Final = ("crash", "sighup", "crash", "reload")
POLL: Final = 0.02


class Victim(Server):
    """Crashes (an exception in ``handle_info``) when ``CRASH_KEY`` is in the default cache."""

    async def init(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(POLL, self.send, "poll")

    async def handle_info(self, message: Any) -> None:
        try:
            cache = cache_named("default")
            asked = cache.get(CRASH_KEY) is not None
        except (UnknownCache, NoProc):
            asked = False
        if asked:
            cache.delete(CRASH_KEY)
            raise RuntimeError("crashed on purpose by the soak (bench/stress/faults.py)")
        self._timer = asyncio.get_running_loop().call_later(POLL, self.send, "poll")

    async def terminate(self, reason: Exit) -> None:
        self._timer.cancel()


@dataclass
class Faults:
    """What was injected, by kind, and what went wrong injecting it."""

    every: float
    done: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("crash", "sighup", "reload"), 0))
    failures: list[str] = field(default_factory=list)
    next_at: float = 0.0
    step: int = 0

    def due(self, now: float) -> str | None:
        """The fault to inject now, if one is due (the first one ``every`` seconds after ``start``)."""
        if not self.every or now < self.next_at:
            return None
        self.next_at = now + self.every
        kind = CYCLE[self.step % len(CYCLE)]
        self.step += 1
        return kind
