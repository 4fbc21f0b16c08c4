"""The telemetry bus: Erlang's ``:telemetry`` for arbord — named events, synchronous handlers.

Code emits ``execute(event, measurements, metadata)``; whoever cares ``attach``-es a handler
``handler(event, measurements, metadata, config)`` to that exact event. Handlers run synchronously
in the caller — no server hop, no task — so an emit costs one dict lookup when nobody listens. A
handler that raises is detached, logged once and reported as the event
``("telemetry", "handler", "failure")``; ``execute`` never raises because of a handler.

>>> seen = []
>>> def on_done(event, measurements, metadata, config):
...     seen.append((event, measurements["rows"], config))
>>> attach("doc-demo", ("demo", "done"), on_done, "c")
>>> execute(("demo", "done"), {"rows": 3})
>>> seen
[(('demo', 'done'), 3, 'c')]
>>> detach("doc-demo")

Validation is done where it is cheap. ``attach`` rejects a bad event name (it must be a non-empty
tuple of ``str``: ``TypeError`` for the wrong type, ``ValueError`` for ``()``), so no handler can
exist for a bad name, and ``execute`` then only checks that its event is a tuple (``TypeError``
otherwise). Measurements and metadata are normalised only when some handler is attached: ``None``
becomes an empty read-only mapping; a bare number ``n`` as measurements becomes ``{"value": n}``
with a ``DeprecationWarning`` (OTP deprecates it the same way), and other measurements that are not
a mapping are a ``TypeError``. Metadata is not checked at run time (it is typed ``Mapping``).

Times are integer **nanoseconds**: ``monotonic_time`` and ``duration`` come from
``time.perf_counter_ns()`` (monotonic, undefined epoch, the finest clock there is), ``system_time``
from ``time.time_ns()``.

See ``docs/telemetry.md`` for the tour: handler failure, ``span``, ``capture`` for tests.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import Any, Final, NamedTuple, TypeAlias, TypeVar

from supervisor.errors import HandlerExists, HandlerNotFound

__all__ = [
    "CALL_SAMPLE_EVERY",
    "CALL_STOP",
    "HANDLER_FAILURE",
    "Capture",
    "Captured",
    "EventName",
    "Handler",
    "HandlerFunction",
    "Span",
    "active_events",
    "attach",
    "attach_many",
    "capture",
    "detach",
    "execute",
    "list_handlers",
    "span",
    "span_call",
]

log = logging.getLogger("supervisor.telemetry")

EventName: TypeAlias = tuple[str, ...]
"""An event's name: a tuple of strings, most general first (``("supervisor", "child", "restart")``)."""
HandlerFunction: TypeAlias = Callable[[EventName, Mapping[str, float], Mapping[str, object], Any], None]
"""A handler: called as ``function(event, measurements, metadata, config)`` in the emitter's task."""
T = TypeVar("T")

HANDLER_FAILURE: EventName = ("telemetry", "handler", "failure")
"""Emitted when a handler raised and was detached (see ``execute``)."""

CALL_STOP: EventName = ("supervisor", "call", "stop")
"""Emitted by ``Server.call`` for one call in ``CALL_SAMPLE_EVERY`` per server (the first included),
only while someone listens: measurement ``duration`` (ns, from the send to the reply or failure, as
the caller sees it); metadata ``server`` (the registered name, ``""`` for none), ``status``
(``"ok"``, ``"timeout"``, ``"exited"``, ``"cancelled"``) and ``sampled_every``. Sampled because a
handler on every call would cost about what a call does; while nobody listens a call pays one
mapping lookup (bench/bench_core.py, "call round trips/s")."""

CALL_SAMPLE_EVERY: Final = 64
"""One call in this many per server is timed while ``CALL_STOP`` has a handler."""

