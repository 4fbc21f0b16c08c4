"""The flag matrix, on the components' own suites: the behavioural tests of ``tests/daemon/test_context.py``
and ``tests/daemon/test_spans_api.py`` run here on both paths, unchanged, through one parametrized
fixture (docs/migrations.md, "Error context and spans: two paths behind their flags").

For the duration of one test, the suite module's names for the API under test (``with_context``,
``temporary_context``, ``get_context``; ``start_span``, ``end_span``, ``span``) are the switched
interface's, and the flags choose the path: the suite's own assertions then judge that path. The
suite files are not edited, and a test added to them is run here once named below.

What is not run on the legacy path, and why (each a documented difference, tested as such in
``tests/daemon/test_switched_matrix.py``): inheritance by child tasks and threads; reading the span
server's table or ``current_span()`` (legacy spans are not in it). What is not run at all: what the
switched interfaces do not cover (``run_in_executor``, ``set_error_context``, span attributes, events
and links, a span server of the test's own, programs without a span server), and the context suite's
property test (it runs its own event loop).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from types import ModuleType

import pytest

from daemon import context_switched
from daemon.spans import switched as spans_switched
from supervisor import telemetry
from tests.daemon import test_context as context_suite
from tests.daemon import test_spans_api as spans_suite
from tests.daemon.switched_paths import Paths, paths

SWITCHED: dict[ModuleType, dict[str, object]] = {
    context_suite: {
        "with_context": context_switched.with_context,
        "temporary_context": context_switched.temporary_context,
        "get_context": context_switched.get_context,
    },
    spans_suite: {
        "start_span": spans_switched.start_span,
        "end_span": spans_switched.end_span,
        "span": spans_switched.span,
    },
}

BOTH_PATHS = [
    (context_suite, "test_get_context_is_empty_and_read_only_when_nothing_is_set"),
    (context_suite, "test_with_context_merges_nested_blocks_and_restores_each"),
    (context_suite, "test_with_context_restores_when_the_block_raises"),
    (context_suite, "test_an_exception_leaving_blocks_carries_the_innermost_context"),
    (context_suite, "test_with_context_restores_when_the_task_is_cancelled"),
    (context_suite, "test_with_context_as_a_decorator_makes_a_block_per_call"),
    (context_suite, "test_with_context_decorates_coroutine_functions"),
    (context_suite, "test_temporary_context_replaces_and_restores"),
    (context_suite, "test_a_context_read_earlier_does_not_change_when_a_block_adds_fields"),
    (context_suite, "test_a_child_task_entering_a_block_does_not_leak_into_the_parent"),
    (context_suite, "test_keys_that_are_not_identifiers_are_refused"),
    (context_suite, "test_secrets_are_redacted_when_written_out_and_counted"),
    (context_suite, "test_long_values_are_cut_with_a_marker_and_counted"),
    (context_suite, "test_fields_past_the_limit_are_dropped_and_counted"),
    (context_suite, "test_the_redaction_words_are_configurable"),
    (spans_suite, "test_nested_spans_share_the_trace_and_name_their_parent"),
    (spans_suite, "test_ending_the_top_after_its_parent_makes_the_grandparent_current"),
    (spans_suite, "test_end_span_with_nothing_current_is_an_orphan_end"),
    (spans_suite, "test_a_block_that_raises_ends_its_span_with_error_and_reraises"),
    (spans_suite, "test_an_async_block_that_is_cancelled_ends_its_span_cancelled"),
    (spans_suite, "test_span_decorates_plain_and_async_functions"),
    (spans_suite, "test_traceparent_names_the_current_span"),
    (spans_suite, "test_from_traceparent_continues_a_remote_trace"),
    (spans_suite, "test_propagate_context_carries_the_trace_to_another_task"),
]
"""Run on both paths."""

SUPERVISED_ONLY = [
    (context_suite, "test_tasks_inherit_the_context_and_cannot_change_the_parents"),
    (spans_suite, "test_current_span_is_a_snapshot_of_the_top_span"),
    (spans_suite, "test_ending_a_span_in_the_middle_leaves_the_spans_above_it_open"),
    (spans_suite, "test_an_orphan_end_returns_false_warns_once_and_emits_orphan_end"),
    (spans_suite, "test_a_block_restores_the_span_current_on_entry_even_if_it_left_spans_open"),
    (spans_suite, "test_a_name_that_is_not_a_str_is_kept_as_its_repr_and_counted"),
    (spans_suite, "test_a_child_task_inherits_the_current_span_and_cannot_change_its_parents"),
]
"""Run through the switched interface on the supervised path only (module docstring: why)."""


def _cases(listed: list[tuple[ModuleType, str]], chosen: list[str]) -> list[object]:
    return [
        pytest.param(suite, name, path, id=f"{path}-{suite.__name__.rsplit('.', 1)[-1]}::{name}")
        for suite, name in listed
        for path in chosen
    ]


@pytest.fixture
async def running(request: pytest.FixtureRequest) -> AsyncIterator[Paths]:
    async with paths(request.node.callspec.params["path"]) as servers:
        yield servers


@pytest.mark.parametrize(
    ("suite", "name", "path"),
    _cases(BOTH_PATHS, ["supervised", "legacy"]) + _cases(SUPERVISED_ONLY, ["supervised"]),
)
async def test_the_suite_passes_on_the_path(
    suite: ModuleType,
    name: str,
    path: str,
    running: Paths,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert context_switched.backend() == spans_switched.backend() == path
    for attribute, switched in SWITCHED[suite].items():
        monkeypatch.setattr(suite, attribute, switched)
    test: Callable[..., object] = getattr(suite, name)
    with telemetry.capture(("arbord", "context", "redacted"), ("arbord", "context", "truncated")) as marks:
        given = {"spans": running.spans, "caplog": caplog, "marks": marks}
        outcome = test(**{parameter: given[parameter] for parameter in inspect.signature(test).parameters})
        if inspect.isawaitable(outcome):
            await outcome
