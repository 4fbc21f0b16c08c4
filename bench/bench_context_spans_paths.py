"""Benchmarks of the error context's and span management's two paths (docs/migrations.md, "Error
context and spans: two paths behind their flags"), measured in the same process in alternating
rounds, with a flags server and a span server running as in the daemon:

- **new path against legacy path**, both through the switched interface (so both pay the same flag
  read): ``with_context`` enter+exit, ``get_context`` inside a block, and a span's start+end, with the
  flag on (supervised: ``daemon.context``, the span server's table) against the flag off (legacy:
  ``daemon.legacy``'s per-task dicts). Target 1x: the seed asks that performance be "maintained or
  improved" (Foundation's own bar was 3x: Logger metadata against the process dictionary).
- **the switched interface's cost** (information): the switched call on the supervised path against
  the direct call it wraps (``daemon.context.with_context``, ``daemon.spans.start_span``/``end_span``),
  and ``use_supervised`` alone against a dict lookup: what a flag read per call adds.
- **the flag read's parts** (information): ``use_supervised`` against ``Flags.enabled`` alone (the
  one table read the issue allows it), and against its previous body (``whereis`` then the same
  checks), kept here as the baseline of its speed-up.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from bench.harness import Row, median_time, paired, per_op
from bench.loops import run_on
from daemon import context as direct_context
from daemon import context_switched
from daemon.flags import FLAGS_NAME, Flags, MemoryStore
from daemon.flags.config import FlagsSettings
from daemon.flags.migration.backend import use_supervised
from daemon.spans import SPANS_NAME, SpanRef, SpanServer
from daemon.spans import api as direct_spans
from daemon.spans import switched as switched_spans
from supervisor import whereis

OPS = 50_000
ROUNDS = 11
CONTEXT_FLAG = context_switched.FLAG
SPANS_FLAG = switched_spans.FLAG


def _with_context(block: Callable[..., AbstractContextManager[object]], n: int) -> None:
    for _ in range(n):
        with block(request_id="r1"):
            pass


def _get_context(get: Callable[[], object], n: int) -> None:
    for _ in range(n):
        get()


def _span(start: Callable[[str], SpanRef], end: Callable[[SpanRef], bool], n: int) -> None:
    for _ in range(n):
        end(start("op"))


def _flag_read(n: int) -> None:
    read = use_supervised
    for _ in range(n):
        read(CONTEXT_FLAG)


def _enabled(flags: Flags, n: int) -> None:
    read = flags.enabled
    for _ in range(n):
        read(CONTEXT_FLAG, None)


def _use_supervised_by_whereis(flag: str, actor: str | None = None) -> bool:
    """``use_supervised``'s body before the name-table view: ``whereis`` and its liveness property."""
    server = whereis(FLAGS_NAME)
    if not isinstance(server, Flags) or not server._ready:
        return True
    return server.enabled(flag, actor)


def _flag_read_by_whereis(n: int) -> None:
    read = _use_supervised_by_whereis
    for _ in range(n):
        read(CONTEXT_FLAG)


def _dict_get(n: int) -> None:
    get = {CONTEXT_FLAG: True}.get
    for _ in range(n):
        get(CONTEXT_FLAG)


async def _measure() -> list[tuple[str, float, float, float | None]]:
    settings = FlagsSettings.model_validate(
        {"store": "memory", CONTEXT_FLAG: {"default": True}, SPANS_FLAG: {"default": True}}
    )
    flags = await Flags.start(settings, store=MemoryStore(), name=FLAGS_NAME)
    spans = await SpanServer.start(name=SPANS_NAME)
    on = {"value": True}

    async def choose(value: bool) -> None:
        if on["value"] is not value:
            for flag in (CONTEXT_FLAG, SPANS_FLAG):
                await (flags.enable if value else flags.disable)(flag, actor="bench")
            on["value"] = value

    results: dict[str, tuple[float, float]] = {}

    async def pair(name: str, run: Callable[[int], None], n: int) -> None:
        # One round on each path in turn (a flip is a server call, so rounds alternate here).
        new, old = [], []
        for _ in range(ROUNDS):
            await choose(False)
            old.append(median_time(lambda: run(n), repeat=1))
            await choose(True)
            new.append(median_time(lambda: run(n), repeat=1))
        new.sort()
        old.sort()
        results[name] = (per_op(new[ROUNDS // 2], n), per_op(old[ROUNDS // 2], n))

    try:
        with direct_context.with_context(service="bench"):
            await pair("with_context", lambda n: _with_context(context_switched.with_context, n), OPS)
            with context_switched.with_context(step="read"):
                await pair("get_context", lambda n: _get_context(context_switched.get_context, n), OPS * 4)
            await pair("span", lambda n: _span(switched_spans.start_span, switched_spans.end_span, n), OPS)
            await choose(True)
            switched_block = paired(
                lambda: _with_context(context_switched.with_context, OPS),
                lambda: _with_context(direct_context.with_context, OPS),
                rounds=ROUNDS,
            )
            switched_span = paired(
                lambda: _span(switched_spans.start_span, switched_spans.end_span, OPS),
                lambda: _span(direct_spans.start_span, direct_spans.end_span, OPS),
                rounds=ROUNDS,
            )
            read = paired(lambda: _flag_read(OPS * 4), lambda: _dict_get(OPS * 4), rounds=ROUNDS)
            table = paired(lambda: _flag_read(OPS * 4), lambda: _enabled(flags, OPS * 4), rounds=ROUNDS)
            before = paired(
                lambda: _flag_read(OPS * 4), lambda: _flag_read_by_whereis(OPS * 4), rounds=ROUNDS
            )
    finally:
        await spans.stop()
        await flags.stop()
    return [
        ("with_context enter+exit: supervised vs legacy path", *results["with_context"], 1.0),
        ("get_context: supervised vs legacy path", *results["get_context"], 1.0),
        ("span start+end: supervised vs legacy path", *results["span"], 1.0),
        (
            "switched with_context vs daemon.context's",
            per_op(switched_block[0], OPS),
            per_op(switched_block[1], OPS),
            None,
        ),
        (
            "switched span start+end vs daemon.spans'",
            per_op(switched_span[0], OPS),
            per_op(switched_span[1], OPS),
            None,
        ),
        ("use_supervised(flag) vs dict.get", per_op(read[0], OPS * 4), per_op(read[1], OPS * 4), None),
        ("use_supervised(flag) vs Flags.enabled", per_op(table[0], OPS * 4), per_op(table[1], OPS * 4), None),
        (
            "use_supervised(flag) vs its whereis body",
            per_op(before[0], OPS * 4),
            per_op(before[1], OPS * 4),
            None,
        ),
    ]


def run(loop_name: str) -> list[Row]:
    return [
        Row("paths", name, loop_name, new, baseline, "us", target)
        for name, new, baseline, target in run_on(loop_name, _measure())
    ]
