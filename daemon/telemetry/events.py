"""Sampled events: ``Emitter``, ``emit_once_per`` and ``batch``, Foundation's SampledEvents with the
departures listed in docs/otp-conformance.md#sampled-events.

Each call runs in the caller's task and works on the telemetry server's tables (``hub.py``): it
counts the event, asks the sampler, and hands what goes out to ``supervisor.telemetry.execute``.
Without a running telemetry server (a script, a unit test) events go straight to ``execute``: no
dedup, no batching, no accounting, nothing lost.

>>> from supervisor import telemetry
>>> seen = []
>>> telemetry.attach("doc", ("shop", "order", "stop"), lambda e, m, md, c: seen.append(md["status"]))
>>> shop = Emitter(("shop",))
>>> with shop.span("order", {"id": 7}):
...     pass
>>> seen
['ok']
>>> telemetry.detach("doc")
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import traceback
from collections.abc import Mapping
from types import MappingProxyType, TracebackType
from typing import Any, Final

from daemon.telemetry.accounting import EventStats
from daemon.telemetry.hub import DEDUP_TABLE, EVENTS_TABLE, Batch, Hub, Window, check_event, current_hub
from daemon.telemetry.keys import dedup_key
from daemon.telemetry.summary import summarize_batch
from supervisor import telemetry
from supervisor.tables import named_getter
from supervisor.telemetry import execute as _execute

__all__ = [
    "SLOW_HANDLER",
    "TIMED_EVERY",
    "Emitter",
    "SpanScope",
    "batch",
    "emit",
    "emit_once_per",
    "flush_batch",
]

log = logging.getLogger("arbord.telemetry")

SLOW_HANDLER: Final = ("arbord", "telemetry", "slow_handler")
"""Emitted when the handlers of a sampled event ran longer than ``[telemetry.events] handler_budget``:
measurements ``{"duration"}`` (seconds), metadata ``{"event", "handler_ids", "detached"}``."""

_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})

TIMED_EVERY: Final = 16
"""The handlers of one emission in this many, per event name, are timed against the budget."""


# --- the hot path ------------------------------------------------------------------------------


def _dispatch(hub: Hub, stats: EventStats, measurements: Any, metadata: Any) -> None:
    """Hand an event that goes out to the bus, then to the taps. One emission in ``TIMED_EVERY`` of
    each event name (the first included) is timed against ``handler_budget``: a handler that is slow
    is slow every time, and two clock reads on every emit would cost more than the rest of it (batch
    events, counted by their items, are timed about as often)."""
    event = stats.event
    if hub.handler_budget and stats.emitted % TIMED_EVERY == 1 and event in telemetry.active_events:
        started = time.perf_counter()
        telemetry.execute(event, measurements, metadata)
        took = time.perf_counter() - started
        if took > hub.handler_budget and event != SLOW_HANDLER:
            _slow(hub, event, took)
    else:
        telemetry.execute(event, measurements, metadata)
    if hub.taps:
        now = hub.clock()
        for tap in hub.taps:
            if event[: len(tap.prefix)] == tap.prefix:
                tap.offer(now, event, measurements, metadata)


def _slow(hub: Hub, event: tuple[str, ...], took: float) -> None:
    """Report slow handlers: the handlers of one event run as one ``execute``, so all of its handlers
    are named; one is detached only when it is the event's only handler (the blame is then sure)."""
    ids = sorted({h.id for h in telemetry.list_handlers(event) if h.event == event})
    detached = hub.detach_slow and len(ids) == 1
    if detached:
        try:
            telemetry.detach(ids[0])
        except LookupError:  # it detached itself meanwhile
            pass
    stats = hub.stats(SLOW_HANDLER)
    stats.received += 1
    stats.emitted += 1
    log.warning(
        "telemetry handlers %s of event %s took %.3f s (budget %.3f s)%s",
        ids,
        ".".join(event),
        took,
        hub.handler_budget,
        ": detached" if detached else "",
    )
    telemetry.execute(
        SLOW_HANDLER, {"duration": took}, {"event": event, "handler_ids": ids, "detached": detached}
    )


