"""Benchmark of a metric's hot path: a counter with one tag, updated by ``telemetry.execute`` through
the metrics server's handler (daemon/telemetry/aggregation.py), against ``prometheus_client``'s
labelled ``Counter.labels(...).inc()`` for the same label value — what a service instrumented with
prometheus_client directly would pay. Target: arbord's path is at least as fast (<= 1.0x).

Both count into a table of their own (prometheus_client: a private ``CollectorRegistry``), measured
in alternating rounds in one process; a distribution is shown against a labelled ``Histogram``.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram

from bench.harness import Row, paired, per_op
from bench.loops import run_on
from daemon.telemetry.aggregation import MetricsServer
from daemon.telemetry.metrics import counter, distribution
from supervisor import telemetry

OPS = 100_000
ROUNDS = 15
EVENT: telemetry.EventName = ("bench", "job", "done")
TIMED: telemetry.EventName = ("bench", "job", "timed")
BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)


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
    return [
        ("counter, 1 tag: execute vs Counter.labels().inc()", *count, 1.0),
        ("distribution, 1 tag: execute vs Histogram.labels().observe()", *timed, None),
    ]


def run(loop_name: str) -> list[Row]:
    return [
        Row("telemetry_metrics", name, loop_name, arbord, baseline, "us", target)
        for name, arbord, baseline, target in run_on(loop_name, _measure())
    ]
