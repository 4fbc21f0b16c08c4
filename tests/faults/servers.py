"""User servers that fail on purpose for the fault suite's real daemons (``[servers.<name>] start``
names them; the daemon subprocess imports this module, ``PYTHONPATH`` being the repository's root).

``BusyAtStop`` is F14's load: batch items and spans still pending when SIGTERM arrives, and a
record (a file) of what the stop flushed and ended, for the test to read after the exit.

Not a test module. The stop and start misbehaviours (a ``terminate`` that swallows cancellation, one
that blocks the loop, an ``init`` that never returns) are tests/daemon/lifecycle_servers.py's.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from daemon.spans import START, STOP, start_span
from daemon.telemetry import batch
from supervisor import TIMEOUT, Exit, Server, telemetry

__all__ = ["BUSY_BATCH", "STALL_POLL", "BusyAtStop", "Staller"]

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


BUSY_BATCH = ("user", "busy")
"""The batched event of ``BusyAtStop``: its items go out only on a stop (size and timeout too large
for the timer or the size to flush them first)."""


class BusyAtStop(Server):
    """Keeps the telemetry and span machinery busy until the stop, and records what the stop flushed.

    Every ``every`` seconds it batches one item ``{"n": 1, "ids": [i]}`` of ``BUSY_BATCH`` and (the
    first ``spans`` times) opens a span in its own task that it never ends. It appends to ``record``,
    one JSON line each: every flushed batch (``{"batch": ids}``), every span start and stop the
    daemon emits, its own and the control requests' (``{"start": id, "name": name}``, ``{"stop": id, "status":
    s}``), and, from ``terminate``, what it had batched and opened (``{"batched": n, "opened": m}``).
    """

    async def init(self, record: str, every: float = 0.002, spans: int = 200) -> None:
        self._file = open(record, "a", buffering=1, encoding="utf-8")  # noqa: ASYNC230, SIM115 - kept to the exit
        self._every = every
        self._spans = spans
        self.batched = 0
        self.opened = 0
        write = self._file.write

        def written(event: Any, measurements: Mapping[str, Any], metadata: Mapping[str, Any], _: Any) -> None:
            if event == BUSY_BATCH:
                write(json.dumps({"batch": measurements["ids"]}) + "\n")
            elif event == START:
                write(json.dumps({"start": metadata["span_id"], "name": metadata["span_name"]}) + "\n")
            else:
                write(json.dumps({"stop": metadata["span_id"], "status": metadata["status"]}) + "\n")

        telemetry.attach_many("tests-faults-busy-at-stop", [BUSY_BATCH, START, STOP], written)
        self._busy()  # pending from READY on

    def _busy(self) -> None:
        batch(BUSY_BATCH, {"n": 1, "ids": [self.batched]}, 1 << 30, 3600.0)
        self.batched += 1
        if self.opened < self._spans:
            start_span("busy at stop", {"n": self.opened})
            self.opened += 1
        self._tick = asyncio.get_running_loop().call_later(self._every, self.send, "tick")

    async def handle_info(self, message: Any) -> None:
        if message == "tick":
            self._busy()

    async def terminate(self, reason: Exit) -> None:
        self._tick.cancel()
        self._file.write(json.dumps({"batched": self.batched, "opened": self.opened}) + "\n")
