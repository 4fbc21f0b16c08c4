"""The flag matrix of the error context and span management: their behavioural suite, run on both
paths through one parametrized fixture (docs/migrations.md, "Error context and spans").

Each test here is a behaviour of ``tests/daemon/test_context.py`` or ``tests/daemon/test_spans_api.py``
(nesting, restoring on every exit, what an exception carries, ending any span, orphan ends, the block
and the decorator, bad input), written against the switched interfaces, and runs once with the flags
choosing the supervised path and once with them choosing the legacy one. The differences the paths
are allowed (a child task's inheritance, the span listing) are tested as differences, at the end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from daemon.context import ContextKeyError, context_of, current_span_ref
from daemon.context_switched import get_context, temporary_context, with_context
from daemon.spans import ORPHAN_END, START, STOP, SpanRef
from daemon.spans.switched import backend, backend_of, end_span, span, start_span
from supervisor.testing import capture
from tests.daemon.switched_paths import Paths, paths

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


@pytest.fixture(params=["supervised", "legacy"])
async def path(request: pytest.FixtureRequest) -> AsyncIterator[Paths]:
    async with paths(request.param) as running:
        assert backend() == request.param
        yield running


# --- the error context ---------------------------------------------------------------------------


async def test_with_context_merges_nested_blocks_and_restores_each(path: Paths) -> None:
    with with_context(request_id="r1", user="ada"):
        with with_context(user="bob", step=2):
            assert dict(get_context()) == {"request_id": "r1", "user": "bob", "step": 2}
        assert dict(get_context()) == {"request_id": "r1", "user": "ada"}
    assert dict(get_context()) == {}


async def test_an_exception_leaving_blocks_carries_the_innermost_context_and_restores(path: Paths) -> None:
    with pytest.raises(ValueError) as caught, with_context(a=1), with_context(b=2):
        raise ValueError("boom")
    carried = context_of(caught.value)
    assert carried is not None
    assert dict(carried) == {"a": 1, "b": 2}
    assert dict(get_context()) == {}


async def test_with_context_restores_when_the_task_is_cancelled(path: Paths) -> None:
    entered = asyncio.Event()
    seen: list[dict[str, object]] = []

    async def worker() -> None:
        async with with_context(job="j1"):
            entered.set()
            try:
                await asyncio.Event().wait()
            finally:
                seen.append(dict(get_context()))

    async def holder() -> None:
        try:
            await worker()
        except asyncio.CancelledError:
            seen.append(dict(get_context()))
            raise

    task = asyncio.create_task(holder())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [{"job": "j1"}, {}]


async def test_blocks_decorate_plain_and_coroutine_functions(path: Paths) -> None:
    @with_context(component="cache")
    def read(depth: int) -> dict[str, object]:
        return read(depth - 1) if depth else dict(get_context())

    @temporary_context(component="registry")
    async def lookup() -> dict[str, object]:
        await asyncio.sleep(0)
        return dict(get_context())

    with with_context(outer=1):
        assert read(3) == {"outer": 1, "component": "cache"}
        assert await lookup() == {"component": "registry"}
    assert dict(get_context()) == {}


async def test_temporary_context_replaces_and_restores(path: Paths) -> None:
    with with_context(a=1):
        with temporary_context({"b": 2}, c=3):
            assert dict(get_context()) == {"b": 2, "c": 3}
        with temporary_context():
            assert dict(get_context()) == {}
        assert dict(get_context()) == {"a": 1}


async def test_keys_that_are_not_identifiers_are_refused_and_nothing_changes(path: Paths) -> None:
    with with_context(a=1):
        with pytest.raises(ContextKeyError), with_context(**{"not an id": 1}):
            pass  # pragma: no cover - refused on entry
        assert dict(get_context()) == {"a": 1}


async def test_fields_past_the_limit_are_dropped(path: Paths) -> None:
    with with_context(**{f"k{i}": i for i in range(100)}):
        ctx = get_context()
    assert len(ctx) + len(ctx.dropped) == 100
    assert ctx.dropped


async def test_tasks_cannot_change_their_parents_context(path: Paths) -> None:
    async def child() -> None:
        with with_context(child=True):
            await asyncio.sleep(0)

    with with_context(parent=1):
        await asyncio.create_task(child())
        assert dict(get_context()) == {"parent": 1}


# --- spans ---------------------------------------------------------------------------------------


async def test_nested_spans_share_the_trace_and_name_their_parent(path: Paths) -> None:
    with capture(START) as starts:
        outer = start_span("outer")
        inner = start_span("inner", {"k": "v"})
    assert len(outer.trace_id) == 32
    assert outer.trace_id == inner.trace_id
    assert starts[1].metadata == {
        "k": "v",
        "span_id": inner.span_id,
        "span_name": "inner",
        "parent_id": outer.span_id,
        "trace_id": outer.trace_id,
    }
    assert set(starts[0].measurements) == {"timestamp", "monotonic_time"}
    assert end_span(inner)
    assert end_span(outer)


async def test_the_stop_event_carries_status_duration_and_the_finished_span(path: Paths) -> None:
    with capture(STOP) as stops:
        ref = start_span("work", {"a": 1})
        assert end_span(ref, attributes={"rows": 3})
    (stop,) = stops
    assert stop.metadata["status"] == "ok"
    assert stop.metadata["rows"] == 3
    finished = stop.metadata["span"]
    assert getattr(finished, "span_id", None) == ref.span_id
    assert isinstance(stop.measurements["duration"], int)


async def test_ending_a_span_in_the_middle_then_the_top_makes_the_grandparent_current(path: Paths) -> None:
    a = start_span("a")
    b = start_span("b")
    c = start_span("c")
    assert end_span(b)
    assert current_span_ref() == c
    assert end_span(c)
    assert current_span_ref() == a
    assert end_span()
    assert current_span_ref() is None


async def test_an_orphan_end_returns_false_warns_and_touches_nothing(
    path: Paths, caplog: pytest.LogCaptureFixture
) -> None:
    ref = start_span("once")
    other = start_span("other")
    assert end_span(ref)
    with capture(ORPHAN_END, STOP) as seen, caplog.at_level(logging.WARNING, "daemon.spans"):
        assert end_span(ref) is False
        assert end_span(SpanRef(TRACE, PARENT, True)) is False
    assert [c.metadata["span_id"] for c in seen] == [ref.span_id, PARENT]
    assert len([r for r in caplog.records if "end_span" in r.getMessage()]) == 2
    assert current_span_ref() == other
    assert end_span(other)


async def test_end_span_with_nothing_current_is_an_orphan_end(path: Paths) -> None:
    with capture(ORPHAN_END) as seen:
        assert end_span() is False
    assert seen[0].metadata["reason"] == "no current span"


async def test_a_block_that_raises_ends_its_span_with_error_and_reraises(path: Paths) -> None:
    with capture(STOP) as stops, pytest.raises(ValueError, match="test error"), span("failing"):
        raise ValueError("test error")
    assert stops[0].metadata["status"] == "error"
    assert stops[0].metadata["error"] == "ValueError: test error"
    assert current_span_ref() is None


async def test_an_async_block_that_is_cancelled_ends_its_span_cancelled(path: Paths) -> None:
    entered = asyncio.Event()

    async def worker() -> None:
        async with span("waiting"):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(worker())
    await entered.wait()
    with capture(STOP) as stops:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [c.metadata["status"] for c in stops] == ["cancelled"]


async def test_a_task_that_dies_with_open_spans_has_them_ended(path: Paths) -> None:
    async def worker() -> None:
        start_span("left open")

    with capture(STOP) as stops:
        await asyncio.create_task(worker())
        await asyncio.sleep(0)  # the task's done callbacks run on the loop's next turn
    assert [c.metadata["status"] for c in stops] == ["abandoned"]


async def test_span_decorates_plain_and_async_functions_and_blocks_restore(path: Paths) -> None:
    @span("plain")
    def plain(x: int) -> int:
        return x + 1

    @span("coroutine", {"kind": "async"})
    async def coroutine(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    with capture(STOP) as stops, span("outer") as outer:
        assert plain(1) == 2
        assert await coroutine(2) == 4
        with span("block"):
            left = start_span("left open")
        assert current_span_ref() == outer
        assert end_span(left)
    assert [(c.metadata["span_name"], c.metadata["status"]) for c in stops] == [
        ("plain", "ok"),
        ("coroutine", "ok"),
        ("block", "ok"),
        ("left open", "ok"),
        ("outer", "ok"),
    ]
    assert stops[1].metadata["kind"] == "async"


async def test_a_name_that_is_not_a_str_is_kept_as_its_repr(path: Paths) -> None:
    with capture(START) as starts:
        ref = start_span(42)  # type: ignore[arg-type]
    assert starts[0].metadata["span_name"] == "42"
    assert end_span(ref)


# --- the documented differences -------------------------------------------------------------------


async def test_a_child_task_inherits_the_context_on_the_supervised_path_only(path: Paths) -> None:
    async def child() -> dict[str, object]:
        return dict(get_context())

    with with_context(parent=1):
        seen = await asyncio.create_task(child())
    expected = {"parent": 1} if backend() == "supervised" else {}
    assert seen == expected


async def test_only_the_supervised_path_lists_its_spans_in_the_span_table(path: Paths) -> None:
    with span("listed?") as ref:
        listed = [s.span_id for s in path.spans.open_spans()]
    assert backend_of(ref) == backend()
    assert listed == ([ref.span_id] if backend() == "supervised" else [])
