"""The span server, ``arbord.spans``: it owns the table of live spans, keyed by the task that opened them.

The ``ContextVar`` in ``daemon.context`` says which span is current in a task; this table is the
source of truth for what is in flight, readable from outside (``arborctl spans``, a crash record).
Callers write their own rows (a public table: start and end never hop through the mailbox); the
server's one job besides answering readers is ending what a dead task left open.

- A task's first span adds its row ``(task, {span_id: LiveSpan}, process)`` and one exit callback
  (``supervisor.lowlevel.add_exit_callback`` on the task, or on its server when the task is a
  server's: then the callback gets the server's exit reason).
- When the task ends, the callback ends every span still open in it — status ``cancelled`` when
  the task was cancelled (or the server killed), ``abandoned`` otherwise, with the exit reason —
  and deletes the row: however many tasks die with open spans, the table comes back to empty
  (``test_ten_thousand_tasks_dying_with_open_spans_leave_an_empty_table``).
- A reload of ``[spans]`` does not restart the server: it takes the new limits in place
  (``UpdateSpanSettings``), so the spans in flight stay in the table and end exactly once (a
  restart would delete the table under them; daemon/spans/component.py).
- The row outlives the task's last ``end_span`` (an empty dict) so that a task opening span after
  span pays for the callback once; rows of tasks with no open span are not listed.

>>> import asyncio
>>> from daemon.spans import start_span
>>> async def demo() -> list[object]:
...     server = await SpanServer.start(name=SPANS_NAME)
...     async def worker() -> None:
...         start_span("left open")
...     await asyncio.create_task(worker())
...     await asyncio.sleep(0)  # the task's done callbacks run on the next turn
...     left = [len(server.table), [s.name for s in server.open_spans()]]
...     await server.stop()
...     return left
>>> asyncio.run(demo())
[0, []]
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any, Final

from daemon.context import SpanRef
from daemon.spans.config import SpansSettings
from daemon.spans.envelope import CONTEXT_ENVELOPE
from daemon.spans.events import emit_stop
from daemon.spans.limits import Limits
from daemon.spans.record import LiveSpan, OpenSpan
from daemon.spans.restarts import RestartTracer
from supervisor import Access, Caller, Exit, ExitKind, Server, Table, current_process
from supervisor.lowlevel import (
    EnvelopeHook,
    Process,
    add_exit_callback,
    envelope_hook,
    set_envelope_hook,
    task_of,
)

__all__ = ["SPANS_NAME", "SpanServer", "SpanStatistics", "UpdateSpanSettings"]

_MAX_CRASHES: Final = 256

SPANS_NAME: Final = "arbord.spans"
"""The span server's registered name in the daemon."""


@dataclass(frozen=True, slots=True)
class SpanStatistics:
    """What the span server counts: spans open now, tasks holding them, spans ended by their task's
    exit, and what spans were given but did not keep, by reason (``daemon.spans.limits``)."""

    open: int
    tasks: int
    abandoned: int
    dropped: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class UpdateSpanSettings:
    """Call the span server with this to have it take ``settings`` in place (a reload of
    ``[spans]``): new limits for the spans started from now on, the spans in flight kept."""

    settings: SpansSettings


def _limits(section: SpansSettings) -> dict[str, Any]:
    return {
        "max_attributes": section.max_attributes,
        "max_events": section.max_events,
        "max_links": section.max_links,
        "traceback": section.traceback,
    }