_EMPTY: Mapping[str, Any] = MappingProxyType({})
# A failing handler of HANDLER_FAILURE is detached before the next failure event is emitted, so the
# chain ends when the failure handlers run out; the cap also ends it if handlers re-attach
# themselves as they fail (test_failure_handler_that_reattaches_itself_terminates).
_MAX_FAILURE_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Handler:
    """One handler for one event; ``attach_many`` makes one record per event, all sharing ``id``."""

    id: str
    event: EventName
    function: HandlerFunction
    config: Any


# --- the handler table -------------------------------------------------------------------------
# The module's one piece of global state, allow-listed in pyproject.toml like :telemetry's ETS
# table. `execute` reads `_by_event` without a lock: attach/detach replace whole immutable tuples
# under `_lock`, so an execute always iterates a consistent snapshot. This is what OTP's `persist/0`
# buys; here it is the only mode (attach/detach cost O(handlers of the event), dispatch a lookup).
# An event's slot is (first entry, other entries) and an entry is (function, config, record): the
# common one-handler dispatch then unpacks tuples instead of reading attributes and iterating, which
# saves a fifth of execute's cost with the cheapest handler (bench/bench_telemetry.py).
_Entry: TypeAlias = tuple[HandlerFunction, Any, Handler]
_Slot: TypeAlias = tuple[_Entry, tuple[_Entry, ...]]
_by_event: dict[EventName, _Slot] = {}

active_events: Mapping[EventName, object] = MappingProxyType(_by_event)
"""A live, read-only view whose keys are the events that have at least one handler right now.

``if event in telemetry.active_events: telemetry.execute(event, ...)`` lets a hot path skip the call
and the building of its metadata while nobody listens (about 30 ns instead of 75 ns: the cache's
``get`` uses it). ``execute`` alone is always correct; this is only a shortcut."""
_by_id: dict[str, tuple[Handler, ...]] = {}
_lock = threading.Lock()


def _check_name(name: object, what: str, *, allow_empty: bool) -> EventName:
    try:
        if name.__class__ is not tuple:
            raise TypeError
        "".join(name)  # checks that every part is a str, in C: span() validates on every use
    except TypeError:
        raise TypeError(f"a telemetry {what} must be a tuple of str, got {name!r}") from None
    if not name and not allow_empty:
        raise ValueError(f"a telemetry {what} must be a non-empty tuple of str")
    return name


def attach(handler_id: str, event: EventName, handler: HandlerFunction, config: Any = None) -> None:
    """Call ``handler(event, measurements, metadata, config)`` on every ``execute(event, ...)``.

    Raises ``HandlerExists`` if ``handler_id`` is taken (by ``attach`` or ``attach_many``).
    """
    attach_many(handler_id, [event], handler, config)


def attach_many(
    handler_id: str, events: Sequence[EventName], handler: HandlerFunction, config: Any = None
) -> None:
    """Attach one handler, under one id, to several events; ``detach(handler_id)`` removes all."""
    if not isinstance(handler_id, str):
        raise TypeError(f"a handler id must be a str, got {handler_id!r}")
    if not callable(handler):
        raise TypeError(f"a telemetry handler must be callable, got {handler!r}")
    if isinstance(events, (str, tuple)) and events and all(type(e) is str for e in events):
        # attach_many(id, ("a", "b"), ...) is a single event passed by mistake, not two events.
        raise TypeError(f"attach_many takes a list of events, got the single event {events!r}")
    names = list(dict.fromkeys(_check_name(e, "event name", allow_empty=False) for e in events))
    if not names:
        raise ValueError(f"attach_many({handler_id!r}) needs at least one event")
    records = tuple(Handler(handler_id, name, handler, config) for name in names)
    with _lock:
        if handler_id in _by_id:
            raise HandlerExists(f"a telemetry handler with id {handler_id!r} is already attached")
        _by_id[handler_id] = records
        for record in records:
            entry = (record.function, record.config, record)
            _store(record.event, (*_entries(record.event), entry))


