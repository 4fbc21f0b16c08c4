"""The switched interfaces of the error context and span management (daemon/context_switched.py,
daemon/spans/switched.py): each call takes the path its flag chooses, and nothing is lost when the
flag flips, one flip at a time and under load (docs/migrations.md, "Error context and spans")."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from daemon import context_switched as ctx
from daemon.context import current_span_ref
from daemon.context import get_context as supervised_context
from daemon.legacy import error_context, span_stacks
from daemon.spans import ORPHAN_END, START, STOP, SpanRef
from daemon.spans import switched as spans
from supervisor.testing import capture
from tests.daemon.switched_paths import Paths, paths


@pytest.fixture
async def both() -> AsyncIterator[Paths]:
    async with paths("supervised") as running:
        yield running


async def test_without_a_flags_server_the_supervised_path_serves() -> None:
    assert ctx.backend() == "supervised"
    assert spans.backend() == "supervised"
    with ctx.with_context(a=1):
        assert dict(supervised_context()) == {"a": 1}
    assert error_context.held() == 0


async def test_each_call_takes_the_path_its_flag_chooses(both: Paths) -> None:
    await both.choose("legacy")
    assert ctx.backend() == "legacy"
    assert spans.backend() == "legacy"
    with ctx.with_context(a=1):
        assert dict(ctx.get_context()) == {"a": 1}
        assert not supervised_context()  # the legacy path wrote its dict only
        assert error_context.held() == 1
    assert error_context.held() == 0  # the block's end removed the entry
    ref = spans.start_span("legacy")
    assert spans.backend_of(ref) == "legacy"
    assert both.spans.open_spans() == []
    assert spans.end_span(ref)
    await both.choose("supervised")
    with ctx.with_context(b=2):
        assert dict(supervised_context()) == {"b": 2}
    ref = spans.start_span("supervised")
    assert spans.backend_of(ref) == "supervised"
    assert len(both.spans.open_spans()) == 1
    assert spans.end_span(ref)


async def test_context_set_on_one_path_is_seen_on_the_other_and_restored_on_each(both: Paths) -> None:
    with ctx.with_context(outer=1):  # supervised
        await both.choose("legacy")
        assert dict(ctx.get_context()) == {"outer": 1}
        with ctx.with_context(middle=2):  # legacy, on top of the supervised block
            await both.choose("supervised")
            assert dict(ctx.get_context()) == {"outer": 1, "middle": 2}  # handed over
            assert error_context.held() == 0
            with ctx.with_context(inner=3):  # supervised again
                await both.choose("legacy")
                assert dict(ctx.get_context()) == {"outer": 1, "middle": 2, "inner": 3}
            assert dict(ctx.get_context()) == {"outer": 1, "middle": 2}
            await both.choose("supervised")
        assert dict(ctx.get_context()) == {"outer": 1}
        await both.choose("legacy")
    assert dict(ctx.get_context()) == {}
    await both.choose("supervised")
    assert dict(ctx.get_context()) == {}
    assert error_context.held() == 0


async def test_an_exception_leaving_a_legacy_block_carries_its_context(both: Paths) -> None:
    await both.choose("legacy")
    with pytest.raises(KeyError) as caught, ctx.with_context(order=7), ctx.temporary_context(step="pay"):
        raise KeyError("card")
    carried = getattr(caught.value, "__arbord_context__", None)
    assert carried is not None
    assert dict(carried) == {"step": "pay"}
    assert dict(ctx.get_context()) == {}


async def test_a_span_ends_on_the_path_that_started_it(both: Paths) -> None:
    with capture(START, STOP, ORPHAN_END) as seen:
        outer = spans.start_span("outer")  # supervised
        await both.choose("legacy")
        inner = spans.start_span("inner")  # legacy, child of the supervised span
        assert inner.parent == outer
        assert inner.trace_id == outer.trace_id
        await both.choose("supervised")
        assert spans.end_span(inner)  # by the legacy path, whatever the flag says
        assert current_span_ref() == outer
        await both.choose("legacy")
        assert spans.end_span(outer)  # by the span server
    assert current_span_ref() is None
    assert [(c.event[2], c.metadata["span_name"]) for c in seen] == [
        ("start", "outer"),
        ("start", "inner"),
        ("stop", "inner"),
        ("stop", "outer"),
    ]
    assert both.spans.open_spans() == []
    assert span_stacks.held() == 0


async def test_under_load_flips_lose_no_context_and_no_span(both: Paths) -> None:
    """Fifty tasks nest blocks and spans while the flags flip as fast as the flags server writes:
    every task always reads the fields of every block it is in, every span started stops once."""
    rng = random.Random(16)
    done = asyncio.Event()
    seen_paths: set[str] = set()

    async def worker(n: int) -> None:
        for i in range(40):
            with ctx.with_context(task=n), spans.span("outer") as outer:
                seen_paths.add(spans.backend_of(outer))
                await asyncio.sleep(0)
                async with ctx.with_context(step=i):
                    inner = spans.start_span("inner")
                    seen_paths.add(spans.backend_of(inner))
                    await asyncio.sleep(0)
                    assert dict(ctx.get_context()) == {"task": n, "step": i}
                    assert current_span_ref() == inner
                    assert spans.end_span(inner)
                await asyncio.sleep(0)
                assert dict(ctx.get_context()) == {"task": n}
                assert current_span_ref() == outer
            assert dict(ctx.get_context()) == {}
            assert current_span_ref() is None

    async def flipper() -> int:
        flips = 0
        while not done.is_set():
            await both.choose(rng.choice(("supervised", "legacy")))
            flips += 1
        return flips

    with capture(START, STOP, ORPHAN_END) as seen:
        flipping = asyncio.create_task(flipper())
        await asyncio.gather(*(worker(n) for n in range(50)))
        done.set()
        flips = await flipping
    started = [str(c.metadata["span_id"]) for c in seen if c.event == START]
    stopped = [str(c.metadata["span_id"]) for c in seen if c.event == STOP]
    assert len(started) == 50 * 40 * 2
    assert sorted(started) == sorted(stopped)  # each started span stopped exactly once
    assert not [c for c in seen if c.event == ORPHAN_END]
    assert seen_paths == {"supervised", "legacy"}
    assert flips > 10
    assert {c.metadata["status"] for c in seen if c.event == STOP} == {"ok"}
    await asyncio.sleep(0)
    assert error_context.held() == 0
    assert span_stacks.held() == 0
    assert both.spans.open_spans() == []


async def test_a_plain_span_ref_with_a_legacy_spans_ids_ends_it_on_the_legacy_path(both: Paths) -> None:
    await both.choose("legacy")
    outer = spans.start_span("outer")
    inner = spans.start_span("inner")
    await both.choose("supervised")
    assert spans.end_span(SpanRef(inner.trace_id, inner.span_id, inner.sampled))
    assert current_span_ref() == outer  # the span's own parent, not the rebuilt ref's (none)
    assert spans.end_span(outer)
    assert span_stacks.open_count() == 0
