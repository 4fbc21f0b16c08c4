"""Benchmarks of sampled events: the hot paths of ``daemon.telemetry`` against the hand-written code
they replace, measured in the same process in alternating rounds, and a throughput tier.

- ``emit_once_per`` when it suppresses, against a hand-written dict check (build the key, read the
  clock, ``last = d.get(k); if last is not None and now - last < interval``): target 2x.
- ``emit_once_per`` when it emits, against that check plus the write and a bare
  ``supervisor.telemetry.execute`` to one handler: target 1.5x.
- ``batch`` adding an item, against ``list.append`` plus a dict counter increment: target 3x.
- The throughput tier: events/s the sampled events take (a mix of emits, dedups and batch adds, with
  the server's timer and janitor on the same loop), against the rated 50,000/s, with zero drops.

Each runs with the telemetry server ``arbord.telemetry`` started on the loop, as in the daemon.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bench.harness import Row, per_op
from bench.loops import run_on
from daemon.telemetry import batch, emit, emit_once_per, stats_snapshot
from daemon.telemetry.accounting import balanced
from daemon.telemetry.config import TelemetrySettings
from daemon.telemetry.hub import SERVER_NAME
from daemon.telemetry.sampling_config import EventsSettings
from daemon.telemetry.server import FlushAll, TelemetryServer
from supervisor import telemetry

OPS = 50_000
ROUNDS = 21
EVENT: telemetry.EventName = ("bench", "events", "disk_full")
EMITTED: telemetry.EventName = ("bench", "events", "emitted")
BATCHED: telemetry.EventName = ("bench", "events", "batched")
MEASUREMENTS: Mapping[str, float] = {"free": 1.0}
METADATA: Mapping[str, object] = {"disk": "sda"}
RATED = 50_000.0


def handler(event: Any, measurements: Any, metadata: Any, config: Any) -> None:
    """The cheapest handler, so the rows show the sampled events' own overhead at its largest."""


# --- emit_once_per, suppressed -------------------------------------------------------------------


def _suppressed(n: int) -> None:
    once, ev, m, md = emit_once_per, EVENT, MEASUREMENTS, METADATA
    for _ in range(n):
        once(ev, 3600.0, m, md)


def _dict_check(n: int) -> None:
    d: dict[object, float] = {}
    now0 = time.monotonic()
    d[(EVENT, frozenset(METADATA.items()))] = now0
    monotonic, ev, md = time.monotonic, EVENT, METADATA
    for _ in range(n):
        key = (ev, frozenset(md.items()))
        now = monotonic()
        last = d.get(key)
        if last is not None and now - last < 3600.0:
            continue


# --- emit_once_per, emitting ---------------------------------------------------------------------


def _emitting(n: int) -> None:
    once, ev, m, md = emit_once_per, EMITTED, MEASUREMENTS, METADATA
    for _ in range(n):
        once(ev, 1e-12, m, md)  # consecutive clock reads differ: every call emits


def _dict_check_and_execute(n: int) -> None:
    d: dict[object, float] = {}
    monotonic, execute, ev, m, md = time.monotonic, telemetry.execute, EMITTED, MEASUREMENTS, METADATA
    for _ in range(n):
        key = (ev, frozenset(md.items()))
        now = monotonic()
        last = d.get(key)
        if last is not None and now - last < 1e-12:
            continue
        d[key] = now
        execute(ev, m, md)


# --- batch -----------------------------------------------------------------------------------------


def _batch_adds(n: int) -> None:
    add, ev, item = batch, BATCHED, {"n": 1}
    for _ in range(n):
        add(ev, item, 1_000_000, 3600.0)


def _append_and_count(n: int) -> None:
    items: list[object] = []
    counts: dict[object, int] = {}
    append, ev, item = items.append, BATCHED, {"n": 1}
    for _ in range(n):
        append(item)
        counts[ev] = counts.get(ev, 0) + 1