def detach(handler_id: str) -> None:
    """Remove the handler from every event it was attached to; ``HandlerNotFound`` if none is."""
    with _lock:
        if handler_id not in _by_id:
            raise HandlerNotFound(f"no telemetry handler with id {handler_id!r} is attached")
        _remove(_by_id.pop(handler_id))


def _remove(records: tuple[Handler, ...]) -> None:
    """Drop ``records`` from their events. Call with ``_lock`` held."""
    for record in records:
        _store(record.event, tuple(e for e in _entries(record.event) if e[2] is not record))


def _entries(event: EventName) -> tuple[_Entry, ...]:
    slot = _by_event.get(event)
    return () if slot is None else (slot[0], *slot[1])


def _store(event: EventName, entries: tuple[_Entry, ...]) -> None:
    """Replace the event's slot in one assignment, so a concurrent execute sees old or new."""
    if entries:
        _by_event[event] = (entries[0], entries[1:])
    else:
        _by_event.pop(event, None)


def list_handlers(prefix: EventName) -> list[Handler]:
    """Every handler of every event under ``prefix`` (``()`` lists all), sorted by event then id."""
    _check_name(prefix, "event prefix", allow_empty=True)
    n = len(prefix)
    with _lock:  # iterating the dict while another thread attaches would raise
        found = [e[2] for event in _by_event if event[:n] == prefix for e in _entries(event)]
    return sorted(found, key=lambda h: (h.event, h.id))


def execute(
    event: EventName,
    measurements: Mapping[str, float] | None = None,
    metadata: Mapping[str, object] | None = None,
) -> None:
    """Run every handler attached to ``event``, synchronously, in no guaranteed order.

    A handler that raises an ``Exception`` is detached, the error is logged and ``HANDLER_FAILURE``
    is emitted; the other handlers still run and ``execute`` returns normally. A ``BaseException``
    that is not an ``Exception`` (cancellation, ``KeyboardInterrupt``, ``SystemExit``) is a signal,
    not a handler bug: it propagates and the handler stays attached.
    """
    try:
        slot = _by_event.get(event)
    except TypeError:  # unhashable, e.g. a list
        raise TypeError(f"a telemetry event name must be a tuple of str, got {event!r}") from None
    if slot is None:
        if event.__class__ is not tuple:
            raise TypeError(f"a telemetry event name must be a tuple of str, got {event!r}")
        return
    # Every check here is paid by every emit with a listener: `.__class__` beats `type()`, and
    # metadata is only defaulted (its type is left to the type checker).
    if measurements.__class__ is not dict:
        measurements = _measurements(measurements)
    if metadata is None:
        metadata = _EMPTY
    (function, config, record), rest = slot
    try:
        function(event, measurements, metadata, config)
    except Exception as error:
        _failed(record, event, error, 0)
    if rest:
        _dispatch(rest, event, measurements, metadata, 0)


def _dispatch(
    entries: tuple[_Entry, ...],
    event: EventName,
    measurements: Mapping[str, float],
    metadata: Mapping[str, object],
    depth: int,
) -> None:
    for function, config, record in entries:
        try:
            function(event, measurements, metadata, config)
        except Exception as error:
            _failed(record, event, error, depth)


def _measurements(measurements: object) -> Mapping[str, float]:
    if measurements is None:
        return _EMPTY
    if isinstance(measurements, Mapping):
        return measurements
    if isinstance(measurements, (int, float)) and not isinstance(measurements, bool):
        warnings.warn(
            "telemetry measurements as a bare number are deprecated: pass {'value': n}",
            DeprecationWarning,
            stacklevel=3,
        )
        return {"value": measurements}
    raise TypeError(f"telemetry measurements must be a mapping, got {measurements!r}")