class SpanServer(Server):
    """The owner of the live-span table. Start it under a supervisor (the daemon's ``spans``
    component does, as ``arbord.spans``) or with ``SpanServer.start(name=...)`` in a program."""

    table: Table
    limits: Limits
    recording: bool = False
    """True from the end of ``init`` to the exit: whether callers may write the table (a hot-path
    flag: the name is registered, and ``whereis`` finds the server, before ``init`` has run)."""

    async def init(self, settings: SpansSettings | None = None, *, carry_context: bool = True) -> None:
        """``carry_context``: install the daemon's envelope hook while this server runs, so that the
        span and error context of a call's sender are current in the handler (docs/spans.md)."""
        self.settings = settings or SpansSettings()
        self.limits = Limits(**_limits(self.settings))
        self.table = Table("arbord.spans", access=Access.PUBLIC)
        self.row_of = self.table.getter()
        """The table's ``get``: a task's row, for daemon.spans' hot path."""
        self._abandoned = 0
        # Every open span by id, beside the table's rows by task: so that ending a span, from
        # whichever task, finds it at once. Written with the rows, by the same callers.
        self.open_by_id: dict[str, LiveSpan] = {}
        # id(exception) -> (exception, the spans its crash left open): for crash records.
        self._at_crash: dict[int, tuple[BaseException, list[OpenSpan]]] = {}
        self.recording = True
        add_exit_callback(self, self._stop_recording)
        if carry_context:
            previous = set_envelope_hook(CONTEXT_ENVELOPE)
            add_exit_callback(self, partial(_uninstall, previous))
        self._restarts = RestartTracer(f"arbord.spans.restarts.{id(self):x}")
        self._restarts.attach()
        add_exit_callback(self, lambda reason: self._restarts.detach())
        self.foreign_parent: Callable[[], SpanRef | None] | None = None
        """Set by a bridge (``daemon.spans.otel``): the span current in another tracer, which a
        span started with no arbord span current takes as its parent."""

    # --- the hot path: run by callers, in their own task ----------------------------------------

    def open(
        self, name: str, ref: SpanRef, attributes: dict[str, object], task: asyncio.Task[Any]
    ) -> LiveSpan:
        """Record a span as open in ``task`` (the caller's); its parent is ``ref.parent``."""
        span_id = ref[1]
        row = self.row_of(task)
        if row is None:
            parent = ref[3]
            parent_live = None if parent is None else self.open_by_id.get(parent[1])
            live = LiveSpan(name, ref, parent_live, attributes, task)
            process: Process = current_process()
            self.table.insert((task, {span_id: live}, process))
            add_exit_callback(process, partial(self._exited, task))
        else:
            parent = ref[3]
            by_id = self.open_by_id
            live = LiveSpan(name, ref, None if parent is None else by_id.get(parent[1]), attributes, task)
            row[1][span_id] = live
        self.open_by_id[span_id] = live
        return live

    def find(self, span_id: str) -> LiveSpan | None:
        """The open span ``span_id``, or None."""
        return self.open_by_id.get(span_id)

    # --- readers ----------------------------------------------------------------------------------

    def open_spans(self, process: Process | None = None) -> list[OpenSpan]:
        """Snapshots of the open spans: of one process (a task, or a server: its task's), or of all,
        oldest first. For a crash record, ``open_spans(server)`` before the server's table row goes."""
        now = time.perf_counter_ns()
        if process is not None:
            row = self.row_of(task_of(process))
            lives: Iterator[LiveSpan] = iter(row[1].values()) if row is not None else iter(())
        else:
            lives = (live for _, spans, _ in self.table.tab2list() for live in spans.values())
        found = [live.view(now) for live in lives]
        found.sort(key=lambda s: s.start_time_ns)
        return found

    def open_at_crash(self, exception: BaseException) -> list[OpenSpan]:
        """The spans a server's crash with ``exception`` left open (``Exit.exception``), as they were
        when it crashed, outermost first; ``[]`` for an exception no server with spans crashed with.
        For a crash record made after the crash (the span server ends those spans at once). The
        last ``_MAX_CRASHES`` crashes are kept."""
        found = self._at_crash.get(id(exception))
        return list(found[1]) if found is not None and found[0] is exception else []

    def span_statistics(self) -> SpanStatistics:
        """Spans open now, tasks holding them, spans ended by their task's exit, drops by reason."""
        rows = [spans for _, spans, _ in self.table.tab2list() if spans]
        dropped = MappingProxyType(dict(self.limits.dropped))
        return SpanStatistics(sum(map(len, rows)), len(rows), self._abandoned, dropped)

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if isinstance(request, UpdateSpanSettings):
            self.settings = request.settings
            self.limits.configure(**_limits(request.settings))
            return None
        raise ValueError(f"{SPANS_NAME}: unknown request {request!r}")

    def _stop_recording(self, reason: Exit) -> None:
        self.recording = False

    # --- a task's exit ------------------------------------------------------------------------------

    def _exited(self, task: asyncio.Task[Any], reason: Exit) -> None:
        table = self.table
        if table.deleted:
            return
        row = self.row_of(task)
        if row is None:
            return
        table.delete(task)
        spans = row[1]
        if reason.exception is not None and isinstance(row[2], Server):
            # Crash -> restart in the trace (daemon/spans/restarts.py), after the spans are ended.
            innermost = next(reversed(spans.values())).ref if spans else None
            now = time.perf_counter_ns()
            at_crash = self._at_crash
            at_crash[id(reason.exception)] = (reason.exception, [live.view(now) for live in spans.values()])
            while len(at_crash) > _MAX_CRASHES:
                del at_crash[next(iter(at_crash))]
            self._end_all(spans, reason)
            self._restarts.crashed(row[2], reason, innermost)
            return
        self._end_all(spans, reason)

    def _end_all(self, spans: dict[str, LiveSpan], reason: Exit) -> None:
        if not spans:
            return
        status = "cancelled" if reason.kind is ExitKind.KILLED else "abandoned"
        extra = {"exit_reason": repr(reason)}
        error = None
        if reason.exception is not None:
            error = f"{type(reason.exception).__name__}: {reason.exception}"
        # Innermost first, as the stack would have unwound.
        by_id = self.open_by_id
        for live in reversed(list(spans.values())):
            by_id.pop(live.ref[1], None)
            live.ended = True
            self._abandoned += 1
            emit_stop(live, status, error, extra)


def _uninstall(previous: EnvelopeHook | None, reason: Exit) -> None:
    if envelope_hook() is CONTEXT_ENVELOPE:
        set_envelope_hook(None if previous is CONTEXT_ENVELOPE else previous)