def _timed(fn: Callable[[int], None], n: int) -> float:
    """CPU seconds of one ``fn(n)`` (the time this process ran, not the time other processes on the
    shared machine ran meanwhile), with the garbage collector held off."""
    gc.disable()
    try:
        start = time.process_time()
        fn(n)
        return time.process_time() - start
    finally:
        gc.enable()


async def _paired(
    arbord: Callable[[int], None],
    baseline: Callable[[int], None],
    n: int,
    between: Callable[[], Awaitable[object]] | None = None,
) -> tuple[float, float]:
    """µs/op of each: the fastest of ``ROUNDS`` alternating rounds (on a shared machine the fastest
    round is the one least disturbed by other processes, as bench_scaling takes it); ``between``
    runs untimed after each round of ``arbord``."""
    a, b = [], []
    for _ in range(ROUNDS):
        b.append(_timed(baseline, n))
        a.append(_timed(arbord, n))
        if between is not None:
            await between()
        await asyncio.sleep(0)
    return per_op(min(a), n), per_op(min(b), n)


# --- throughput ---------------------------------------------------------------------------------------


async def _throughput(seconds: float = 1.0) -> tuple[float, int, bool]:
    """Events/s through a mix (60% emit, 20% emit_once_per, 20% batch add of size 100), yielding to the
    loop every 1,000 events so the server's timer and janitor run; returns the rate, the drops and
    whether the accounting balanced."""
    names = [("bench", "tier", str(k)) for k in range(10)]
    sent = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for i in range(1000):
            name = names[i % 10]
            kind = i % 5
            if kind < 3:
                emit(name, MEASUREMENTS, METADATA)
            elif kind == 3:
                emit_once_per(name, 0.5, MEASUREMENTS, {"k": i % 7})
            else:
                batch(name, {"n": 1}, 100, 0.05)
        sent += 1000
        await asyncio.sleep(0)
    rate = sent / (time.perf_counter() - start)
    rows = stats_snapshot(("bench", "tier"))
    return rate, sum(row["dropped"] for row in rows), all(balanced(row) for row in rows)


async def _measure() -> list[Row]:
    settings = TelemetrySettings(events=EventsSettings(max_pending=2_000_000))  # else the defaults
    server = await TelemetryServer.start(settings, name=SERVER_NAME)
    telemetry.attach_many("bench-events", [EVENT, EMITTED, BATCHED], handler)
    try:
        emit_once_per(EVENT, 3600.0, MEASUREMENTS, METADATA)  # the window the suppressed rows hit
        suppressed = await _paired(_suppressed, _dict_check, OPS)
        emitting = await _paired(_emitting, _dict_check_and_execute, OPS)
        adds = await _paired(_batch_adds, _append_and_count, OPS, lambda: server.call(FlushAll()))
        rate, drops, balanced_ok = await _throughput()
    finally:
        telemetry.detach("bench-events")
        await server.stop()
    balance = "balanced" if balanced_ok else "OFF"
    tier = f"events/s vs rated 50k/s ({drops} dropped, {balance})"
    return [
        Row(
            "telemetry_events",
            "emit_once_per suppressed vs dict check",
            "",
            *suppressed,
            "us",
            2.0,
        ),
        Row(
            "telemetry_events",
            "emit_once_per emitting vs check+execute",
            "",
            *emitting,
            "us",
            1.5,
        ),
        Row("telemetry_events", "batch add vs append + dict counter", "", *adds, "us", 3.0),
        Row(
            "telemetry_events",
            tier,
            "",
            rate,
            RATED,
            "ev/s",
            1.0 if drops == 0 and balanced_ok else float("inf"),
            higher_is_better=True,
        ),
    ]


def run(loop_name: str) -> list[Row]:
    return [
        Row(
            row.suite,
            row.name,
            loop_name,
            row.arbord,
            row.baseline,
            row.unit,
            row.target,
            row.higher_is_better,
        )
        for row in run_on(loop_name, _measure())
    ]
