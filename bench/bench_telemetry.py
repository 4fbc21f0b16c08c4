"""Benchmarks of the telemetry bus: the cost of an emit, with and without a listener, and of a span.

Each figure is compared with the hand-written code it replaces, measured in the same process in
alternating rounds: a direct call of the handler, a call of an empty function, a hand-rolled timing
context manager. Everything here is synchronous: ``run`` measures inside a coroutine on the named
loop (handlers run in the loop's thread, as in arbord), so each loop's rows are a separate sample.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from bench.harness import Row, paired, per_op
from bench.loops import run_on
from supervisor import telemetry

OPS = 200_000
ROUNDS = 15
EVENT: telemetry.EventName = ("bench", "telemetry", "emit")
SILENT: telemetry.EventName = ("bench", "telemetry", "silent")
SPAN: telemetry.EventName = ("bench", "telemetry", "span")
MEASUREMENTS: Mapping[str, float] = {"value": 1.0}
METADATA: Mapping[str, object] = {"who": "bench"}
CONFIG = {"config": True}


def handler(
    event: telemetry.EventName,
    measurements: Mapping[str, float],
    metadata: Mapping[str, object],
    config: Any,
) -> None:
    """The cheapest handler, so the ratio shows the bus's own overhead at its largest."""


def empty(event: telemetry.EventName, measurements: object, metadata: object) -> None:
    """What an emit with no listener is compared with: calling a function that does nothing."""


class ClockedByHand:
    """A hand-rolled span nobody listens to: read the clock on entry and on exit."""

    __slots__ = ("_start", "duration")

    def __enter__(self) -> ClockedByHand:
        self._start = time.perf_counter_ns()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.duration = time.perf_counter_ns() - self._start


class TimedByHand:
    """A hand-rolled span with a listener: read the clock and call the handler on entry and exit."""

    __slots__ = ("_start",)

    def __enter__(self) -> TimedByHand:
        self._start = time.perf_counter_ns()
        handler(SPAN, {"monotonic_time": self._start}, METADATA, None)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stop = time.perf_counter_ns()
        handler(SPAN, {"duration": stop - self._start, "monotonic_time": stop}, METADATA, None)


def _direct_call(n: int) -> None:
    h, ev, m, md, cfg = handler, EVENT, MEASUREMENTS, METADATA, CONFIG
    for _ in range(n):
        h(ev, m, md, cfg)


def _execute(n: int) -> None:
    execute, ev, m, md = telemetry.execute, EVENT, MEASUREMENTS, METADATA
    for _ in range(n):
        execute(ev, m, md)


def _empty_call(n: int) -> None:
    f, ev, m, md = empty, SILENT, MEASUREMENTS, METADATA
    for _ in range(n):
        f(ev, m, md)


def _execute_silent(n: int) -> None:
    execute, ev, m, md = telemetry.execute, SILENT, MEASUREMENTS, METADATA
    for _ in range(n):
        execute(ev, m, md)


def _span(n: int) -> None:
    span, prefix, md = telemetry.span, SPAN, METADATA
    for _ in range(n):
        with span(prefix, md):
            pass


def _clocked_by_hand(n: int) -> None:
    for _ in range(n):
        with ClockedByHand():
            pass


def _timed_by_hand(n: int) -> None:
    for _ in range(n):
        with TimedByHand():
            pass


def _paired(arbord: Callable[[int], None], baseline: Callable[[int], None], n: int) -> tuple[float, float]:
    """Median µs/op of each, measured in alternating rounds so drift hits both alike."""
    a, b = paired(lambda: arbord(n), lambda: baseline(n), rounds=ROUNDS)
    return per_op(a, n), per_op(b, n)


async def _measure() -> list[tuple[str, float, float, float]]:
    telemetry.attach("bench-emit", EVENT, handler, CONFIG)
    try:
        emit = _paired(_execute, _direct_call, OPS)
        silent = _paired(_execute_silent, _empty_call, OPS)
        bare_span = _paired(_span, _clocked_by_hand, OPS // 4)
        telemetry.attach_many("bench-span", [(*SPAN, "start"), (*SPAN, "stop")], handler)
        try:
            heard_span = _paired(_span, _timed_by_hand, OPS // 4)
        finally:
            telemetry.detach("bench-span")
    finally:
        telemetry.detach("bench-emit")
    return [
        ("execute, 1 handler vs calling the handler directly", *emit, 4.0),
        ("execute, no handler vs calling an empty function", *silent, 3.0),
        ("span, no handler vs reading the clock by hand", *bare_span, 6.0),
        ("span, start+stop handler vs clock+handler by hand", *heard_span, 6.0),
    ]


def run(loop_name: str) -> list[Row]:
    return [
        Row("telemetry", name, loop_name, arbord, baseline, "us", target)
        for name, arbord, baseline, target in run_on(loop_name, _measure())
    ]
