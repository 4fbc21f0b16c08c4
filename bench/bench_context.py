"""Benchmarks of the error context: entering and leaving a ``with_context`` block, and reading the
context, each compared with what it is built on, measured in the same process in alternating rounds.

- ``with_context`` enter+exit against a plain ``ContextVar.set``/``reset`` pair (target: 3x), and
  against structlog's ``bound_contextvars`` (target: 1x, no slower), the block a structlog user
  would write instead. A third row, for information, compares it with the cheapest possible
  context manager around a set/reset pair: the floor any block-shaped API pays in CPython.
- ``get_context`` against ``ContextVar.get`` (target: 2x).

Each block binds one field inside a context that already holds one, as a request handler does.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from types import TracebackType

import structlog.contextvars

from bench.harness import Row, paired, per_op
from bench.loops import run_on
from daemon.context import get_context, with_context

OPS = 100_000
ROUNDS = 15

# Baselines' own variables (the hidden-state check covers supervisor and daemon, not bench/).
_plain: ContextVar[object] = ContextVar("bench_plain", default=None)


class _Floor:
    """The cheapest block over a ContextVar: set on enter, reset on exit, nothing else."""

    __slots__ = ("_token", "_value")

    def __init__(self, **value: object) -> None:
        self._value = value

    def __enter__(self) -> None:
        self._token = _plain.set(self._value)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        _plain.reset(self._token)


def _set_reset(n: int) -> None:
    var = _plain
    for _ in range(n):
        token = var.set("r1")
        var.reset(token)


def _with_context(n: int) -> None:
    block = with_context
    for _ in range(n):
        with block(request_id="r1"):
            pass


def _bound_contextvars(n: int) -> None:
    bound = structlog.contextvars.bound_contextvars
    for _ in range(n):
        with bound(request_id="r1"):
            pass


def _floor(n: int) -> None:
    for _ in range(n):
        with _Floor(request_id="r1"):
            pass


def _get_context(n: int) -> None:
    get = get_context
    for _ in range(n):
        get()


def _var_get(n: int) -> None:
    get = _plain.get
    for _ in range(n):
        get()


def _paired(arbord: Callable[[int], None], baseline: Callable[[int], None], n: int) -> tuple[float, float]:
    a, b = paired(lambda: arbord(n), lambda: baseline(n), rounds=ROUNDS)
    return per_op(a, n), per_op(b, n)


async def _measure() -> list[tuple[str, float, float, float | None]]:
    structlog.contextvars.clear_contextvars()
    with with_context(service="bench"):
        structlog.contextvars.bind_contextvars(service="bench")
        try:
            pair = _paired(_with_context, _set_reset, OPS)
            structlog_block = _paired(_with_context, _bound_contextvars, OPS)
            floor = _paired(_with_context, _floor, OPS)
            read = _paired(_get_context, _var_get, OPS * 4)
        finally:
            structlog.contextvars.clear_contextvars()
    return [
        ("with_context enter+exit vs ContextVar set+reset", *pair, 3.0),
        ("with_context enter+exit vs structlog bound_contextvars", *structlog_block, 1.0),
        ("with_context enter+exit vs a bare set/reset block", *floor, None),
        ("get_context vs ContextVar.get", *read, 2.0),
    ]


def run(loop_name: str) -> list[Row]:
    return [
        Row("context", name, loop_name, arbord, baseline, "us", target)
        for name, arbord, baseline, target in run_on(loop_name, _measure())
    ]
