"""Benchmarks of spans: start+end against OpenTelemetry's SDK, the envelope hook's cost on a call
round trip, and memory after 10,000 tasks die with open spans.

- **span start+end, no listener** vs the OTel SDK's ``start_as_current_span`` with no exporter (a
  ``TracerProvider`` with no processor), both in a task on the same loop, alternating rounds. The
  target is arbord at most a tenth of OTel's time (10x faster).
- **call round trip, hook on** (the daemon's envelope hook installed, a span current, so the hook
  captures, enters and exits) vs **hook off** (no hook installed): at most 1.10. And with the hook
  on but nothing current (it captures nothing): information.
- **memory after 10,000 tasks die with open spans** (two each), vs before, measured with
  ``tracemalloc`` after one such batch has already run (a dict keeps the room it grew to): at most
  1.01, and the span table empty.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import tracemalloc
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from bench.harness import Row, per_op
from bench.loops import run_on
from daemon.spans import SPANS_NAME, SpanServer, end_span, span, start_span
from daemon.spans.envelope import CONTEXT_ENVELOPE
from supervisor import Caller, Server
from supervisor.lowlevel import set_envelope_hook

# CPU time, not wall time: on a shared machine other processes' load moved wall-clock ratios by
# half from run to run (docs/performance.md, "Spans"); all measured here is CPU work in this process.
_clock = time.process_time

OPS = 20_000
CALLS = 10_000
ROUNDS = 15
TASKS = 10_000


class Echo(Server):
    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return request


def _arbord_spans() -> float:
    start = _clock()
    for _ in range(OPS):
        end_span(start_span("op"))
    return _clock() - start


def _arbord_blocks() -> float:
    start = _clock()
    for _ in range(OPS):
        with span("op"):
            pass
    return _clock() - start


def _otel(tracer: Any) -> float:
    start = _clock()
    for _ in range(OPS):
        with tracer.start_as_current_span("op"):
            pass
    return _clock() - start


async def _span_costs() -> tuple[float, float, float]:
    server = await SpanServer.start(name=SPANS_NAME)
    tracer = TracerProvider().get_tracer("bench")
    ours, blocks, theirs = [], [], []
    for _ in range(ROUNDS):
        theirs.append(_otel(tracer))
        ours.append(_arbord_spans())
        blocks.append(_arbord_blocks())
    await server.stop()
    return (
        per_op(statistics.median(ours), OPS),
        per_op(statistics.median(blocks), OPS),
        per_op(statistics.median(theirs), OPS),
    )


async def _round_trips(echo: Echo) -> float:
    start = _clock()
    for i in range(CALLS):
        await echo.call(i)
    return _clock() - start


async def _hook_costs() -> tuple[float, float, float]:
    server = await SpanServer.start(name=SPANS_NAME, carry_context=False)
    echo = await Echo.start()
    off, on, idle = [], [], []
    ref = start_span("caller")
    for _ in range(ROUNDS):
        set_envelope_hook(None)
        off.append(await _round_trips(echo))
        set_envelope_hook(CONTEXT_ENVELOPE)
        on.append(await _round_trips(echo))
        end_span(ref)
        idle.append(await _round_trips(echo))
        ref = start_span("caller")
    set_envelope_hook(None)
    end_span(ref)
    await echo.stop()
    await server.stop()
    return (
        per_op(statistics.median(on), CALLS),
        per_op(statistics.median(idle), CALLS),
        per_op(statistics.median(off), CALLS),
    )


async def _die_with_open_spans() -> None:
    async def worker() -> None:
        start_span("job")
        start_span("step")

    tasks = [asyncio.create_task(worker()) for _ in range(TASKS)]
    await asyncio.gather(*tasks)
    await asyncio.sleep(0)  # the tasks' done callbacks
    del tasks


async def _memory() -> tuple[float, float, int]:
    tracemalloc.start()
    server = await SpanServer.start(name=SPANS_NAME)
    await _die_with_open_spans()  # the table's dict grows to its room once
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    await _die_with_open_spans()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    left = len(server.table)
    await server.stop()
    return after / 1024, before / 1024, left


def run(loop_name: str) -> list[Row]:
    ours, blocks, theirs = run_on(loop_name, _span_costs())
    on, idle, off = run_on(loop_name, _hook_costs())
    after, before, left = run_on(loop_name, _memory())
    assert left == 0, f"{left} rows left in the span table"
    return [
        Row("spans", "start_span+end_span vs OTel start_as_current_span", loop_name, ours, theirs, "us", 0.1),
        Row("spans", "with span() vs OTel start_as_current_span", loop_name, blocks, theirs, "us", None),
        Row("spans", "call round trip, hook on (span current) vs off", loop_name, on, off, "us", 1.10),
        Row("spans", "call round trip, hook on (nothing current) vs off", loop_name, idle, off, "us", None),
        Row(
            "spans",
            "memory after 10k tasks die with open spans vs before",
            loop_name,
            after,
            before,
            "KB",
            1.01,
        ),
    ]
