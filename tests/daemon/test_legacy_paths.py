"""The legacy paths of the error context and span management (daemon/legacy/): per-task dicts, and
the leak they would be without their cleanup (docs/migrations.md, "Error context and spans")."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator

import pytest

from daemon.context import current_span_ref, get_context
from daemon.legacy import error_context, span_stacks
from daemon.legacy.span_stacks import LegacySpanRef
from daemon.spans import ORPHAN_END, SPANS_NAME, START, STOP, SpanRef, SpanServer
from supervisor.testing import capture


@pytest.fixture
async def spans() -> AsyncIterator[SpanServer]:
    server = await SpanServer.start(name=SPANS_NAME)
    yield server
    await server.stop()


# --- error context -----------------------------------------------------------------------------


async def test_each_task_has_its_own_entry_and_a_child_inherits_nothing() -> None:
    key = error_context.current_key()
    error_context.put(key, error_context._derived({"request_id": "r-1"}, get_context()))

    async def child() -> object:
        return error_context.get(error_context.current_key())

    assert await asyncio.create_task(child()) is None  # a process dictionary is not inherited
    held = error_context.get(key)
    assert held is not None
    assert dict(held) == {"request_id": "r-1"}
    assert not get_context()  # the legacy path never writes the ContextVar
    error_context.drop(key)
    assert error_context.held() == 0


async def test_a_finished_task_leaves_no_entry_however_many_tasks_set_one() -> None:
    async def worker(n: int) -> None:
        key = error_context.current_key()
        for i in range(3):  # one done callback per task, however many puts
            error_context.put(key, error_context._derived({"n": n, "i": i}, get_context()))

    await asyncio.gather(*(worker(n) for n in range(1000)))
    await asyncio.sleep(0)  # done callbacks run on the loop's next turn
    assert error_context.held() == 0
    assert not error_context._watched


def test_outside_a_loop_the_thread_is_the_key() -> None:
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(error_context.current_key()))
    thread.start()
    thread.join()
    assert seen == [thread.ident]
    assert error_context.current_key() == threading.get_ident()


def test_the_derivation_is_the_supervised_paths_own_and_leaves_the_contextvar_alone() -> None:
    base = error_context._derived({"a": 1}, get_context())
    assert dict(error_context._derived({"b": 2}, base)) == {"a": 1, "b": 2}
    assert dict(error_context._derived({"b": 2}, base, temporary=True)) == {"b": 2}
    assert not get_context()


# --- span stacks -------------------------------------------------------------------------------


async def test_spans_stack_per_task_and_end_by_ref(spans: SpanServer) -> None:
    with capture(START, STOP) as seen:
        outer = span_stacks.start_span("outer")
        inner = span_stacks.start_span("inner", {"k": "v"})
        assert isinstance(outer, LegacySpanRef)
        assert isinstance(inner, SpanRef)
        assert inner.parent == outer
        assert current_span_ref() == inner
        assert spans.open_spans() == []  # not the span server's table
        assert span_stacks.open_count() == 2
        assert span_stacks.end_span(outer)  # in the middle: the inner stays open and current
        assert current_span_ref() == inner
        assert span_stacks.end_span(inner)  # its parent is ended: nothing is current
    assert current_span_ref() is None
    assert [(c.event[2], c.metadata["span_name"]) for c in seen] == [
        ("start", "outer"),
        ("start", "inner"),
        ("stop", "outer"),
        ("stop", "inner"),
    ]
    assert span_stacks.held() == 0
    assert span_stacks.open_count() == 0


async def test_an_orphan_end_returns_false_and_emits(spans: SpanServer) -> None:
    ref = span_stacks.start_span("once")
    assert span_stacks.end_span(ref)
    with capture(ORPHAN_END) as orphans:
        assert not span_stacks.end_span(ref)
    assert [c.metadata["span_id"] for c in orphans] == [ref.span_id]


async def test_tasks_dying_with_open_spans_leave_empty_dicts_and_end_them(spans: SpanServer) -> None:
    async def worker() -> None:
        span_stacks.start_span("left open")
        span_stacks.start_span("and its child")

    async def sleeper() -> None:
        span_stacks.start_span("cancelled")
        await asyncio.Event().wait()

    with capture(STOP) as stops:
        await asyncio.gather(*(worker() for _ in range(500)))
        task = asyncio.create_task(sleeper())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)  # done callbacks run on the loop's next turn
    statuses = [c.metadata["status"] for c in stops]
    assert statuses.count("abandoned") == 1000
    assert statuses.count("cancelled") == 1
    assert stops[0].metadata["span_name"] == "and its child"  # innermost first
    assert span_stacks.held() == 0
    assert span_stacks.open_count() == 0
    assert not span_stacks._watched


def test_outside_a_task_a_legacy_span_is_a_pointer_only() -> None:
    def sync_code() -> None:
        ref = span_stacks.start_span("sync")
        assert current_span_ref() == ref
        assert span_stacks.open_count() == 0
        assert not span_stacks.end_span(ref)  # as the supervised path with a server: nothing recorded

    contextvars.copy_context().run(sync_code)  # the pointer it sets stays in that copy
    assert current_span_ref() is None
