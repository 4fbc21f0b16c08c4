"""The load inside the daemon: a user server that emits telemetry events and opens spans at a rate.

Events and spans are emitted in the daemon's own process (that is where an application's are), so
`make stress` configures this server under ``[servers.stress]`` (bench/stress/daemon.py) and drives
the rest of the load over the control socket. It also *counts* what it did and what came out the
other end, with handlers attached to the events it makes, and writes the account to a JSON file
(``status``) once a second and at the end; the judge (bench/stress/judge.py) checks the identities:

- events: every ``emit_event`` it made is ``received`` by the telemetry server, and every event the
  server let out reached the handler (``emitted == recorded``; ``dropped`` counted, not lost);
- batches: every item batched came out in a flush, each flush within ``2 x flush`` of its first item;
- spans: every span it opened ended exactly once (``ok`` by its owner, or ``cancelled`` by the span
  server when its task was cancelled), none ended twice, none left open;
- loop lag: the daemon's own lag samples (``arbord.loop.lag``), as a histogram.

It starts when the file ``go`` appears (the harness creates it once its clients are connected) and
stops ``duration`` seconds later; a ``duration`` of 0 runs until the daemon stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from bench.stress.histogram import Histogram
from daemon.spans import SPANS_NAME, SpanRef, SpanServer, end_span, start_span
from daemon.spans.events import START as SPAN_START
from daemon.spans.events import STOP as SPAN_STOP
from daemon.telemetry import Emitter
from daemon.watchdog import LAG_EVENT
from supervisor import Exit, Server, telemetry, whereis

__all__ = ["LoadServer"]

TICK: Final = 0.01
"""Seconds between two rounds of load: each round emits what the rate owes since the start."""
MAX_BEHIND: Final = 0.1
"""A round never catches up more than this many seconds of load: what it could not offer is counted
(``behind``), so a saturated loop shows as a shortfall, not as a burst."""
EVENT: Final = ("stress", "tick")
BATCH: Final = ("stress", "batch")
BATCH_SHARE: Final = 0.05
"""Of the events, the share that goes through ``batch`` (the rest ``emit_event``)."""
CANCELLED_PER_TICK: Final = 1
"""Spans opened in a task that is cancelled the next round (the span server must end them)."""
HANDLER_PREFIX: Final = "bench.stress."


class LoadServer(Server):
    """Emits ``events``/s and opens ``spans``/s from ``go`` on, for ``duration`` seconds."""

    async def init(
        self,
        status: str,
        go: str,
        events: float = 0.0,
        spans: float = 0.0,
        duration: float = 0.0,
        flush: float = 0.1,
    ) -> None:
        self._status, self._go = Path(status), Path(go)
        self._events, self._spans, self._duration, self._flush = events, spans, duration, flush
        self._emitter = Emitter(("stress",))
        self._lag = Histogram()
        self._flush_lag = Histogram()
        self._open: set[str] = set()
        self._held: list[SpanRef] = []
        self._holders: list[asyncio.Task[None]] = []
        self.count: dict[str, int] = dict.fromkeys(
            (
                "event_calls",
                "tick_calls",
                "event_recorded",
                "batch_items",
                "batch_flushed",
                "batches",
                "spans_started",
                "spans_opened",
                "spans_ended_ok",
                "spans_ended_cancelled",
                "spans_ended_other",
                "spans_ended_twice",
                "behind_events",
                "behind_spans",
                "ticks",
            ),
            0,
        )
        self._table_max = 0
        self._started: float | None = None
        self._stopped: float | None = None
        self._drain_until = 0.0
        self._batch_opened: float | None = None
        self._last_write = 0.0
        self._attach()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(TICK, self.send, "tick")

    # --- handlers: they run in the emitter's task, so they only count ------------------------------

    def _attach(self) -> None:
        handlers: dict[str, tuple[list[tuple[str, ...]], Callable[..., None]]] = {
            "events": ([EVENT], self._on_event),
            "batch": ([BATCH], self._on_batch),
            "spans": ([SPAN_START, SPAN_STOP], self._on_span),
            "lag": ([LAG_EVENT], self._on_lag),
        }
        for name, (events, handler) in handlers.items():
            with contextlib.suppress(Exception):
                telemetry.detach(HANDLER_PREFIX + name)  # left by a crashed incarnation
            telemetry.attach_many(HANDLER_PREFIX + name, events, handler)

    def _on_event(self, event: Any, measurements: Mapping[str, Any], metadata: Any, config: Any) -> None:
        self.count["event_recorded"] += 1

    def _on_batch(self, event: Any, measurements: Mapping[str, Any], metadata: Any, config: Any) -> None:
        self.count["batch_flushed"] += int(measurements.get("n", 0))
        self.count["batches"] += 1
        if self._batch_opened is not None:
            self._flush_lag.add(time.monotonic() - self._batch_opened)
            self._batch_opened = None

    def _on_span(
        self, event: Any, measurements: Mapping[str, Any], metadata: Mapping[str, Any], config: Any
    ) -> None:
        name = metadata.get("span_name", "")
        if not isinstance(name, str) or not name.startswith("stress."):
            return
        span_id = metadata.get("span_id")
        if event == SPAN_START:
            self.count["spans_started"] += 1
            self._open.add(str(span_id))
            return
        if str(span_id) not in self._open:
            self.count["spans_ended_twice"] += 1
            return
        self._open.discard(str(span_id))
        status = metadata.get("status")
        key = {"ok": "spans_ended_ok", "cancelled": "spans_ended_cancelled"}.get(str(status))
        self.count[key or "spans_ended_other"] += 1

    def _on_lag(self, event: Any, measurements: Mapping[str, Any], metadata: Any, config: Any) -> None:
        lag = float(measurements.get("lag", 0)) / 1e9
        if self._started is not None and self._stopped is None:
            self._lag.add(lag)

    # --- the load ---------------------------------------------------------------------------------

    async def handle_info(self, message: Any) -> None:
        if message != "tick":
            return
        now = time.monotonic()
        if self._started is None and self._go.exists():
            self._started = now
        if self._started is not None and self._stopped is None:
            elapsed = now - self._started
            if self._duration and elapsed >= self._duration:
                self._finish_load(now)
            else:
                self.count["ticks"] += 1
                self._offer(elapsed)
        if now - self._last_write >= 1.0:
            self._write(now)
        self._timer = asyncio.get_running_loop().call_later(TICK, self.send, "tick")

    def _offer(self, elapsed: float) -> None:
        count = self.count
        spans = whereis(SPANS_NAME)
        if isinstance(spans, SpanServer):
            self._table_max = max(self._table_max, len(spans.open_by_id))
        owed = int(self._events * elapsed) - count["event_calls"]
        cap = int(self._events * MAX_BEHIND) + 1
        if owed > cap:
            count["behind_events"] += owed - cap
            count["event_calls"] += owed - cap  # offered later never: counted as not offered
            owed = cap
        emit = self._emitter.emit_event
        for n in range(owed):
            if n % 20 == 0 and BATCH_SHARE:
                if self._batch_opened is None:
                    self._batch_opened = time.monotonic()
                self._emitter.batch("batch", {"n": 1}, 1_000_000, self._flush)
                count["batch_items"] += 1
            else:
                emit("tick", {"n": 1}, {"k": n & 7})
                count["tick_calls"] += 1
        count["event_calls"] += owed
        self._end_held()
        owed_spans = int(self._spans * elapsed) - count["spans_opened"]
        cap = int(self._spans * MAX_BEHIND) + 1
        if owed_spans > cap:
            count["behind_spans"] += owed_spans - cap
            count["spans_opened"] += owed_spans - cap
            owed_spans = cap
        holders = min(CANCELLED_PER_TICK, owed_spans)
        for _ in range(holders):
            self._holders.append(asyncio.get_running_loop().create_task(_hold_a_span()))
        self._held = [start_span("stress.op", {"i": i}) for i in range(owed_spans - holders)]
        count["spans_opened"] += owed_spans

    def _end_held(self) -> None:
        """End last round's spans, innermost first, and cancel last round's holders."""
        for ref in reversed(self._held):
            end_span(ref)
        self._held = []
        holders, self._holders = self._holders, []
        for task in holders:
            task.cancel()

    def _finish_load(self, now: float) -> None:
        self._end_held()
        self._stopped = now
        self._drain_until = now + max(1.0, 3 * self._flush)

    # --- the account ------------------------------------------------------------------------------

    def account(self, now: float) -> dict[str, Any]:
        """What was offered and what came out, as the JSON the judge reads."""
        spans = whereis(SPANS_NAME)
        statistics = spans.span_statistics() if isinstance(spans, SpanServer) else None
        started = self._started
        end = self._stopped if self._stopped is not None else now
        drained = self._stopped is not None and now >= self._drain_until
        return {
            "pid": os.getpid(),
            "time": time.time(),
            "running": started is not None and self._stopped is None,
            "done": drained,
            "elapsed": 0.0 if started is None else end - started,
            "rates": {"events": self._events, "spans": self._spans, "flush": self._flush},
            "count": dict(self.count),
            "spans_open_now": len(self._open),
            "span_server_open": None if statistics is None else statistics.open,
            "span_server_dropped": None if statistics is None else dict(statistics.dropped),
            "span_table_max": self._table_max,
            "tasks": len(asyncio.all_tasks()),
            "loop_lag": self._lag.to_json(),
            "flush_lag": self._flush_lag.to_json(),
        }

    def _write(self, now: float) -> None:
        self._last_write = now
        temporary = self._status.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.account(now)))
        os.replace(temporary, self._status)

    async def terminate(self, reason: Exit) -> None:
        self._timer.cancel()
        self._end_held()
        for name in ("events", "batch", "spans", "lag"):
            with contextlib.suppress(Exception):
                telemetry.detach(HANDLER_PREFIX + name)


async def _hold_a_span() -> None:
    """Open a span and wait until cancelled: the span server ends it ``cancelled`` at the task's exit."""
    start_span("stress.held")
    await asyncio.Event().wait()
