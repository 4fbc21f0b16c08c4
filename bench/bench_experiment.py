"""Benchmarks of experiments (daemon.flags.experiment): what guarding a call with one costs the caller.

The synchronous control is a read of a dict of 1,000 keys (about the cost of a registry lookup's table
read); the async control is the same read after one pass of the event loop (``asyncio.sleep(0)``, the
least an awaited call costs). The candidate is the same call. The experiments server runs, so every
sampled call is counted in its tables. Each row compares with calling the control alone, in the same
run, on the same loop:

- synchronous, on every call (``percent=100``): the control, the candidate after it, four clock reads,
  the comparison, two counter updates and one timing row in the tables, one telemetry emit (no handler
  attached);
- synchronous, on 1% of calls: a guarded call that is not sampled costs a call, a check of the
  arguments and a random draw;
- async, on every call: the candidate in a task of its own under ``asyncio.timeout``, so a task, a
  timer and a done callback per call;
- async, on 1% of calls.

The control is tiny on purpose, so the ratios are large: read the difference (arbord minus baseline),
which is what a migration pays per guarded call; the last two rows hold that difference to a budget.
docs/performance.md has the figures.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable

from bench.harness import Row, paired, per_op
from bench.loops import run_on
from daemon.flags import experiment
from daemon.flags.experiments import Experiments

KEYS = 1_000
CALLS = 20_000
ASYNC_CALLS = 5_000
ROUNDS = 7
SYNC_BUDGET_US = 10.0
ASYNC_BUDGET_US = 50.0

Measured = tuple[str, float, float, float | None]


def _sync_rows(read: Callable[[], object]) -> list[Measured]:
    rows: list[Measured] = []
    for percent in (100, 1):

        def guarded(percent: float = percent) -> None:
            for _ in range(CALLS):
                experiment("bench.sync", read, read, percent=percent)

        def alone() -> None:
            for _ in range(CALLS):
                read()

        a, b = paired(guarded, alone, rounds=ROUNDS)
        rows.append(
            (f"sync experiment at {percent}% vs control alone", per_op(a, CALLS), per_op(b, CALLS), None)
        )
    return rows


async def _timed(run: Callable[[], Awaitable[None]]) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await run()
    return loop.time() - started


async def _async_rows(read: Callable[[], object]) -> list[Measured]:
    async def control() -> object:
        await asyncio.sleep(0)
        return read()

    rows: list[Measured] = []
    for percent in (100, 1):

        async def guarded(percent: float = percent) -> None:
            for _ in range(ASYNC_CALLS):
                await experiment("bench.async", control, control, percent=percent)
            await asyncio.sleep(0)  # the last candidate finishes and is counted

        async def alone() -> None:
            for _ in range(ASYNC_CALLS):
                await control()

        a_times, b_times = [], []
        for _ in range(ROUNDS):  # alternating, so drift hits both
            b_times.append(await _timed(alone))
            a_times.append(await _timed(guarded))
        a, b = statistics.median(a_times), statistics.median(b_times)
        rows.append(
            (
                f"async experiment at {percent}% vs control alone",
                per_op(a, ASYNC_CALLS),
                per_op(b, ASYNC_CALLS),
                None,
            )
        )
    return rows


def _budgets(rows: list[Measured]) -> list[Measured]:
    sync, async_ = rows[0], rows[2]
    return [
        ("  sync at 100%: added per call vs 10 us budget", sync[1] - sync[2], SYNC_BUDGET_US, 1.0),
        ("  async at 100%: added per call vs 50 us budget", async_[1] - async_[2], ASYNC_BUDGET_US, 1.0),
    ]


async def _measure() -> list[Measured]:
    table = {f"key-{n}": n for n in range(KEYS)}

    def read() -> object:
        return table.get("key-500")

    server = await Experiments.start()
    try:
        rows = [*_sync_rows(read), *await _async_rows(read)]
    finally:
        await server.stop()
    return [*rows, *_budgets(rows)]


def run(loop_name: str) -> list[Row]:
    return [
        Row("experiment", name, loop_name, arbord, baseline, "us", target)
        for name, arbord, baseline, target in run_on(loop_name, _measure())
    ]
