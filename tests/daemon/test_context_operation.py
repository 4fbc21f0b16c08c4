"""Operations (Foundation's ErrorContext struct, docs/otp-conformance.md#operations) and enrich_error
(PEP 678 notes)."""

from __future__ import annotations

import asyncio

import pytest

from daemon.context import (
    OPERATION_STOP,
    SpanRef,
    context_of,
    current_correlation_id,
    enrich_error,
    get_context,
    operation,
    reset_span_ref,
    set_span_ref,
    with_context,
)
from supervisor import telemetry

TRACE = "0af7651916cd43dd8448eb211c80319c"


def _notes(exc: BaseException) -> list[str]:
    return list(getattr(exc, "__notes__", []))


def test_an_operation_has_ids_metadata_and_one_breadcrumb() -> None:
    with operation("billing", "charge", order=7) as ctx:
        op = ctx.operation
        assert op is not None
        assert op.operation_id > 0
        assert len(op.correlation_id) == 32
        assert int(op.correlation_id, 16) >= 0
        assert dict(op.metadata) == {"order": 7}
        assert [(b.module, b.function) for b in op.breadcrumbs] == [("billing", "charge")]
        assert current_correlation_id() == op.correlation_id
    assert get_context().operation is None
    assert current_correlation_id() is None


def test_a_child_operation_keeps_the_correlation_id_and_appends_a_breadcrumb() -> None:
    with operation("billing", "charge") as outer, operation("billing.card", "authorize", amount=3) as inner:
        assert inner.operation is not None
        assert outer.operation is not None
        assert inner.operation.correlation_id == outer.operation.correlation_id
        assert inner.operation.operation_id != outer.operation.operation_id
        assert inner.operation.parent is outer.operation
        assert [b.function for b in inner.operation.breadcrumbs] == ["charge", "authorize"]


def test_the_correlation_id_is_the_trace_id_when_a_span_is_current() -> None:
    token = set_span_ref(SpanRef(TRACE, "b7ad6b7169203331", True))
    try:
        with operation("daemon.control", "status") as ctx:
            assert ctx.correlation_id == TRACE
    finally:
        reset_span_ref(token)
    assert current_correlation_id() is None


def test_without_an_operation_the_span_trace_id_is_the_correlation_id() -> None:
    token = set_span_ref(SpanRef(TRACE, "b7ad6b7169203331", True))
    try:
        assert current_correlation_id() == TRACE
    finally:
        reset_span_ref(token)


def test_an_operation_keeps_the_fields_of_the_context_it_starts_in() -> None:
    with with_context(request_id="r1"), operation("m", "f") as ctx:
        assert dict(ctx) == {"request_id": "r1"}


def test_an_exception_is_enriched_and_re_raised_not_returned() -> None:
    with pytest.raises(KeyError) as caught, with_context(user="ada"), operation("billing", "charge"):
        raise KeyError("card")
    exc = caught.value
    carried = context_of(exc)
    assert carried is not None
    assert carried.operation is not None
    (note,) = _notes(exc)
    assert note.startswith("arbord context: correlation_id=" + carried.operation.correlation_id)
    assert "billing.charge" in note
    assert "user='ada'" in note


def test_nested_operations_enrich_once_with_the_innermost_context() -> None:
    with pytest.raises(RuntimeError) as caught, operation("a", "outer"), operation("b", "inner"):
        raise RuntimeError("x")
    (note,) = _notes(caught.value)
    assert "a.outer" in note
    assert "b.inner" in note


async def test_cancellation_is_not_enriched() -> None:
    started = asyncio.Event()

    async def work() -> None:
        async with operation("m", "slow"):
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(work())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError) as caught:
        await task
    assert _notes(caught.value) == []
    assert context_of(caught.value) is None


async def test_operation_decorates_coroutines_and_reports_its_duration() -> None:
    @operation("cache", "fetch", cache="users")
    async def fetch() -> str | None:
        await asyncio.sleep(0)
        return current_correlation_id()

    with telemetry.capture(OPERATION_STOP) as seen:
        correlation = await fetch()
    (stop,) = seen
    assert stop.metadata["correlation_id"] == correlation
    assert stop.metadata["error"] is None
    assert stop.measurements["duration"] >= 0
    assert stop.metadata["function"] == "fetch"


def test_enrich_error_returns_the_same_exception_and_is_idempotent() -> None:
    error = ValueError("bad")
    with with_context(request_id="r1"):
        assert enrich_error(error) is error
        assert enrich_error(error) is error
    assert len(_notes(error)) == 1
    assert "request_id='r1'" in _notes(error)[0]
    carried = context_of(error)
    assert carried is not None
    assert dict(carried) == {"request_id": "r1"}


def test_enrich_error_attaches_nothing_when_the_context_is_empty() -> None:
    error = ValueError("bad")
    assert enrich_error(error) is error
    assert _notes(error) == []
    assert context_of(error) is None


def test_enrich_error_redacts_secrets_in_the_note() -> None:
    with with_context(api_token="s3cr3t"):
        error = enrich_error(ValueError("x"))
    (note,) = _notes(error)
    assert "s3cr3t" not in note
    assert "[redacted]" in note
    assert "[1 redacted]" in note


async def test_enrich_error_notes_an_exception_group_and_its_members() -> None:
    async def fail(name: str) -> None:
        with with_context(member=name):
            raise ValueError(name)

    async def both() -> None:
        with with_context(request_id="r1"):
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(fail("a"))
                    group.create_task(fail("b"))
            except ExceptionGroup as eg:
                raise enrich_error(eg) from None

    with pytest.raises(ExceptionGroup) as caught:
        await both()
    group_error = caught.value
    assert "request_id='r1'" in _notes(group_error)[0]
    members = sorted(group_error.exceptions, key=str)
    assert ["member='a'" in _notes(m)[0] for m in members] == [True, False]
    assert ["member='b'" in _notes(m)[0] for m in members] == [False, True]
