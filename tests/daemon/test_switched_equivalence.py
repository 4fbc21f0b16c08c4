"""The two paths of the error context and span management are observably equivalent (hypothesis): a
random sequence of operations gives the same results and the same telemetry events on the supervised
path, on the legacy path, and with the flags flipping between the operations (docs/migrations.md,
"Error context and spans").

Observed after every step: what the step returned (a context as a dict, an end's ``True``/``False``,
the exception a block refused or carried), the context, and the current span. Observed over the run:
every span event (start, stop, orphan end) with its metadata. Span and trace ids are random, so they
are compared by their order of first appearance; times are compared by their keys only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from daemon.context import context_of, current_span_ref
from daemon.context import get_context as direct_context
from daemon.context_switched import get_context, temporary_context, with_context
from daemon.legacy import error_context, span_stacks
from daemon.spans import ORPHAN_END, START, STOP, SpanRef
from daemon.spans.switched import end_span, start_span
from supervisor.testing import capture
from tests.daemon.switched_paths import paths

FIELDS: tuple[Mapping[str, object], ...] = (
    {"a": 1},
    {"b": "x", "password": "hunter2"},
    {"a": 2, "c": (1, 2)},
    {"not an id": 1},
)
ATTRIBUTES: tuple[Mapping[str, object] | None, ...] = (None, {"k": "v"}, {"bad": object()})
UNKNOWN = SpanRef("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)

Step = tuple[str, int]
steps = st.lists(
    st.tuples(
        st.sampled_from(
            ["enter", "temporary", "exit", "raise", "read", "start", "end", "end_current", "orphan", "flip"]
        ),
        st.integers(0, 11),
    ),
    max_size=30,
)


class Ids:
    """Random ids as the order in which they first appeared."""

    def __init__(self) -> None:
        self.seen: dict[object, int] = {}

    def __call__(self, value: object) -> object:
        if value is None:
            return None
        return self.seen.setdefault(value, len(self.seen))


def _event(capture_: Any, ids: Ids) -> tuple[object, ...]:
    metadata = dict(capture_.metadata)
    finished = metadata.pop("span", None)
    for key in ("span_id", "parent_id", "trace_id"):
        if key in metadata:
            metadata[key] = ids(metadata[key])
    status = getattr(finished, "status", None)
    return (capture_.event, sorted(capture_.measurements), sorted(metadata.items(), key=str), status)


async def _run(plan: list[Step], mode: str) -> list[object]:
    """Run ``plan`` on ``mode``'s path (``flipping``: starting supervised, each ``flip`` step flips)."""
    ids = Ids()
    observed: list[object] = []
    blocks: list[with_context | temporary_context] = []
    started: list[SpanRef] = []
    on_supervised = mode != "legacy"
    async with paths("legacy" if mode == "legacy" else "supervised") as running:
        with capture(START, STOP, ORPHAN_END) as events:
            for op, pick in plan:
                result: object = None
                if op in ("enter", "temporary"):
                    fields = FIELDS[pick % len(FIELDS)]
                    block = with_context(**fields) if op == "enter" else temporary_context(fields)
                    try:
                        result = dict(block.__enter__())
                        blocks.append(block)
                    except Exception as exc:
                        result = type(exc).__name__
                elif op == "exit" and blocks:
                    blocks.pop().__exit__(None, None, None)
                elif op == "raise" and blocks:
                    error = RuntimeError("boom")
                    blocks.pop().__exit__(RuntimeError, error, None)
                    carried = context_of(error)
                    result = None if carried is None else dict(carried)
                elif op == "read":
                    result = dict(get_context())
                elif op == "start":
                    ref = start_span(f"s{pick % 3}", ATTRIBUTES[pick % len(ATTRIBUTES)])
                    started.append(ref)
                    result = ids(ref.span_id)
                elif op == "end" and started:
                    result = end_span(started[pick % len(started)], "ok" if pick % 2 else "error")
                elif op == "end_current":
                    result = end_span()
                elif op == "orphan":
                    result = end_span(UNKNOWN)
                elif op == "flip" and mode == "flipping":
                    on_supervised = not on_supervised
                    await running.choose("supervised" if on_supervised else "legacy")
                current = current_span_ref()
                observed.append(
                    (op, result, dict(get_context()), None if current is None else ids(current[1]))
                )
            while blocks:
                blocks.pop().__exit__(None, None, None)
            for ref in started:
                end_span(ref)
        observed.append(dict(get_context()))
        observed.append(dict(direct_context()))  # nothing stale left in the ContextVar either
        observed.extend(_event(c, ids) for c in events)
    assert error_context.held() == 0
    assert span_stacks.open_count() == 0
    return observed


@settings(max_examples=150, deadline=None)
@given(steps)
# Two sequences hypothesis found against earlier versions of the handover, kept as regressions: a
# legacy block's context handed over to the ContextVar during the block, then the block's end.
@example([("flip", 0), ("enter", 0), ("enter", 0), ("flip", 0)])
@example([("flip", 0), ("enter", 0), ("flip", 0), ("flip", 0)])
def test_both_paths_and_flips_between_them_give_the_same_results_and_events(plan: list[Step]) -> None:
    supervised = asyncio.run(_run(plan, "supervised"))
    legacy = asyncio.run(_run(plan, "legacy"))
    flipping = asyncio.run(_run(plan, "flipping"))
    assert legacy == supervised
    assert flipping == supervised
