"""User servers that fail on purpose for the fault suite's real daemons (``[servers.<name>] start``
names them; the daemon subprocess imports this module, ``PYTHONPATH`` being the repository's root).

Not a test module. The stop and start misbehaviours (a ``terminate`` that swallows cancellation, one
that blocks the loop, an ``init`` that never returns) are tests/daemon/lifecycle_servers.py's.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from supervisor import TIMEOUT, Server

__all__ = ["STALL_POLL", "Staller"]

STALL_POLL = 0.05
"""How often a ``Staller`` looks for its trigger file, in seconds."""


class Staller(Server):
    """Blocks the event loop (``time.sleep``, as a slow synchronous call would) once the file
    ``trigger`` appears: the test creates it after ``READY=1``. The file is removed first, so the
    restarted daemon runs normally."""

    async def init(self, trigger: str) -> None:
        self.trigger = Path(trigger)
        self.timeout_after(STALL_POLL)

    async def handle_info(self, message: Any) -> None:
        if message is TIMEOUT and self.trigger.exists():
            os.unlink(self.trigger)
            stall_the_loop()
        self.timeout_after(STALL_POLL)


def stall_the_loop() -> None:
    """The stuck call the watchdog's faulthandler traceback must name."""
    time.sleep(3600)  # blocking the loop is the point
