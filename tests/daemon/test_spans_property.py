"""Stack discipline of spans under random start / end / orphan end / cancel across tasks
(hypothesis), against a model (docs/spans.md, "Ending a span").

Two worker tasks take commands in turn. The model keeps each worker's spans (parent, open or
not) and its current span, with the documented rules: a start nests under the current span; ending
an open span ends that one only; when it was current, its nearest open ancestor becomes current;
ending a span that is not open is ``False`` and changes nothing; a cancelled worker's open spans are
all ended ``cancelled`` and its row goes. After every step each worker's row in the span table
lists exactly its open spans, in start order, and its current span is the model's."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.context import SpanRef, current_span_ref
from daemon.spans import SPANS_NAME, STOP, SpanServer, end_span, start_span
from supervisor.testing import capture

WORKERS = 2
UNKNOWN = SpanRef("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)

Step = tuple[str, int, int]
steps = st.lists(
    st.tuples(
        st.sampled_from(["start", "start", "end", "end_current", "orphan", "cancel"]),
        st.integers(0, WORKERS - 1),
        st.integers(0, 50),
    ),
    max_size=40,
)


@dataclass
class Model:
    spans: list[tuple[SpanRef, int | None]] = field(default_factory=list)  # (ref, parent index)
    open: set[int] = field(default_factory=set)
    current: int | None = None

    def end(self, index: int) -> bool:
        if index not in self.open:
            return False
        self.open.discard(index)
        if self.current == index:
            parent = self.spans[index][1]
            while parent is not None and parent not in self.open:
                parent = self.spans[parent][1]
            self.current = parent
        return True


class Worker:
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[tuple[str, SpanRef | None, asyncio.Future[object]]] = asyncio.Queue()
        self.task = asyncio.create_task(self._run())
        self.model = Model()

    async def _run(self) -> None:
        while True:
            op, ref, reply = await self.inbox.get()
            if op == "start":
                reply.set_result(start_span("s"))
            elif op == "end":
                reply.set_result(end_span(ref))
            else:
                reply.set_result(current_span_ref())

    async def ask(self, op: str, ref: SpanRef | None = None) -> object:
        reply = asyncio.get_running_loop().create_future()
        self.inbox.put_nowait((op, ref, reply))
        return await reply


async def _run_steps(plan: list[Step]) -> None:
    server = await SpanServer.start(name=SPANS_NAME)
    workers = [Worker() for _ in range(WORKERS)]
    try:
        for op, w, pick in plan:
            worker = workers[w]
            model = worker.model
            if op == "start":
                ref = await worker.ask("start")
                assert isinstance(ref, SpanRef)
                model.spans.append((ref, model.current))
                model.current = len(model.spans) - 1
                model.open.add(model.current)
            elif op == "end" and model.spans:
                index = pick % len(model.spans)
                assert await worker.ask("end", model.spans[index][0]) is model.end(index)
            elif op == "end_current":
                expected = model.current is not None and model.end(model.current)
                assert await worker.ask("end") is expected
            elif op == "orphan":
                assert await worker.ask("end", UNKNOWN) is False
            elif op == "cancel":
                with capture(STOP) as stops:
                    worker.task.cancel()
                    await asyncio.gather(worker.task, return_exceptions=True)
                    await asyncio.sleep(0)  # the task's done callbacks
                assert sorted(str(c.metadata["span_id"]) for c in stops) == sorted(
                    model.spans[i][0].span_id for i in model.open
                )
                assert all(c.metadata["status"] == "cancelled" for c in stops)
                assert server.open_spans(worker.task) == []
                workers[w] = Worker()
            for each in workers:
                listed = [s.span_id for s in server.open_spans(each.task)]
                expected_open = [each.model.spans[i][0].span_id for i in sorted(each.model.open)]
                assert listed == expected_open
                current = await each.ask("current")
                model_current = (
                    None if each.model.current is None else each.model.spans[each.model.current][0]
                )
                assert current == model_current
    finally:
        for worker in workers:
            worker.task.cancel()
        await asyncio.gather(*(w.task for w in workers), return_exceptions=True)
        await asyncio.sleep(0)
        assert len(server.table) == 0
        await server.stop()


@settings(max_examples=150, deadline=None)
@given(steps)
def test_span_stacks_follow_the_model_under_random_steps(plan: list[Step]) -> None:
    asyncio.run(_run_steps(plan))