def _failed(handler: Handler, event: EventName, error: Exception, depth: int) -> None:
    """Detach a handler that raised, log it once and emit ``HANDLER_FAILURE`` (OTP's order)."""
    with _lock:
        # Detach this registration only: the handler may have detached itself, or its id may have
        # been re-attached since the snapshot was taken (test_failure_spares_a_reattached_id).
        # Identity, not ==: a re-attached record with the same fields is a different registration.
        records = _by_id.get(handler.id)
        if records is not None and any(r is handler for r in records):
            del _by_id[handler.id]
            _remove(records)
    log.error(
        "telemetry handler %r failed on event %r and was detached",
        handler.id,
        event,
        exc_info=(type(error), error, error.__traceback__),
    )
    failure_handlers = _entries(HANDLER_FAILURE)
    if not failure_handlers or depth >= _MAX_FAILURE_DEPTH:
        return
    measurements = {"monotonic_time": time.perf_counter_ns(), "system_time": time.time_ns()}
    metadata = {
        "event_name": event,
        "handler_id": handler.id,
        "handler_config": handler.config,
        "kind": type(error),
        "reason": error,
        "stacktrace": traceback.extract_tb(error.__traceback__),
    }
    _dispatch(failure_handlers, HANDLER_FAILURE, measurements, metadata, depth + 1)


# --- spans -------------------------------------------------------------------------------------


class Span:
    """A timed operation: ``prefix + ("start",)``, then ``("stop",)`` or ``("exception",)``.

    Use it as ``with span(...) as s:`` or ``async with span(...) as s:``. ``s.metadata`` (the
    start metadata, with ``telemetry_span_context``) and ``s.measurements`` (empty) are dicts the
    body may update: on success the stop event carries ``s.metadata`` and ``s.measurements`` plus
    ``duration`` and ``monotonic_time``, which extras cannot override. On an exception the
    exception event carries ``s.metadata`` plus ``kind`` (the exception class), ``reason`` (the
    exception) and ``stacktrace`` (a ``traceback.StackSummary``), with only ``duration`` and
    ``monotonic_time``; then the exception propagates. Every ``BaseException`` counts, cancellation
    included: the span observes, it never swallows.
    """

    __slots__ = ("_start", "context", "measurements", "metadata", "prefix")

    def __init__(self, prefix: EventName, metadata: Mapping[str, object] | None = None) -> None:
        self.prefix = _check_name(prefix, "span prefix", allow_empty=False)
        self.metadata: dict[str, object] = dict(metadata) if metadata is not None else {}
        self.context: object = self.metadata.setdefault("telemetry_span_context", object())
        self.measurements: dict[str, float] = {}
        self._start: int | None = None

    def __repr__(self) -> str:
        return f"<Span {self.prefix!r}{'' if self._start is None else ' started'}>"

    def start(self) -> None:
        """Emit the start event and start the clock (what entering the context does)."""
        if self._start is not None:
            raise RuntimeError(f"{self!r} was already started: make a new span() per operation")
        start = time.perf_counter_ns()
        self._start = start
        event = (*self.prefix, "start")
        if event in _by_event:  # build the event only for a listener: spans sit on hot paths too
            measurements = {"system_time": time.time_ns(), "monotonic_time": start}
            execute(event, measurements, dict(self.metadata))

    def finish(self, error: BaseException | None = None) -> None:
        """Emit the stop event, or the exception event if ``error`` is given (what leaving does)."""
        stop = time.perf_counter_ns()
        if self._start is None:
            raise RuntimeError(f"{self!r} was never started")
        event = (*self.prefix, "stop" if error is None else "exception")
        if event not in _by_event:
            return
        timing = {"duration": stop - self._start, "monotonic_time": stop}
        metadata = dict(self.metadata)
        metadata.setdefault("telemetry_span_context", self.context)
        if error is None:
            execute(event, {**self.measurements, **timing}, metadata)
            return
        metadata["kind"] = type(error)
        metadata["reason"] = error
        metadata["stacktrace"] = traceback.extract_tb(error.__traceback__)
        execute(event, timing, metadata)

    def __enter__(self) -> Span:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(error)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(error)


def span(prefix: EventName, metadata: Mapping[str, object] | None = None) -> Span:
    """A ``Span`` for ``with``/``async with``; ``metadata`` is the start metadata (copied)."""
    return Span(prefix, metadata)


