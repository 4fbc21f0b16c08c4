"""A user server for the process-level stage test of the error context and span management
(tests/daemon/test_switched_daemon.py names it in ``[servers.probe] start``).

``Probe`` ticks (every 10 ms) and at each tick uses both switched interfaces the way a migrating
component does, and writes down which path *behaved* as serving, read from what the call did rather
than from the flag: the error context's path is ``supervised`` when a switched block's field reached
``daemon.context`` (the ``ContextVar``), ``legacy`` when it did not; the span's path is ``supervised``
when the span is in the span server's table. It also keeps one span open (``probe.held``, a new one
each tick) for ``arborctl spans`` to list, or not. Its public table ``probe.paths`` has one row:
``("last", tick, context_path, spans_path, ok)``, ``ok`` when every switched read and end did what
the interface promises on either path.

Not a test module: the daemon subprocess imports it (``PYTHONPATH`` is the repository's root).
"""

from __future__ import annotations

import asyncio
from typing import Any

from daemon import context_switched
from daemon.context import get_context as supervised_context
from daemon.spans import SPANS_NAME, SpanServer
from daemon.spans import switched as spans
from supervisor import Access, Server, Table, whereis

__all__ = ["Probe"]


class Probe(Server):
    async def init(self) -> None:
        self.paths = Table("probe.paths", access=Access.PUBLIC, named=True)
        self._ticking = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        tick = 0
        held = None
        while True:
            tick += 1
            server = whereis(SPANS_NAME)
            with context_switched.with_context(probe=tick):
                ok = context_switched.get_context().get("probe") == tick
                context_path = "supervised" if supervised_context().get("probe") == tick else "legacy"
            ok = ok and "probe" not in context_switched.get_context()
            ref = spans.start_span("probe.tick")
            listed = isinstance(server, SpanServer) and server.find(ref.span_id) is not None
            ok = ok and spans.backend_of(ref) == ("supervised" if listed else "legacy")
            ok = ok and spans.end_span(ref)
            if held is not None:
                ok = ok and spans.end_span(held)
            held = spans.start_span("probe.held")
            self.paths.insert(("last", tick, context_path, "supervised" if listed else "legacy", ok))
            await asyncio.sleep(0.01)

    async def terminate(self, reason: Any) -> None:
        self._ticking.cancel()
