"""The error context: blocks that merge and restore, immutability, inheritance by tasks and threads,
keys, limits and redaction (docs/context.md)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.context import (
    REDACTED,
    ContextKeyError,
    ContextPolicy,
    ErrorContext,
    context_of,
    context_policy,
    get_context,
    reset_error_context,
    run_in_executor,
    set_error_context,
    temporary_context,
    with_context,
)
from supervisor import telemetry

T = TypeVar("T")

# --- blocks ---------------------------------------------------------------------------------------


def test_get_context_is_empty_and_read_only_when_nothing_is_set() -> None:
    ctx = get_context()
    assert dict(ctx) == {}
    assert isinstance(ctx, ErrorContext)
    with pytest.raises(TypeError):
        ctx["x"] = 1  # type: ignore[index]


def test_with_context_merges_nested_blocks_and_restores_each() -> None:
    with with_context(request_id="r1", user="ada"):
        with with_context(user="bob", step=2):
            assert dict(get_context()) == {"request_id": "r1", "user": "bob", "step": 2}
        assert dict(get_context()) == {"request_id": "r1", "user": "ada"}
    assert dict(get_context()) == {}


def test_with_context_restores_when_the_block_raises() -> None:
    with pytest.raises(ValueError), with_context(a=1):
        raise ValueError("boom")
    assert dict(get_context()) == {}


def test_an_exception_leaving_blocks_carries_the_innermost_context() -> None:
    with pytest.raises(ValueError) as caught, with_context(a=1), with_context(b=2):
        raise ValueError("boom")
    carried = context_of(caught.value)
    assert carried is not None
    assert dict(carried) == {"a": 1, "b": 2}


async def test_with_context_restores_when_the_task_is_cancelled() -> None:
    entered = asyncio.Event()
    seen: list[dict[str, object]] = []

    async def worker() -> None:
        async with with_context(job="j1"):
            entered.set()
            try:
                await asyncio.Event().wait()
            finally:
                seen.append(dict(get_context()))
        seen.append(dict(get_context()))  # pragma: no cover - cancelled before

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


def test_with_context_as_a_decorator_makes_a_block_per_call() -> None:
    @with_context(component="cache")
    def read(depth: int) -> dict[str, object]:
        if depth:
            return read(depth - 1)
        return dict(get_context())

    assert read(3) == {"component": "cache"}
    assert dict(get_context()) == {}


async def test_with_context_decorates_coroutine_functions() -> None:
    @with_context(component="registry")
    async def lookup() -> dict[str, object]:
        await asyncio.sleep(0)
        return dict(get_context())

    assert await lookup() == {"component": "registry"}
    assert dict(get_context()) == {}


def test_temporary_context_replaces_and_restores() -> None:
    with with_context(a=1):
        with temporary_context({"b": 2}, c=3):
            assert dict(get_context()) == {"b": 2, "c": 3}
        with temporary_context():
            assert dict(get_context()) == {}
        assert dict(get_context()) == {"a": 1}


def test_a_context_read_earlier_does_not_change_when_a_block_adds_fields() -> None:
    with with_context(a=1):
        outer = get_context()
        with with_context(b=2):
            pass
    assert dict(outer) == {"a": 1}


# --- tasks and threads ----------------------------------------------------------------------------


async def test_tasks_inherit_the_context_and_cannot_change_the_parents() -> None:
    async def child() -> dict[str, object]:
        seen = dict(get_context())
        with with_context(child="yes"):
            await asyncio.sleep(0)
        return seen

    with with_context(request_id="r1"):
        task_seen = await asyncio.create_task(child())
        async with asyncio.TaskGroup() as group:
            grouped = group.create_task(child())
        threaded = await asyncio.to_thread(lambda: dict(get_context()))
        assert dict(get_context()) == {"request_id": "r1"}
    assert task_seen == grouped.result() == threaded == {"request_id": "r1"}


async def test_a_child_task_entering_a_block_does_not_leak_into_the_parent() -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def child() -> None:
        with with_context(child_field=1):
            entered.set()
            await release.wait()

    with with_context(parent_field=1):
        task = asyncio.create_task(child())
        await entered.wait()
        assert dict(get_context()) == {"parent_field": 1}
        release.set()
        await task


async def test_run_in_executor_copies_the_context_and_loop_run_in_executor_does_not() -> None:
    loop = asyncio.get_running_loop()
    # A thread of its own, started outside any block, so the plain call's thread has no context.
    with ThreadPoolExecutor(max_workers=1) as pool:
        await loop.run_in_executor(pool, threading.get_ident)  # the worker starts here, empty
        with with_context(request_id="r9"):
            copied = await run_in_executor(pool, lambda: dict(get_context()))
            plain = await loop.run_in_executor(pool, lambda: dict(get_context()))
    assert copied == {"request_id": "r9"}
    assert plain == {}


# --- keys, limits, redaction ----------------------------------------------------------------------


def test_keys_that_are_not_identifiers_are_refused() -> None:
    with pytest.raises(ContextKeyError, match="'not ok'"), with_context(**{"not ok": 1}):
        pass  # pragma: no cover
    with pytest.raises(ContextKeyError), temporary_context({"1st": 1}):
        pass  # pragma: no cover
    assert dict(get_context()) == {}


@pytest.fixture
def marks() -> Iterator[telemetry.Capture]:
    with telemetry.capture(("arbord", "context", "redacted"), ("arbord", "context", "truncated")) as seen:
        yield seen


def test_secrets_are_redacted_when_written_out_and_counted(marks: telemetry.Capture) -> None:
    with with_context(user="ada", db_password="hunter2", Authorization="Bearer x"):
        assert get_context()["db_password"] == "hunter2"  # the program reads its own value
        fields, redacted, truncated = get_context().cleaned()
    assert fields == {"user": "ada", "db_password": REDACTED, "Authorization": REDACTED}
    assert redacted == ("db_password", "Authorization")
    assert truncated == ()
    assert [(c.event, c.measurements["count"]) for c in marks] == [(("arbord", "context", "redacted"), 2)]


def test_long_values_are_cut_with_a_marker_and_counted(marks: telemetry.Capture) -> None:
    with context_policy(ContextPolicy(max_value_chars=4)), with_context(q="abcdefgh", b=b"123456"):
        fields, redacted, truncated = get_context().cleaned()
    assert fields == {"q": "abcd…[+4 chars]", "b": "b'1234'…[+2 bytes]"}
    assert truncated == ("q", "b")
    assert redacted == ()
    assert [c.measurements["count"] for c in marks] == [2]


def test_fields_past_the_limit_are_dropped_and_counted() -> None:
    with context_policy(ContextPolicy(max_fields=2)), with_context(a=1, b=2), with_context(a=9, c=3, d=4):
        ctx = get_context()
        assert dict(ctx) == {"a": 9, "b": 2}
        assert ctx.dropped == ("c", "d")
        assert ctx.cleaned()[2] == ("c", "d")


def test_the_redaction_words_are_configurable() -> None:
    policy = ContextPolicy(redact=frozenset({"ssn"}))
    with context_policy(policy), with_context(customer_ssn="1", token="t"):
        fields, redacted, _ = get_context().cleaned()
    assert fields == {"customer_ssn": REDACTED, "token": "t"}
    assert redacted == ("customer_ssn",)


def test_a_policy_with_no_room_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        ContextPolicy(max_fields=0)


async def test_a_context_carried_across_a_mailbox_is_set_and_reset_whole() -> None:
    # What the envelope hook does: read the caller's context, make it current in the handler's task.
    with with_context(request_id="r5"):
        carried = get_context()
    token = set_error_context(carried)
    try:
        assert dict(get_context()) == {"request_id": "r5"}
    finally:
        reset_error_context(token)
    assert dict(get_context()) == {}
    with pytest.raises(TypeError):
        set_error_context({"request_id": "r5"})  # type: ignore[arg-type]


# --- property: any nesting, any tasks ----------------------------------------------------------------

_FIELDS = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 9), max_size=3)


@settings(max_examples=60, deadline=None)
@given(outer=st.lists(_FIELDS, max_size=5), inner=st.lists(_FIELDS, max_size=5), fork=st.integers(0, 5))
def test_nested_blocks_in_tasks_see_the_merge_of_their_own_stack(
    outer: list[dict[str, int]], inner: list[dict[str, int]], fork: int
) -> None:
    async def child(expected: dict[str, object]) -> None:
        assert dict(get_context()) == expected
        await nest(inner, expected, fork_at=-1)  # the child forks no further
        assert dict(get_context()) == expected

    async def nest(levels: list[dict[str, int]], expected: dict[str, object], fork_at: int) -> None:
        if fork_at == 0:
            await asyncio.create_task(child(dict(expected)))
        if not levels:
            return
        merged = {**expected, **levels[0]}
        async with with_context(**levels[0]):
            assert dict(get_context()) == merged
            await nest(levels[1:], merged, fork_at - 1)
            assert dict(get_context()) == merged
        assert dict(get_context()) == expected

    asyncio.run(nest(outer, {}, fork))
    assert dict(get_context()) == {}


def test_capture_carried_is_none_with_nothing_current_and_carries_a_context_or_a_span() -> None:
    from daemon.context import SpanRef, capture_carried, reset_span_ref, set_span_ref

    assert capture_carried() is None  # the root context, no span: the identity fast path
    with temporary_context():
        assert capture_carried() is None  # an empty context that is not the root one
    with with_context(a=1) as ctx:
        assert capture_carried() == (None, ctx)
    ref = SpanRef("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", True)
    token = set_span_ref(ref)
    try:
        assert capture_carried() is ref  # the root context: the span alone, no pair
        with with_context(a=1) as ctx:
            assert capture_carried() == (ref, ctx)
    finally:
        reset_span_ref(token)


def _in_fresh_context(fn: Callable[[], T]) -> T:
    """Run ``fn`` in an empty context, as a server's task with no span and the root context."""
    return contextvars.Context().run(fn)


