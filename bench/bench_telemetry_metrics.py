"""Benchmark of a metric's hot path: a counter with one tag, updated by ``telemetry.execute`` through
the metrics server's handler (daemon/telemetry/aggregation.py), against ``prometheus_client``'s
labelled ``Counter.labels(...).inc()`` for the same label value — what a service instrumented with
prometheus_client directly would pay. Target: arbord's path is at least as fast (<= 1.0x).

Both count into a table of their own (prometheus_client: a private ``CollectorRegistry``), measured
in alternating rounds in one process; a distribution is shown against a labelled ``Histogram``.

The cost of the default metrics on ``call``: round trips to an echo server with the default metrics'
handler of ``("supervisor", "call", "stop")`` attached (one call in ``CALL_SAMPLE_EVERY`` timed and
aggregated) against the same calls with it detached (nobody listens: one lookup per call), in CPU
time, the fastest of alternating rounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from bench.harness import Row, paired, per_op
from bench.loops import run_on
from daemon.telemetry.aggregation import MetricsServer
from daemon.telemetry.metrics import DEFAULT_METRICS, counter, distribution
from supervisor import Caller, Server, telemetry

OPS = 100_000
ROUNDS = 15
EVENT: telemetry.EventName = ("bench", "job", "done")
TIMED: telemetry.EventName = ("bench", "job", "timed")
BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
CALLS = 20_000


def _execute(event: telemetry.EventName, measurements: dict[str, float]) -> Callable[[int], None]:
    def loop(n: int) -> None:
        execute, metadata = telemetry.execute, {"queue": "mail"}
        for _ in range(n):
            execute(event, measurements, metadata)

    return loop


def _labels_inc(metric: Counter) -> Callable[[int], None]:
    def loop(n: int) -> None:
        labels = metric.labels
        for _ in range(n):
            labels("mail").inc()

    return loop


def _labels_observe(metric: Histogram) -> Callable[[int], None]:
    def loop(n: int) -> None:
        labels = metric.labels
        for _ in range(n):
            labels("mail").observe(0.02)

    return loop


def _paired(arbord: Callable[[int], None], baseline: Callable[[int], None], n: int) -> tuple[float, float]:
    a, b = paired(lambda: arbord(n), lambda: baseline(n), rounds=ROUNDS)
    return per_op(a, n), per_op(b, n)


class _Echo(Server):
    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return request


async def _cpu_of_calls(server: Server, n: int) -> float:
    start = time.process_time()
    for i in range(n):
        await server.call(i)
    return time.process_time() - start


async def _call_with_default_metrics() -> tuple[float, float]:
    """µs/call with the default call-latency metric listening, and with nobody listening."""
    metrics = await MetricsServer.start(DEFAULT_METRICS)
    echo = await _Echo.start(name="bench.echo")
    listening = [h for h in telemetry.list_handlers(telemetry.CALL_STOP) if h.event == telemetry.CALL_STOP]
    assert listening, "the default metrics define the call latency"
    on, off = [], []
    try:
        for _ in range(ROUNDS):
            for handler in listening:
                telemetry.detach(handler.id)
            off.append(await _cpu_of_calls(echo, CALLS))
            for handler in listening:
                telemetry.attach(handler.id, handler.event, handler.function, handler.config)
            on.append(await _cpu_of_calls(echo, CALLS))
    finally:
        await echo.stop()
        await metrics.stop()
    return per_op(min(on), CALLS), per_op(min(off), CALLS)


async def _measure() -> list[tuple[str, float, float, float | None]]:
    server = await MetricsServer.start(
        [
            counter("bench.job.done.count", tags=("queue",)),
            distribution("bench.job.timed.took", tags=("queue",), buckets=BUCKETS),
        ]
    )
    registry = CollectorRegistry()
    jobs = Counter("bench_jobs", "Jobs.", ["queue"], registry=registry)
    took = Histogram("bench_took", "Took.", ["queue"], buckets=BUCKETS, registry=registry)
    try:
        count = _paired(_execute(EVENT, {}), _labels_inc(jobs), OPS)
        timed = _paired(_execute(TIMED, {"took": 0.02}), _labels_observe(took), OPS)
    finally:
        await server.stop()
    calls = await _call_with_default_metrics()
    return [
        ("counter, 1 tag: execute vs Counter.labels().inc()", *count, 1.0),
        ("distribution, 1 tag: execute vs Histogram.labels().observe()", *timed, None),
        ("call round trip: default metrics on vs nobody listening", *calls, 1.1),
    ]


def run(loop_name: str) -> list[Row]:
    return [
        Row("telemetry_metrics", name, loop_name, arbord, baseline, "us", target)
        for name, arbord, baseline, target in run_on(loop_name, _measure())
    ]
