"""A user server holding a span open, for the end-to-end test of ``arborctl spans``
(tests/daemon/test_spans_daemon.py names it in ``[servers.holder] start``).

Not a test module: the daemon subprocess imports it (``PYTHONPATH`` is the repository's root).
"""

from __future__ import annotations

from daemon.spans import start_span
from supervisor import Server

__all__ = ["HoldsASpan"]


class HoldsASpan(Server):
    """Opens a span in ``init`` and never ends it: it stays in flight while the server runs."""

    async def init(self) -> None:
        start_span("held by a user server", {"purpose": "test"})
