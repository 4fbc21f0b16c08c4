"""Exact accounting of sampled events: one ``EventStats`` per event name, kept in the telemetry
server's table ``arbord.telemetry.events``.

Every event handed to ``Emitter``, ``emit_once_per`` or ``batch`` is ``received`` once and, in the
same step (no await, no handler run in between), counted as exactly one of ``emitted``,
``deduplicated``, ``sampled_out``, ``dropped`` (with a reason) or left *pending* in a batch. So at
every moment, for every event name::

    received == emitted + deduplicated + sampled_out + pending + dropped

``batched`` counts the items that went into a batch and ``flushed`` those that left one (emitted, or
sampled out, as one batch event): ``pending == batched - flushed - batch_full drops`` is not needed
by the identity, but ``stats`` shows it. An item of a batch is *emitted* when the batch event
carrying it goes out: ``emitted`` counts items, not batch events.

>>> s = EventStats(("demo",))
>>> s.received += 2; s.emitted += 1; s.sampled_out += 1
>>> s.snapshot(pending=0)["emitted"], balanced(s.snapshot(pending=0))
(1, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from daemon.telemetry.sampling import Decider

__all__ = ["COUNTERS", "DROP_REASONS", "EventStats", "balanced"]

COUNTERS: Final = ("received", "emitted", "deduplicated", "sampled_out", "batched", "flushed", "dropped")
"""The counters of an event name, in the order ``stats`` shows them (the metrics part reads these)."""

DROP_REASONS: Final = ("batch_full", "unsummarizable")
"""Why an event was dropped: its batch held ``max_pending`` items already; or ``summarize_batch``
raised on its batch (an item whose mapping cannot be read). Items pending when the server crashes
are not dropped: its keeper holds them and the next incarnation flushes them. If the keeper is lost
as well, the counters go with the items and the new ``generation`` says so; the server logs how many
items it could not recover."""


class EventStats:
    """The counters of one event name (see the module docstring), the decider of its sampling (None:
    ``always``), the ``Hub`` of its tables and its batch: what an emitter needs, in the one row it
    reads. Mutated in place by emitters, on the daemon's loop, between two awaits."""

    __slots__ = (
        "batch",
        "batched",
        "decider",
        "deduplicated",
        "dropped",
        "drops",
        "emitted",
        "event",
        "flushed",
        "hub",
        "received",
        "sampled_out",
    )

    def __init__(self, event: tuple[str, ...], decider: Decider | None = None, hub: Any = None) -> None:
        self.event = event
        self.decider = decider
        self.hub = hub  # the Hub of the tables this row is in (daemon/telemetry/hub.py)
        self.batch: Any = None  # its pending Batch, also a row of the batches table, once it batches
        self.received = 0
        self.emitted = 0
        self.deduplicated = 0
        self.sampled_out = 0
        self.batched = 0
        self.flushed = 0
        self.dropped = 0
        self.drops: dict[str, int] = {}

    def drop(self, reason: str, n: int = 1) -> None:
        """Count ``n`` events as dropped for ``reason`` (received too, unless already counted)."""
        self.dropped += n
        self.drops[reason] = self.drops.get(reason, 0) + n

    def snapshot(self, pending: int) -> dict[str, Any]:
        """The counters as a JSON-ready dict, with ``pending`` (the items in its batch now)."""
        return {
            "event": ".".join(self.event),
            **{name: getattr(self, name) for name in COUNTERS},
            "pending": pending,
            "dropped_by_reason": dict(self.drops),
        }


def balanced(snapshot: Mapping[str, Any]) -> bool:
    """Whether ``snapshot`` satisfies the accounting identity."""
    out = ("emitted", "deduplicated", "sampled_out", "pending", "dropped")
    return bool(snapshot["received"] == sum(snapshot[name] for name in out))