def test_enter_and_exit_carried_make_the_senders_values_current_then_put_back_the_handlers() -> None:
    from daemon.context import (
        SpanRef,
        capture_carried,
        current_span_ref,
        enter_carried,
        exit_carried,
        reset_span_ref,
        set_span_ref,
    )

    ref = SpanRef("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", True)
    token = set_span_ref(ref)
    try:
        alone = capture_carried()  # the span alone: the sender's context is the root one
        with with_context(user="ada") as sent:
            pair = capture_carried()
    finally:
        reset_span_ref(token)
    root = get_context()

    def handler_side(carried: object, expected: ErrorContext) -> None:
        own = get_context()
        with with_context(own="handler") as handlers:
            entered = enter_carried(carried)  # type: ignore[arg-type]
            assert current_span_ref() is ref
            assert get_context() is expected  # the sender's, not the handler's own
            exit_carried(entered)
            assert current_span_ref() is None
            assert get_context() is handlers
        assert get_context() is own

    _in_fresh_context(lambda: handler_side(pair, sent))
    _in_fresh_context(lambda: handler_side(alone, root))


def test_a_plain_tuple_set_as_the_span_is_carried_in_a_pair_not_mistaken_for_one() -> None:
    from daemon.context import capture_carried, current_span_ref, enter_carried, exit_carried, set_span_ref

    odd = ("not", "a pair")

    def sender() -> object:
        set_span_ref(odd)  # type: ignore[arg-type]
        return capture_carried()

    carried = _in_fresh_context(sender)
    assert carried == (odd, get_context())

    def handler() -> None:
        entered = enter_carried(carried)  # type: ignore[arg-type]
        assert current_span_ref() is cast(object, odd)
        exit_carried(entered)
        assert current_span_ref() is None

    _in_fresh_context(handler)


def test_enter_and_exit_carried_refuse_what_the_hook_did_not_make() -> None:
    from daemon.context import enter_carried, exit_carried

    with pytest.raises((TypeError, ValueError)):
        enter_carried((1, 2, 3))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        exit_carried("not a token")
