"""The span server's table: rows keyed by task, written by callers, emptied by a task's exit
(docs/spans.md, "The span table")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from daemon.spans import (
    SPANS_NAME,
    STOP,
    SpanServer,
    current_span,
    end_span,
    start_span,
)
from supervisor import Server, telemetry
from supervisor.testing import capture


@pytest.fixture
async def spans() -> AsyncIterator[SpanServer]:
    server = await SpanServer.start(name=SPANS_NAME)
    yield server
    await server.stop()


async def _exited(task: asyncio.Task[object]) -> None:
    """Wait for ``task`` and for its done callbacks (they run on the loop's next turn)."""
    try:
        await task
    except BaseException:
        pass
    done = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(done.set_result, None)
    await done


async def test_a_span_is_a_row_of_the_task_that_opened_it(spans: SpanServer) -> None:
    ref = start_span("work", {"rows": 3})
    listed = spans.open_spans()
    assert [(s.name, s.span_id, dict(s.attributes)) for s in listed] == [("work", ref.span_id, {"rows": 3})]
    task = asyncio.current_task()
    assert task is not None
    assert [s.span_id for s in spans.open_spans(task)] == [ref.span_id]
    assert listed[0].task == task.get_name()
    assert end_span(ref)
    assert spans.open_spans() == []
    assert spans.span_statistics().open == 0


async def test_a_task_that_returns_with_open_spans_has_them_ended_abandoned(spans: SpanServer) -> None:
    async def worker() -> None:
        start_span("outer")
        start_span("inner")

    with capture(STOP) as stops:
        await _exited(asyncio.create_task(worker()))
    assert [(c.metadata["span_name"], c.metadata["status"]) for c in stops] == [
        ("inner", "abandoned"),
        ("outer", "abandoned"),
    ]
    assert stops[0].metadata["exit_reason"] == "Exit(normal)"
    assert len(spans.table) == 0
    assert spans.span_statistics().abandoned == 2


async def test_a_cancelled_task_has_its_open_spans_ended_cancelled(spans: SpanServer) -> None:
    opened = asyncio.Event()

    async def worker() -> None:
        start_span("waiting")
        opened.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(worker())
    await opened.wait()
    assert [s.name for s in spans.open_spans()] == ["waiting"]
    with capture(STOP) as stops:
        task.cancel()
        await _exited(task)
    assert [c.metadata["status"] for c in stops] == ["cancelled"]
    assert len(spans.table) == 0


async def test_a_crashed_server_has_its_open_spans_ended_with_the_crash(spans: SpanServer) -> None:
    class Failing(Server):
        async def handle_cast(self, message: object) -> None:
            start_span("handling")
            raise RuntimeError("boom")

    server = await Failing.start()
    with capture(STOP) as stops:
        server.cast("go")
        reason = await server.wait()
        await _exited(asyncio.ensure_future(asyncio.sleep(0)))
    assert reason.exception is not None
    # The span it left open, then the crash itself (daemon/spans/restarts.py).
    stop, crash = stops
    assert crash.metadata["span_name"] == f"crash {type(server).__name__}"
    assert crash.metadata["parent_id"] == stop.metadata["span_id"]
    assert stop.metadata["status"] == "abandoned"
    assert stop.metadata["error"] == "RuntimeError: boom"
    assert "crash" in str(stop.metadata["exit_reason"])
    assert len(spans.table) == 0
    # What a crash record reads afterwards: the spans the crash left open, as they were.
    assert reason.exception is not None
    assert [s.name for s in spans.open_at_crash(reason.exception)] == ["handling"]
    assert spans.open_at_crash(RuntimeError("another")) == []


async def test_ending_its_last_span_keeps_the_task_row_until_the_task_ends(spans: SpanServer) -> None:
    # The callback on the task is added once, on its first span: a task opening span after span
    # does not pay for it again.
    for _ in range(3):
        end_span(start_span("again"))
    assert len(spans.table) == 1
    statistics = spans.span_statistics()
    assert (statistics.open, statistics.tasks) == (0, 0)


async def test_ten_thousand_tasks_dying_with_open_spans_leave_an_empty_table(spans: SpanServer) -> None:
    async def worker(n: int) -> None:
        start_span("job", {"n": n})
        start_span("step")

    ended = 0

    def count(event: object, measurements: object, metadata: object, config: object) -> None:
        nonlocal ended
        ended += 1

    telemetry.attach("test-abandoned", STOP, count)
    try:
        tasks = [asyncio.create_task(worker(n)) for n in range(10_000)]
        for task in tasks:
            await _exited(task)
    finally:
        telemetry.detach("test-abandoned")
    assert ended == 20_000
    assert len(spans.table) == 0
    assert spans.open_spans() == []
    assert spans.span_statistics().abandoned == 20_000


async def test_the_server_stopping_deletes_its_table_and_spans_go_on_non_recording() -> None:
    server = await SpanServer.start(name=SPANS_NAME)
    ref = start_span("before")
    table = server.table
    await server.stop()
    assert table.deleted
    # No server: the span is not found any more, ending it just puts its parent back.
    assert end_span(ref)
    assert current_span() is None
