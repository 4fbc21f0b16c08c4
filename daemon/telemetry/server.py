"""The telemetry server ``arbord.telemetry``: owner of the sampled events' tables, their timers and
janitor, and the one writer of their configuration.

Emitters never call it (``events.py`` works on its tables from the caller's task); it does what
needs a clock or an order:

- the **flush timer**: a batch that got its first item wakes the server (one message per batch
  cycle, not per item), which arms one loop timer for the earliest due batch and flushes every due
  batch when it fires, with no further call from anyone (Foundation's periodic flush was dead code,
  docs/otp-conformance.md#batches);
- the **janitor**: every ``janitor_interval`` it sweeps dedup keys unused for ``dedup_ttl``;
- the **sampling configuration** (``SetSampling``) and the **taps** (``AddTap``), written in order;
- on a graceful stop (SIGTERM: the root stops its children) it **flushes every pending batch**
  before it exits, those the legacy path of ``use_ets_sampled_events`` holds included
  (daemon/telemetry/switched_events.py), as ``FlushAll`` does.

**Crash and restart.** Its tables have the keeper ``arbord.telemetry.keeper`` (a ``TableKeeper``,
its elder sibling) as heir: when the server crashes they pass to the keeper, emitters keep writing
them (they are public and keep their names), and the next incarnation claims them back, so counters,
dedup windows and pending batches all survive; it re-arms the timer for batches left pending.
``incarnation`` counts the servers that have owned these tables; ``generation`` identifies the
tables themselves (a fresh set gets a new, larger one: ``time.time_ns()`` at their creation), so a
reader that sees ``generation`` change knows every counter restarted from zero. That happens only
when the keeper is gone too, never silently. A reload of ``[telemetry]`` replaces the keeper first
(the new one announces itself and becomes the heir), then the server, which flushes its batches as
it stops and hands its tables to the new keeper: the counters go on, and the new server applies
``[telemetry.sampling]`` if it changed (a restart after a crash keeps the strategies set at run
time).

>>> import asyncio
>>> from daemon.telemetry.events import emit_once_per
>>> async def demo() -> list[object]:
...     server = await TelemetryServer.start(name=SERVER_NAME)
...     first = emit_once_per(("demo", "disk_full"), 60.0, {}, {"disk": "sda"})
...     second = emit_once_per(("demo", "disk_full"), 60.0, {}, {"disk": "sda"})
...     stats = await server.call(GetStats())
...     await server.stop()
...     return [first, second, stats["events"][0]["deduplicated"]]
>>> asyncio.run(demo())
[True, False, 1]
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from daemon.chunked import SCAN_CHUNK, pause
from daemon.registry.keeper import Claim, KeeperUp, TableKeeper
from daemon.telemetry.config import TelemetrySettings
from daemon.telemetry.events import flush_batch
from daemon.telemetry.hub import (
    BATCHES_TABLE,
    DEDUP_TABLE,
    EVENTS_TABLE,
    META_TABLE,
    SAMPLING_TABLE,
    SERVER_NAME,
    Hub,
    Tap,
    Wake,
    current_hub,
)
from daemon.telemetry.sampling import (
    Decider,
    Strategy,
    format_prefix,
    make_decider,
    parse_prefix,
    parse_strategy,
)
from daemon.telemetry.switched_events import flush_legacy
from supervisor import Access, Caller, Down, MonitorRef, Server, Table, demonitor, monitor, whereis
from supervisor.lowlevel import Clock, MonotonicClock
from supervisor.tables import TableTransfer

__all__ = [
    "KEEPER_NAME",
    "AddTap",
    "FlushAll",
    "FlushDue",
    "GetSampling",
    "GetStats",
    "Refused",
    "RemoveTap",
    "SetSampling",
    "Sweep",
    "TelemetryServer",
    "call_telemetry",
    "remove_tap",
]

log = logging.getLogger("arbord.telemetry")

KEEPER_NAME: Final = "arbord.telemetry.keeper"
"""The registered name of the heir of the telemetry server's tables."""

_LABEL: Final = SERVER_NAME  # the heir data the keeper files the tables under
_TABLES: Final = (EVENTS_TABLE, DEDUP_TABLE, BATCHES_TABLE, SAMPLING_TABLE, META_TABLE)