def span_call(
    prefix: EventName,
    metadata: Mapping[str, object] | None,
    fn: Callable[[], tuple[T, Mapping[str, object]] | tuple[T, Mapping[str, float], Mapping[str, object]]],
) -> T:
    """OTP's ``span/3``: ``fn()`` returns ``(result, stop_metadata)`` or
    ``(result, extra_measurements, stop_metadata)``; ``result`` is returned.

    As in OTP the stop event's metadata is ``stop_metadata`` (plus the span context), not the start
    metadata; a raise emits the exception event with the start metadata and propagates.
    """
    with Span(prefix, metadata) as s:
        outcome = fn()
        if len(outcome) == 2:
            result, stop_metadata = outcome
        elif len(outcome) == 3:
            result, extra, stop_metadata = outcome
            s.measurements.update(extra)
        else:
            raise TypeError(f"a span_call function must return a 2- or 3-tuple, got {outcome!r}")
        s.metadata = {"telemetry_span_context": s.context, **stop_metadata}
    return result


# --- capturing events in tests -----------------------------------------------------------------


class Captured(NamedTuple):
    """One event seen by ``capture``; measurements and metadata are copies taken at emit time."""

    event: EventName
    measurements: dict[str, float]
    metadata: dict[str, object]


class Capture(list[Captured]):
    """The list ``capture`` fills, in emit order, plus ``of(event)`` and ``await wait(event)``."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        super().__init__()
        self._waiters: list[tuple[EventName | None, int, asyncio.Future[Captured]]] = []

    def of(self, event: EventName) -> list[Captured]:
        """The captured emissions of ``event``, in order."""
        return [c for c in self if c.event == event]

    async def wait(self, event: EventName | None = None, *, count: int = 1) -> Captured:
        """The ``count``-th emission of ``event`` (of any captured event if ``None``), awaited.

        Emissions already captured count. Bound the wait with ``asyncio.timeout``.
        """
        matching = self if event is None else self.of(event)
        if len(matching) >= count:
            return matching[count - 1]
        future: asyncio.Future[Captured] = asyncio.get_running_loop().create_future()
        waiter = (event, count, future)
        self._waiters.append(waiter)
        try:
            return await future
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _record(
        self, event: EventName, measurements: Mapping[str, float], metadata: Mapping[str, object]
    ) -> None:
        captured = Captured(event, dict(measurements), dict(metadata))
        self.append(captured)
        for waiter in list(self._waiters):
            wanted, count, future = waiter
            if wanted is not None and wanted != event:
                continue
            seen = len(self) if wanted is None else len(self.of(wanted))
            if seen == count:
                self._waiters.remove(waiter)
                _resolve(future, captured)


def _resolve(future: asyncio.Future[Captured], captured: Captured) -> None:
    """Complete a waiter from whatever thread emitted the event."""

    def settle() -> None:
        if not future.done():
            future.set_result(captured)

    loop = future.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        settle()
    else:
        loop.call_soon_threadsafe(settle)


@contextmanager
def capture(*events: EventName) -> Iterator[Capture]:
    """Collect every emission of ``events`` while the block runs (a test helper).

    >>> with capture(("demo", "ping")) as seen:
    ...     execute(("demo", "ping"), {"n": 1}, {"who": "doc"})
    >>> seen
    [Captured(event=('demo', 'ping'), measurements={'n': 1}, metadata={'who': 'doc'})]
    """
    if not events:
        raise ValueError("capture() needs at least one event name")
    captured = Capture()
    handler_id = f"supervisor.telemetry.capture-{id(captured):x}"

    def record(
        event: EventName, measurements: Mapping[str, float], metadata: Mapping[str, object], _: Any
    ) -> None:
        captured._record(event, measurements, metadata)

    attach_many(handler_id, list(events), record)
    try:
        yield captured
    finally:
        try:
            detach(handler_id)
        except HandlerNotFound:
            pass
