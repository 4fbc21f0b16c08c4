"""Where emitters find the telemetry server's state: its tables and the ``Hub`` that ties them.

The server ``arbord.telemetry`` owns five public, named tables, handed to its keeper if it crashes:

=============================  ==================================================================
``arbord.telemetry.events``    ``(event, EventStats)``: the counters and sampling of each name
``arbord.telemetry.dedup``     ``(dedup key, Window)``: ``emit_once_per``'s windows
``arbord.telemetry.batches``   ``(event, Batch)``: the pending items of each batch
``arbord.telemetry.sampling``  ``(prefix, Strategy, Decider | None)``: the configured strategies
``arbord.telemetry.meta``      ``("hub", Hub)``, ``("generation", n)``, ``("incarnation", n)``
=============================  ==================================================================

An emitter reads ``meta`` for the ``Hub`` (one named-table lookup and one row read), then works on
the other tables from its own task: no call, no message (except ``Hub.wake``, once when a batch gets
its first item, so the server arms the timer that flushes it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

from daemon.telemetry.accounting import EventStats
from daemon.telemetry.sampling import Decider
from supervisor import Server
from supervisor.tables import Table, whereis_table

__all__ = [
    "BATCHES_TABLE",
    "DEDUP_TABLE",
    "EVENTS_TABLE",
    "META_TABLE",
    "SAMPLING_TABLE",
    "SERVER_NAME",
    "Batch",
    "Hub",
    "Tap",
    "Wake",
    "Window",
    "check_event",
    "current_hub",
    "stats_snapshot",
]

SERVER_NAME: Final = "arbord.telemetry"
"""The telemetry server's registered name (binding: other parts find it by this name)."""
EVENTS_TABLE: Final = "arbord.telemetry.events"
DEDUP_TABLE: Final = "arbord.telemetry.dedup"
BATCHES_TABLE: Final = "arbord.telemetry.batches"
SAMPLING_TABLE: Final = "arbord.telemetry.sampling"
META_TABLE: Final = "arbord.telemetry.meta"


class Batch:
    """The pending items of one batch, when it was opened (or last flushed), its size and timeout
    (the last ``batch`` call's), and how many items it may hold."""

    __slots__ = ("items", "max_pending", "opened", "room", "size", "timeout")

    def __init__(self, opened: float, size: int, timeout: float, max_pending: int) -> None:
        self.items: list[Any] = []
        self.opened = opened
        self.max_pending = max_pending  # [telemetry.events] max_pending when it was opened
        self.size = size
        self.timeout = timeout
        self.room = min(size - 1, max_pending)

    def reshape(self, size: int, timeout: float) -> None:
        """Take the size and timeout of the latest ``batch`` call. ``room`` (below ``size`` and
        ``max_pending``) is what ``batch``'s fast path tests: an add to a batch holding fewer items
        needs neither a flush nor a drop."""
        self.size = size
        self.timeout = timeout
        self.room = min(size - 1, self.max_pending)

    @property
    def due(self) -> float:
        """When the timer flushes it (on the server's clock)."""
        return self.opened + self.timeout


class Window:
    """One ``emit_once_per`` key's window: when it last went out (the server's clock) and the
    counters of its event. Kept in the dedup table as ``(key, Window)``."""

    __slots__ = ("last", "stats")

    def __init__(self, last: float, stats: EventStats) -> None:
        self.last = last
        self.stats = stats


class Tap:
    """One live tap (``telemetry.tap``): events under ``prefix`` go into ``queue``, at most
    ``decider`` allows (rate-limited on the daemon's side). ``owner`` is the task of the connection
    that asked: when it ends the server removes the tap."""

    __slots__ = ("decider", "missed", "owner", "prefix", "queue", "sent")

    def __init__(
        self, prefix: tuple[str, ...], decider: Decider, owner: asyncio.Task[Any] | None, depth: int
    ) -> None:
        self.prefix = prefix
        self.decider = decider
        self.owner = owner
        self.queue: asyncio.Queue[tuple[tuple[str, ...], dict[str, Any], dict[str, Any]]] = asyncio.Queue(
            depth
        )
        self.sent = 0
        self.missed = 0  # rate-limited away, or the client did not read fast enough

    def offer(self, now: float, event: tuple[str, ...], measurements: Any, metadata: Any) -> None:
        """Queue the event if the tap's rate and its queue allow, else count it as missed."""
        if not self.decider.keep(now) or self.queue.full():
            self.missed += 1
            return
        self.sent += 1
        self.queue.put_nowait((event, dict(measurements or {}), dict(metadata or {})))