@dataclass(frozen=True, slots=True)
class SetSampling:
    """Set (``strategy`` text) or remove (``None``) the strategy of a dotted ``prefix``; replies the
    strategies in force. ``ValueError``/``TypeError`` for a bad prefix or strategy."""

    prefix: str
    strategy: str | None


@dataclass(frozen=True, slots=True)
class GetSampling:
    """Reply ``{prefix: strategy text}``, every configured prefix."""


@dataclass(frozen=True, slots=True)
class GetStats:
    """Reply the accounting: ``{"generation", "incarnation", "events": [EventStats.snapshot...]}``,
    the events sorted by name, optionally only those under ``prefix``."""

    prefix: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AddTap:
    """Register ``tap``; it is removed when its owner task ends (or by ``RemoveTap``)."""

    tap: Tap


@dataclass(frozen=True, slots=True)
class RemoveTap:
    """Remove ``tap`` (a no-op if it is gone)."""

    tap: Tap


@dataclass(frozen=True, slots=True)
class FlushDue:
    """Flush the batches that are due now (what the timer does); replies how many items went."""


@dataclass(frozen=True, slots=True)
class FlushAll:
    """Flush every pending batch now (the legacy path's too); replies how many items went."""


@dataclass(frozen=True, slots=True)
class Sweep:
    """Run the janitor now; replies how many dedup keys it removed."""


@dataclass(frozen=True, slots=True)
class Refused:
    """The reply to a request the server refused (a bad strategy or prefix, an unknown request): the
    server does not crash for a caller's mistake, the caller raises ``error`` (``call_telemetry``)."""

    error: Exception


async def call_telemetry(server: Server, request: object) -> Any:
    """``server.call(request)``, raising the error of a ``Refused`` reply in the caller."""
    reply = await server.call(request)
    if isinstance(reply, Refused):
        raise reply.error
    return reply


class _Tick:
    __slots__ = ()


class _Janitor:
    __slots__ = ()


_TICK: Final = _Tick()
_JANITOR: Final = _Janitor()


