"""The span API (docs/spans.md): nesting, ending any span, the ``span`` block and
decorator, attributes, events, links, W3C headers, propagation, bad input."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from daemon.context import current_span_ref
from daemon.spans import (
    ATTRIBUTES,
    EVENT,
    LINK,
    ORPHAN_END,
    SPANS_NAME,
    START,
    STOP,
    BadTraceparent,
    FinishedSpan,
    SpanRef,
    SpanServer,
    SpansSettings,
    add_attributes,
    current_span,
    current_trace_id,
    end_span,
    from_traceparent,
    link_span,
    propagate_context,
    record_event,
    span,
    start_span,
    traceparent,
    with_propagated_context,
)
from supervisor.testing import capture

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


@pytest.fixture
async def spans() -> AsyncIterator[SpanServer]:
    server = await SpanServer.start(name=SPANS_NAME)
    yield server
    await server.stop()


# --- nesting and the reference's metadata ------------------------------------------------------


async def test_nested_spans_share_the_trace_and_name_their_parent(spans: SpanServer) -> None:
    with capture(START) as starts:
        outer = start_span("outer")
        inner = start_span("inner", {"k": "v"})
    assert len(outer.trace_id) == 32
    assert outer.trace_id == inner.trace_id == current_trace_id()
    assert [c.metadata["parent_id"] for c in starts] == [None, outer.span_id]
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


async def test_the_stop_event_carries_status_duration_and_the_finished_span(spans: SpanServer) -> None:
    with capture(STOP) as stops:
        ref = start_span("work", {"rows": 1})
        record_event("halfway", {"at": 50})
        end_span(ref, attributes={"result": "done"})
    (stop,) = stops
    assert stop.measurements["duration"] >= 0
    assert {k: stop.metadata[k] for k in ("span_name", "status", "result", "rows")} == {
        "span_name": "work",
        "status": "ok",
        "result": "done",
        "rows": 1,
    }
    finished = stop.metadata["span"]
    assert isinstance(finished, FinishedSpan)
    assert (finished.span_id, finished.status, [e.name for e in finished.events]) == (
        ref.span_id,
        "ok",
        ["halfway"],
    )


async def test_current_span_is_a_snapshot_of_the_top_span(spans: SpanServer) -> None:
    assert current_span() is None
    assert current_trace_id() is None
    with span("outer", {"a": 1}) as outer:
        seen = current_span()
        assert seen is not None
        assert (seen.name, seen.span_id, seen.parent_id, dict(seen.attributes)) == (
            "outer",
            outer.span_id,
            None,
            {"a": 1},
        )
    assert current_span() is None


# --- end_span ends THAT span (docs/spans.md, "Ending a span") ---------------------------------


async def test_ending_a_span_in_the_middle_leaves_the_spans_above_it_open(spans: SpanServer) -> None:
    a = start_span("a")
    b = start_span("b")
    c = start_span("c")
    assert end_span(b)
    assert current_span_ref() == c
    still = current_span()
    assert still is not None
    assert still.parent_id == b.span_id
    assert [s.name for s in spans.open_spans()] == ["a", "c"]
    # Ending the top now skips its ended parent: the nearest open ancestor becomes current
    # (test_ending_the_top_after_its_parent_makes_the_grandparent_current).
    assert end_span(c)
    assert current_span_ref() == a
    assert end_span()
    assert current_span_ref() is None


async def test_ending_the_top_after_its_parent_makes_the_grandparent_current(spans: SpanServer) -> None:
    a = start_span("a")
    b = start_span("b")
    c = start_span("c")
    end_span(b)
    end_span(c)
    assert current_span_ref() == a


async def test_an_orphan_end_returns_false_warns_once_and_emits_orphan_end(
    spans: SpanServer, caplog: pytest.LogCaptureFixture
) -> None:
    ref = start_span("once")
    other = start_span("other")
    assert end_span(ref)
    unknown = SpanRef(TRACE, PARENT, True)
    with capture(ORPHAN_END, STOP) as seen, caplog.at_level(logging.WARNING, "daemon.spans"):
        assert end_span(ref) is False
        assert end_span(unknown) is False
        assert end_span("not a ref") is False  # type: ignore[arg-type]
    assert [c.event for c in seen] == [ORPHAN_END] * 3
    assert [c.metadata["span_id"] for c in seen] == [ref.span_id, PARENT, None]
    assert len([r for r in caplog.records if "end_span" in r.getMessage()]) == 3
    # No other span was touched.
    assert current_span_ref() == other
    assert [s.name for s in spans.open_spans()] == ["other"]


async def test_end_span_with_nothing_current_is_an_orphan_end(spans: SpanServer) -> None:
    with capture(ORPHAN_END) as seen:
        assert end_span() is False
    assert seen[0].metadata["reason"] == "no current span"


# --- the span block and decorator --------------------------------------------------------------


async def test_a_block_that_raises_ends_its_span_with_error_and_reraises(spans: SpanServer) -> None:
    with capture(STOP) as stops, pytest.raises(ValueError, match="test error"), span("failing"):
        raise ValueError("test error")
    assert stops[0].metadata["status"] == "error"
    assert stops[0].metadata["error"] == "ValueError: test error"
    assert "stacktrace" not in stops[0].metadata
    assert current_span_ref() is None


async def test_the_traceback_is_in_the_stop_event_when_configured() -> None:
    server = await SpanServer.start(SpansSettings(traceback=True), name=SPANS_NAME)
    try:
        with capture(STOP) as stops, pytest.raises(KeyError), span("failing"):
            raise KeyError("k")
    finally:
        await server.stop()
    assert "KeyError" in str(stops[0].metadata["stacktrace"])


async def test_an_async_block_that_is_cancelled_ends_its_span_cancelled(spans: SpanServer) -> None:
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


async def test_a_block_restores_the_span_current_on_entry_even_if_it_left_spans_open(
    spans: SpanServer,
) -> None:
    with span("outer") as outer:
        with span("block"):
            left = start_span("left open")
        assert current_span_ref() == outer
    assert [s.span_id for s in spans.open_spans()] == [left.span_id]


async def test_span_decorates_plain_and_async_functions(spans: SpanServer) -> None:
    @span("plain")
    def plain(x: int) -> int:
        ref = current_span_ref()
        assert ref is not None
        return x + 1

    @span("coroutine", {"kind": "async"})
    async def coroutine(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    with capture(STOP) as stops:
        assert plain(1) == 2
        assert await coroutine(2) == 4
    assert [(c.metadata["span_name"], c.metadata["status"]) for c in stops] == [
        ("plain", "ok"),
        ("coroutine", "ok"),
    ]
    assert stops[1].metadata["kind"] == "async"
    assert plain.__name__ == "plain"


# --- attributes, events, links ------------------------------------------------------------------


async def test_attributes_events_and_links_go_to_the_current_span(spans: SpanServer) -> None:
    with capture(ATTRIBUTES, EVENT, LINK) as seen, span("s") as ref:
        assert add_attributes({"user": "u1", "tries": 2})
        assert record_event("retry", {"attempt": 2})
        assert link_span(TRACE, PARENT, {"why": "batch"})
        snapshot = current_span()
    assert snapshot is not None
    assert dict(snapshot.attributes) == {"user": "u1", "tries": 2}
    assert [c.event for c in seen] == [ATTRIBUTES, EVENT, LINK]
    assert seen[0].metadata == {
        "user": "u1",
        "tries": 2,
        "span_id": ref.span_id,
        "span_name": "s",
        "trace_id": ref.trace_id,
    }
    assert seen[1].metadata["event_name"] == "retry"
    assert seen[1].metadata["attempt"] == 2
    assert (seen[2].metadata["linked_trace_id"], seen[2].metadata["linked_span_id"]) == (TRACE, PARENT)


async def test_attributes_events_and_links_without_a_span_warn_and_return_false(
    spans: SpanServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "daemon.spans"):
        assert not add_attributes({"a": 1})
        assert not record_event("e")
        assert not link_span(TRACE, PARENT)
    assert len(caplog.records) == 3


# --- bad input: dropped and counted, never raised -----------------------------------------------


async def test_attributes_otel_refuses_are_dropped_and_counted(spans: SpanServer) -> None:
    with span("s"):
        add_attributes(
            {
                "ok": [1, 2],
                "mixed": [1, "a"],
                "nested": [[1]],
                "obj": object(),
                "none": None,
                "": 1,
                3: "non-str key",  # type: ignore[dict-item]
                "flag": True,
                "flags": (True, False),
            }
        )
        kept = current_span()
    assert kept is not None
    assert dict(kept.attributes) == {"ok": (1, 2), "flag": True, "flags": (True, False)}
    dropped = spans.span_statistics().dropped
    assert (dropped["attribute_type"], dropped["attribute_key"]) == (4, 2)


async def test_limits_on_attributes_events_and_links_are_configurable() -> None:
    server = await SpanServer.start(
        SpansSettings(max_attributes=2, max_events=1, max_links=1), name=SPANS_NAME
    )
    try:
        with capture(STOP) as stops, span("s", {"a": 1, "b": 2, "c": 3}):
            add_attributes({"a": 10, "d": 4})  # a replaces (no new slot), d is over the limit
            record_event("one")
            record_event("two")
            link_span(TRACE, PARENT)
            link_span(TRACE, "00f067aa0ba902b7")
            assert not link_span("zz", PARENT)
        dropped = server.span_statistics().dropped
    finally:
        await server.stop()
    finished = stops[0].metadata["span"]
    assert isinstance(finished, FinishedSpan)
    assert dict(finished.attributes) == {"a": 10, "b": 2}
    assert ([e.name for e in finished.events], len(finished.links)) == (["one"], 1)
    assert {k: dropped[k] for k in ("attribute_limit", "event_limit", "link_limit", "bad_link")} == {
        "attribute_limit": 2,
        "event_limit": 1,
        "link_limit": 1,
        "bad_link": 1,
    }


async def test_a_name_that_is_not_a_str_is_kept_as_its_repr_and_counted(spans: SpanServer) -> None:
    ref = start_span(42)  # type: ignore[arg-type]
    seen = current_span()
    assert seen is not None
    assert seen.name == "42"
    assert spans.span_statistics().dropped["name_type"] == 1
    end_span(ref)

    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    with span(Unprintable()):  # type: ignore[arg-type]
        seen = current_span()
    assert seen is not None
    assert seen.name == "<Unprintable>"


# --- W3C Trace Context ---------------------------------------------------------------------------


async def test_traceparent_names_the_current_span(spans: SpanServer) -> None:
    assert traceparent() is None
    assert propagate_context() == {}
    with span("s") as ref:
        assert traceparent() == f"00-{ref.trace_id}-{ref.span_id}-01"
        assert propagate_context() == {"traceparent": traceparent()}


async def test_from_traceparent_continues_a_remote_trace(spans: SpanServer) -> None:
    remote = from_traceparent(f"00-{TRACE}-{PARENT}-01")
    assert (remote.trace_id, remote.span_id, remote.sampled, remote.remote) == (TRACE, PARENT, True, True)
    header = f"00-{TRACE}-{PARENT}-00"
    with capture(STOP) as stops:
        with with_propagated_context({"traceparent": header}), span("child") as child:
            assert child.trace_id == TRACE
            assert not child.sampled
        assert current_span_ref() is None
    finished = stops[0].metadata["span"]
    assert isinstance(finished, FinishedSpan)
    assert (finished.parent_id, finished.remote_parent) == (PARENT, True)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"00-{TRACE.upper()}-{PARENT}-01",
        f"00-{'0' * 32}-{PARENT}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"ff-{TRACE}-{PARENT}-01",
        f"00-{TRACE}-{PARENT}-01-extra",
        f"00-{TRACE[:-1]}-{PARENT}-01",
        "x" * 1000,
        42,
    ],
)
def test_a_malformed_traceparent_is_refused_with_a_reason(header: object) -> None:
    with pytest.raises(BadTraceparent, match="traceparent"):
        from_traceparent(header)  # type: ignore[arg-type]


def test_a_future_version_with_more_fields_is_accepted() -> None:
    assert from_traceparent(f"01-{TRACE}-{PARENT}-01-more").span_id == PARENT


# --- across tasks ---------------------------------------------------------------------------------


async def test_a_child_task_inherits_the_current_span_and_cannot_change_its_parents(
    spans: SpanServer,
) -> None:
    async def child() -> tuple[str | None, str | None]:
        with span("in child") as ref:
            parent = current_span()
            assert parent is not None
            return ref.trace_id, parent.parent_id

    with span("parent") as ref:
        trace, parent_id = await asyncio.create_task(child())
        assert current_span_ref() == ref
    assert (trace, parent_id) == (ref.trace_id, ref.span_id)


async def test_propagate_context_carries_the_trace_to_another_task(spans: SpanServer) -> None:
    async def elsewhere(carrier: dict[str, str]) -> str:
        with with_propagated_context(carrier), span("remote") as ref:
            return ref.trace_id

    with span("origin") as origin:
        carrier = propagate_context()
    task = asyncio.create_task(elsewhere(carrier), context=None)
    assert await task == origin.trace_id


def test_without_a_span_server_spans_are_non_recording() -> None:
    with span("no server") as outer:
        assert not outer.sampled
        assert current_span_ref() == outer
        inner = start_span("inner")
        assert inner.parent == outer
        assert current_span() is None
        assert end_span(inner)
        assert current_span_ref() == outer
    assert current_span_ref() is None