def _deliver(hub: Hub, stats: EventStats, event: tuple[str, ...], measurements: Any, metadata: Any) -> bool:
    """Count one received event as emitted or sampled out, and emit it if it goes out."""
    decider = stats.decider
    if decider is None:
        stats.received += 1
        stats.emitted += 1
    elif decider.keep(hub.clock()):
        stats.received += 1
        stats.emitted += 1
        metadata = {**metadata, "sampled": True} if metadata else {"sampled": True}
    else:
        stats.received += 1
        stats.sampled_out += 1
        return False
    _dispatch(hub, stats, measurements, metadata)
    return True


def emit(
    event: tuple[str, ...],
    measurements: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> bool:
    """Emit ``event`` through the sampler (counted); True if it went out."""
    get = named_getter(EVENTS_TABLE)
    try:
        row = get(event) if get is not None else None
    except TypeError:  # unhashable: a list, a dict
        raise TypeError(f"a telemetry event name must be a tuple of str, got {event!r}") from None
    stats: EventStats | None = row[1] if row is not None else _stats_of(event)
    if stats is None:
        check_event(event)
        telemetry.execute(event, measurements, metadata)
        return True
    return _deliver(stats.hub, stats, event, measurements, metadata)


def _stats_of(event: tuple[str, ...]) -> EventStats | None:
    """The counters of ``event`` (made on its first sighting), or None without a telemetry server.

    The hot path: one ``named_getter`` call and one row read (both C); the stats row
    points at the ``Hub``, so nothing else is looked up.
    """
    get = named_getter(EVENTS_TABLE)
    if get is None:
        return None
    try:
        row = get(event)
    except TypeError:  # unhashable: a list, a dict
        raise TypeError(f"a telemetry event name must be a tuple of str, got {event!r}") from None
    if row is not None:
        return row[1]  # type: ignore[no-any-return]
    hub = current_hub()
    return None if hub is None else hub.stats(event)


def _check_interval(what: str, value: object, *, finite: bool = False) -> None:
    """``TypeError`` unless ``value`` is an int or float; ``ValueError`` unless it is > 0 (and finite)."""
    if value.__class__ not in (int, float):
        raise TypeError(f"{what} must be a number of seconds, got {value!r}")
    if not value > 0 or (finite and value == math.inf):
        raise ValueError(
            f"{what} must be a positive{' finite' if finite else ''} number of seconds, got {value!r}"
        )


def emit_once_per(
    event: tuple[str, ...],
    interval: float,
    measurements: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> bool:
    """Emit ``event`` unless the same ``(event, metadata)`` went out less than ``interval`` seconds ago.

    The window is fixed from the last emission (a suppressed call does not extend it). Exactly one of
    many concurrent callers emits: the check and the write happen with no await between them.
    Metadata that is unhashable is keyed too (``daemon/telemetry/keys.py``). Returns True if the
    event went out (False: deduplicated or sampled out).
    """
    if interval.__class__ is not float or not interval > 0.0:
        _check_interval("emit_once_per's interval", interval)
    dedup = named_getter(DEDUP_TABLE)
    if dedup is None:
        check_event(event)
        telemetry.execute(event, measurements, metadata)
        return True
    if metadata:
        try:
            key: tuple[object, ...] = (event, frozenset(metadata.items()))
        except TypeError:  # an unhashable value: the complete freeze
            key = dedup_key(event, metadata)
    else:
        key = (event,)
    try:
        row = dedup(key)
    except TypeError:  # the event itself is unhashable
        raise TypeError(f"a telemetry event name must be a tuple of str, got {event!r}") from None
    # A dedup row is (key, Window): the last emission and the EventStats, all the path reads; an
    # emission moves the window's time in place (no row written, no key compared again).
    if row is not None:
        window: Window = row[1]
        stats: EventStats = window.stats
        hub = stats.hub
        now = hub.clock()
        if now - window.last < interval:
            stats.received += 1
            stats.deduplicated += 1
            return False
        window.last = now
    else:
        found = _stats_of(event)
        if found is None:  # the server went between the two lookups (it cannot: no await); be safe
            telemetry.execute(event, measurements, metadata)
            return True
        stats = found
        hub = stats.hub
        hub.dedup.insert((key, Window(hub.clock(), stats)))
    if stats.decider is None and stats.emitted % TIMED_EVERY and not hub.taps:
        # _deliver's common case inlined: always sampled, not timed, no tap
        stats.received += 1
        stats.emitted += 1
        _execute(event, measurements, metadata)
        return True
    return _deliver(hub, stats, event, measurements, metadata)


def batch(event: tuple[str, ...], item: Any, size: int, timeout: float) -> None:
    """Add ``item`` to the batch of ``event``; the batch goes out as one event when it holds ``size``
    items, and on the server's timer ``timeout`` seconds after it was opened or last flushed.

    The batch event has ``summarize_batch(items)`` as measurements and ``{"batch_size": n}`` as
    metadata. A batch already holding ``[telemetry.events] max_pending`` items drops the new one and
    counts it (reason ``batch_full``).
    """
    get = named_getter(EVENTS_TABLE)  # one C call: the events table's own dict.get
    try:
        row = get(event) if get is not None else None
    except TypeError:  # unhashable: a list, a dict
        raise TypeError(f"a telemetry event name must be a tuple of str, got {event!r}") from None
    if row is not None:
        # The common case first: an open batch, added to with the very size and timeout objects it
        # was checked with (the same constants at the call site), with room for this item without a
        # flush or a drop (Batch.room); the add that fills it, or finds it full, takes _batch.
        stats: EventStats = row[1]
        pending = stats.batch
        if pending is not None and size is pending.size and timeout is pending.timeout:
            items = pending.items
            if 0 < len(items) < pending.room:
                items.append(item)
                stats.received += 1
                stats.batched += 1
                return
    _batch(event, item, size, timeout, row)


def _batch(event: tuple[str, ...], item: Any, size: int, timeout: float, row: Any) -> None:
    """``batch`` in full: check the arguments, open or reopen the batch, drop into a full one."""
    if size.__class__ is not int or size < 1:
        raise (TypeError if size.__class__ is not int else ValueError)(
            f"a batch size must be an int >= 1, got {size!r}"
        )
    if timeout.__class__ is not float or not 0.0 < timeout < math.inf:
        _check_interval("a batch timeout", timeout, finite=True)
    stats: EventStats | None = row[1] if row is not None else _stats_of(event)
    if stats is None:
        check_event(event)
        telemetry.execute(event, summarize_batch([item]), {"batch_size": 1})
        return
    pending = stats.batch
    if pending is None:
        hub = stats.hub
        pending = stats.batch = Batch(hub.clock(), size, timeout, hub.max_pending)
        hub.batches.insert((event, pending))
    elif len(pending.items) >= pending.max_pending:
        stats.received += 1
        stats.drop("batch_full")
        return
    pending.reshape(size, timeout)
    items = pending.items
    if not items:
        hub = stats.hub
        pending.opened = hub.clock()  # opened now, or idle since its last flush: counts from now
        hub.wake()
    items.append(item)
    stats.received += 1
    stats.batched += 1
    if len(items) >= size:
        flush_batch(stats.hub, event, pending)


def flush_batch(hub: Hub, event: tuple[str, ...], pending: Batch) -> int:
    """Emit the batch's items as one event (through the sampler); returns how many it held."""
    items = pending.items
    n = len(items)
    pending.opened = hub.clock()
    if not n:
        return 0
    stats = hub.stats(event)
    try:
        summary = summarize_batch(items)
    except Exception:  # a user's item that cannot be summarised (a mapping whose items() raises)
        pending.items = []
        stats.flushed += n
        stats.drop("unsummarizable", n)
        log.exception("telemetry: a batch of %d items of %s could not be summarised", n, ".".join(event))
        return n
    pending.items = []
    stats.flushed += n
    decider = stats.decider
    metadata: dict[str, Any] = {"batch_size": n}
    if decider is not None:
        if not decider.keep(hub.clock()):
            stats.sampled_out += n
            return n
        metadata["sampled"] = True
    stats.emitted += n
    _dispatch(hub, stats, summary, metadata)
    return n


# --- the Emitter -------------------------------------------------------------------------------


def _name(prefix: tuple[str, ...], name: str | tuple[str, ...]) -> tuple[str, ...]:
    if name.__class__ is str:
        return (*prefix, name)
    if name.__class__ is tuple:
        return prefix + name
    raise TypeError(f"an event name must be a str or a tuple of str, got {name!r}")


class Emitter:
    """Foundation's ``use SampledEvents, prefix: [...]``: events under ``prefix``, sampled and counted.

    ``emit_start(name)`` emits ``prefix + (name, "start")`` with ``{"timestamp"}`` (wall-clock ns);
    ``emit_stop(name, measurements)`` emits ``prefix + (name, "stop")`` with the measurements merged
    over ``{"timestamp"}``; ``emit_event(name, ...)`` emits ``prefix + (name,)``; ``emit_if`` emits
    only when its condition is truthy; ``span(name)`` is a context manager (``with`` and ``async
    with``). A ``name`` may be a str or a tuple of str.
    """

    __slots__ = ("prefix",)

    def __init__(self, prefix: tuple[str, ...] = ()) -> None:
        if prefix.__class__ is not tuple or not all(p.__class__ is str for p in prefix):
            raise TypeError(f"an Emitter's prefix must be a tuple of str, got {prefix!r}")
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"Emitter({self.prefix!r})"

    def emit_start(self, name: str | tuple[str, ...], metadata: Mapping[str, Any] | None = None) -> bool:
        """Emit ``prefix + (name, "start")`` with ``{"timestamp": time.time_ns()}``."""
        return emit((*_name(self.prefix, name), "start"), {"timestamp": time.time_ns()}, metadata)

    def emit_stop(
        self,
        name: str | tuple[str, ...],
        measurements: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> bool:
        """Emit ``prefix + (name, "stop")`` with ``measurements`` merged over ``{"timestamp"}``."""
        merged = {"timestamp": time.time_ns(), **(measurements or _EMPTY)}
        return emit((*_name(self.prefix, name), "stop"), merged, metadata)

    def emit_event(
        self,
        name: str | tuple[str, ...],
        measurements: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> bool:
        """Emit ``prefix + (name,)``; True if it went out (not sampled out)."""
        return emit(_name(self.prefix, name), measurements, metadata)

    def emit_if(
        self,
        condition: object,
        name: str | tuple[str, ...],
        measurements: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> bool:
        """``emit_event`` when ``condition`` is truthy; False (nothing received) otherwise."""
        if not condition:
            return False
        return emit(_name(self.prefix, name), measurements, metadata)

    def emit_once_per(
        self,
        name: str | tuple[str, ...],
        interval: float,
        measurements: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> bool:
        """``emit_once_per(prefix + (name,), ...)``."""
        return emit_once_per(_name(self.prefix, name), interval, measurements, metadata)

    def batch(self, name: str | tuple[str, ...], item: Any, size: int, timeout: float) -> None:
        """``batch(prefix + (name,), ...)``."""
        batch(_name(self.prefix, name), item, size, timeout)

    def span(self, name: str | tuple[str, ...], metadata: Mapping[str, Any] | None = None) -> SpanScope:
        """A ``SpanScope``: start on entry; stop with ``duration`` and ``status`` on exit."""
        return SpanScope(self, _name(self.prefix, name), metadata)


class SpanScope:
    """``Emitter.span``'s context manager (sync and async).

    On entry it adds ``span_id`` (a fresh ``object()``, unique while the span lives, as Foundation's
    ref) to the metadata and emits start. On exit it emits stop with ``{"timestamp", "duration"}``
    (``duration`` in ns, ``time.perf_counter_ns``) and ``status``: ``"ok"``; ``"error"`` with
    ``error`` (the formatted exception) when the body raised, which then propagates; ``"cancelled"``
    when the body was cancelled, which is never swallowed. ``scope.metadata`` is the metadata both
    events carry (the body may add to it).
    """

    __slots__ = ("_started", "emitter", "event", "metadata")

    def __init__(self, emitter: Emitter, event: tuple[str, ...], metadata: Mapping[str, Any] | None) -> None:
        self.emitter = emitter
        self.event = event
        self.metadata: dict[str, Any] = {**(metadata or _EMPTY), "span_id": object()}
        self._started = 0

    def __enter__(self) -> SpanScope:
        emit((*self.event, "start"), {"timestamp": time.time_ns()}, dict(self.metadata))
        self._started = time.perf_counter_ns()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        duration = time.perf_counter_ns() - self._started
        metadata = dict(self.metadata)
        if error is None:
            metadata["status"] = "ok"
        elif isinstance(error, (asyncio.CancelledError, GeneratorExit)):
            metadata["status"] = "cancelled"
        else:
            metadata["status"] = "error"
            metadata["error"] = "".join(traceback.format_exception_only(error)).strip()
        emit((*self.event, "stop"), {"timestamp": time.time_ns(), "duration": duration}, metadata)

    async def __aenter__(self) -> SpanScope:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(kind, error, tb)