class TelemetryServer(Server):
    """``init(settings=TelemetrySettings(), *, keeper=None, clock=None, max_timer_delay=1.0,
    seed=None)``: ``keeper`` is the registered name of the ``TableKeeper`` heir (None: the tables die
    with the server); ``clock`` the monotonic clock of windows and timeouts (injectable:
    ``supervisor.testing.ManualClock``); the flush timer re-checks at least every
    ``max_timer_delay`` real seconds, so a test clock moved by hand is seen; ``seed`` seeds the
    random strategies."""

    async def init(
        self,
        settings: TelemetrySettings | None = None,
        *,
        keeper: str | None = None,
        clock: Clock | None = None,
        max_timer_delay: float = 1.0,
        seed: int | None = None,
    ) -> None:
        self.settings = settings if settings is not None else TelemetrySettings()
        self._clock: Clock = clock or MonotonicClock()
        self._now = time.monotonic if isinstance(self._clock, MonotonicClock) else self._clock.monotonic
        self._max_timer_delay = max_timer_delay
        self._seed = seed
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._janitor: asyncio.TimerHandle | None = None
        self._keeper: TableKeeper | None = None
        self._keeper_ref: MonitorRef | None = None
        keeper_server = whereis(keeper) if keeper is not None else None
        claimed: tuple[Table, ...] = ()
        if isinstance(keeper_server, TableKeeper):
            claimed = await keeper_server.call(Claim(_LABEL, self))
        tables = {t.name: t for t in claimed}
        fresh = set(_TABLES) - set(tables)
        if fresh:  # none or part of the set came back: start over, counting what is lost
            lost = self._lost_pending(tables)
            for table in tables.values():
                table.delete_table()
            tables = {name: Table(name, access=Access.PUBLIC, named=True) for name in _TABLES}
            tables[META_TABLE].insert([("generation", time.time_ns()), ("incarnation", 0)])
            if lost:
                log.error("telemetry: %d pending batch items were lost with the server's tables", lost)
        self._tables = tables
        meta = tables[META_TABLE]
        meta.update_counter("incarnation", 1)
        events = self.settings.events
        previous = meta.get("hub")
        if previous is None:
            hub = Hub(
                events=tables[EVENTS_TABLE],
                dedup=tables[DEDUP_TABLE],
                batches=tables[BATCHES_TABLE],
                sampling=tables[SAMPLING_TABLE],
                clock=self._now,
                server=self,
                max_pending=events.max_pending,
                handler_budget=events.handler_budget,
                detach_slow=events.detach_slow_handlers,
            )
            meta.insert(("hub", hub))
        else:  # the same Hub lives on with its tables (every stats row points at it, taps included)
            hub = previous[1]
            hub.clock, hub.server = self._now, self
            hub.max_pending = events.max_pending
            hub.handler_budget, hub.detach_slow = events.handler_budget, events.detach_slow_handlers
        hub.generation = meta.get("generation")[1]
        hub.incarnation = meta.get("incarnation")[1]
        self.hub = hub
        configured = dict(self.settings.sampling)
        if meta.get("configured", ("configured", None))[1] != configured:
            # fresh tables, or a reload changed [telemetry.sampling]: the file wins; a restart after a
            # crash (the same settings) keeps the strategies set at run time
            self._configure(tables[SAMPLING_TABLE], configured)
            meta.insert(("configured", configured))
            self._resolve_deciders()
        self._appoint(keeper_server if isinstance(keeper_server, TableKeeper) else None)
        self._schedule_janitor()
        self._arm()

    @staticmethod
    def _lost_pending(tables: Mapping[str | None, Table]) -> int:
        batches = tables.get(BATCHES_TABLE)
        return 0 if batches is None else sum(len(row[1].items) for row in batches.tab2list())

    # --- configuration ---------------------------------------------------------------------------

    def _configure(self, sampling: Table, config: Mapping[str, str]) -> None:
        rows = []
        for text_prefix, text in config.items():
            strategy = parse_strategy(text)
            rows.append((parse_prefix(text_prefix), strategy, self._decider(strategy)))
        sampling.delete_all_objects()
        sampling.insert(rows)

    def _decider(self, strategy: Strategy) -> Decider | None:
        return make_decider(strategy, self._seed)

    def _set_sampling(self, request: SetSampling) -> dict[str, str]:
        prefix = parse_prefix(request.prefix)
        sampling = self._tables[SAMPLING_TABLE]
        if request.strategy is None:
            sampling.delete(prefix)
        else:
            strategy = parse_strategy(request.strategy)
            sampling.insert((prefix, strategy, self._decider(strategy)))
        self._resolve_deciders()
        return self._sampling()

    def _resolve_deciders(self) -> None:
        """Every event name re-resolves its decider (a handful of names: no chunking needed)."""
        for _event, stats in self._tables[EVENTS_TABLE].tab2list():
            stats.decider = self.hub.decider_for(stats.event)

    def _sampling(self) -> dict[str, str]:
        rows = sorted(self._tables[SAMPLING_TABLE].tab2list(), key=lambda row: row[0])
        return {format_prefix(prefix): strategy.text for prefix, strategy, _decider in rows}

    # --- the keeper -----------------------------------------------------------------------------------

    def _appoint(self, keeper: TableKeeper | None) -> None:
        if self._keeper_ref is not None:
            demonitor(self._keeper_ref, flush=True)
        self._keeper = keeper if keeper is not None and keeper.alive else None
        self._keeper_ref = monitor(self._keeper, watcher=self) if self._keeper is not None else None
        for table in self._tables.values():
            table.set_heir(self._keeper, _LABEL)

    # --- messages --------------------------------------------------------------------------------------

    async def handle_info(self, message: Any) -> None:
        if isinstance(message, (Wake, _Tick)):
            if isinstance(message, _Tick):
                self._timer, self._timer_at = None, math.inf
                self._flush(due_only=True)
            self._arm()
        elif isinstance(message, _Janitor):
            await self.sweep()
            self._schedule_janitor()
        elif isinstance(message, Down) and message.ref is self._keeper_ref:
            self._appoint(None)  # until the restarted keeper says KeeperUp
        elif isinstance(message, KeeperUp):
            self._appoint(message.keeper)
        elif isinstance(message, TableTransfer):
            pass  # our own tables coming back (claimed in init)

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if isinstance(request, GetStats):
            return self.stats(request.prefix)
        if isinstance(request, SetSampling):
            try:
                return self._set_sampling(request)
            except (TypeError, ValueError) as error:  # the caller's mistake: not a reason to crash
                return Refused(error)
        if isinstance(request, GetSampling):
            return self._sampling()
        if isinstance(request, AddTap):
            return self._add_tap(request.tap)
        if isinstance(request, RemoveTap):
            self._remove_tap(request.tap)
            return None
        if isinstance(request, FlushDue):
            return self._flush(due_only=True)
        if isinstance(request, FlushAll):
            return self._flush(due_only=False)
        if isinstance(request, Sweep):
            return await self.sweep()
        return Refused(TypeError(f"the telemetry server does not understand {request!r}"))

    async def terminate(self, reason: Any) -> None:
        """A graceful stop (SIGTERM, a reload): every pending batch goes out first."""
        flushed = self._flush(due_only=False)
        if flushed:
            log.info("telemetry: flushed %d pending batch items before stopping", flushed)
        for handle in (self._timer, self._janitor):
            if handle is not None:
                handle.cancel()

    # --- the flush timer -------------------------------------------------------------------------------

    def _arm(self) -> None:
        """Arm the loop timer for the earliest due batch (at most ``max_timer_delay`` away)."""
        due = min(
            (row[1].due for row in self._tables[BATCHES_TABLE].tab2list() if row[1].items),
            default=math.inf,
        )
        if due == math.inf:
            return
        loop = asyncio.get_running_loop()
        delay = min(max(due - self._now(), 0.0), self._max_timer_delay)
        at = loop.time() + delay
        if self._timer is not None:
            if self._timer_at <= at:
                return
            self._timer.cancel()
        self._timer, self._timer_at = loop.call_later(delay, self.send, _TICK), at

    def _flush(self, *, due_only: bool) -> int:
        now = self._now()
        flushed = 0
        for event, pending in self._tables[BATCHES_TABLE].tab2list():
            if pending.items and (not due_only or now >= pending.due):
                flushed += flush_batch(self.hub, event, pending)
        if not due_only:  # and the batches the legacy path holds (daemon/telemetry/switched_events.py)
            flushed += flush_legacy()
        return flushed

    # --- the janitor -----------------------------------------------------------------------------------

    def _schedule_janitor(self) -> None:
        interval = self.settings.events.janitor_interval
        self._janitor = asyncio.get_running_loop().call_later(interval, self.send, _JANITOR)

    async def sweep(self, *, chunk: int = SCAN_CHUNK) -> int:
        """Remove the dedup keys unused for ``dedup_ttl``, ``chunk`` rows at a time with a pause
        between (a key refreshed meanwhile is kept: each is checked again as it is removed)."""
        dedup = self._tables[DEDUP_TABLE]
        ttl = self.settings.events.dedup_ttl
        rows = dedup.tab2list()
        removed = 0
        for start in range(0, len(rows), chunk):
            if start:
                await pause()
            now = self._now()
            for key, _window in rows[start : start + chunk]:
                row = dedup.get(key)
                if row is not None and now - row[1].last >= ttl:
                    dedup.delete(key)
                    removed += 1
        return removed

    # --- taps --------------------------------------------------------------------------------------------

    def _add_tap(self, tap: Tap) -> None:
        owner = tap.owner
        if owner is not None and owner.done():
            return
        self.hub.taps = (*self.hub.taps, tap)
        if owner is not None:
            owner.add_done_callback(lambda _task: remove_tap(tap))

    def _remove_tap(self, tap: Tap) -> None:
        remove_tap(tap)

    # --- statistics --------------------------------------------------------------------------------------

    def stats(self, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
        """The accounting, per event name under ``prefix`` (see ``GetStats``)."""
        return {
            "generation": self.hub.generation,
            "incarnation": self.hub.incarnation,
            "taps": len(self.hub.taps),
            "events": self.hub.snapshot(prefix),
        }


def remove_tap(tap: Tap) -> None:
    """Remove ``tap`` from the current hub (whichever incarnation of the server runs now)."""
    hub = current_hub()
    if hub is not None:
        hub.taps = tuple(t for t in hub.taps if t is not tap)