class Wake:
    """Sent to the server when a batch gets its first item: arm the flush timer."""

    __slots__ = ()


_WAKE: Final = Wake()


class Hub:
    """The tables, the clock and the settings an emitter needs, in one object (row ``"hub"``).

    The server fills it at start and updates it when a new incarnation claims the tables.
    """

    __slots__ = (
        "batches",
        "batches_get",
        "clock",
        "dedup",
        "dedup_get",
        "detach_slow",
        "events",
        "events_get",
        "generation",
        "handler_budget",
        "incarnation",
        "max_pending",
        "sampling",
        "server",
        "taps",
    )

    def __init__(
        self,
        *,
        events: Table,
        dedup: Table,
        batches: Table,
        sampling: Table,
        clock: Callable[[], float],
        server: Server,
        max_pending: int,
        handler_budget: float,
        detach_slow: bool,
    ) -> None:
        self.events = events
        self.dedup = dedup
        self.batches = batches
        self.sampling = sampling
        self.events_get = events.getter()
        self.dedup_get = dedup.getter()
        self.batches_get = batches.getter()
        self.clock = clock
        self.server = server
        self.max_pending = max_pending
        self.handler_budget = handler_budget
        self.detach_slow = detach_slow
        self.taps: tuple[Tap, ...] = ()
        self.generation = 0  # set by the server: see daemon/telemetry/server.py
        self.incarnation = 0

    def stats(self, event: tuple[str, ...]) -> EventStats:
        """The counters of ``event``, made on its first sighting (after checking its name)."""
        try:
            row = self.events_get(event)
        except TypeError:  # unhashable: a list, a dict
            raise TypeError(f"a telemetry event name must be a tuple of str, got {event!r}") from None
        if row is not None:
            return row[1]  # type: ignore[no-any-return]
        check_event(event)
        stats = EventStats(event, self.decider_for(event), self)
        self.events.insert((event, stats))
        return stats

    def decider_for(self, event: tuple[str, ...]) -> Decider | None:
        """The decider of the longest configured prefix of ``event`` (None: ``always``)."""
        best: tuple[int, Decider | None] = (-1, None)
        for prefix, _strategy, decider in self.sampling.tab2list():
            if len(prefix) > best[0] and event[: len(prefix)] == prefix:
                best = (len(prefix), decider)
        return best[1]

    def snapshot(self, prefix: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Every event name's counters under ``prefix`` (``EventStats.snapshot``, with ``pending``),
        sorted by name: a consistent picture, read from the caller's task with no await."""
        rows = sorted(
            (row[1] for row in self.events.tab2list() if row[0][: len(prefix)] == prefix),
            key=lambda stats: stats.event,
        )
        get_batch = self.batches_get
        snapshots = []
        for stats in rows:
            batch_row = get_batch(stats.event)
            snapshots.append(stats.snapshot(len(batch_row[1].items) if batch_row is not None else 0))
        return snapshots

    def wake(self) -> None:
        """Tell the server a batch got its first item (it arms its flush timer)."""
        self.server.send(_WAKE)


def check_event(event: object) -> None:
    """``TypeError`` unless ``event`` is a tuple of str; ``ValueError`` if it is ``()``."""
    if not isinstance(event, tuple) or not all(part.__class__ is str for part in event):
        raise TypeError(f"a telemetry event name must be a tuple of str, got {event!r}")
    if not event:
        raise ValueError("a telemetry event name must be a non-empty tuple of str, got ()")


def stats_snapshot(prefix: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The accounting of every sampled event name under ``prefix`` (``Hub.snapshot``), read with no
    hop from the caller's task; ``[]`` when no telemetry server runs. What the metrics read."""
    hub = current_hub()
    return [] if hub is None else hub.snapshot(prefix)


def current_hub() -> Hub | None:
    """The running telemetry server's ``Hub``, or None when there is none (then emitters pass events
    straight to ``supervisor.telemetry.execute``: no dedup, no batching, no accounting)."""
    meta = whereis_table(META_TABLE)
    if meta is None:
        return None
    row = meta.get("hub")
    return None if row is None else row[1]
