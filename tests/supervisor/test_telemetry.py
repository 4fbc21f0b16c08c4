"""The telemetry bus, item by item against :telemetry (docs/otp-conformance.md#telemetry).

Groups: attach/attach_many, detach, execute, handler failure, span, span_call, list_handlers,
capture. Every test uses events under ``P``; the autouse fixture detaches whatever a test left.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from supervisor import telemetry
from supervisor.errors import HandlerExists, HandlerNotFound
from supervisor.telemetry import HANDLER_FAILURE, EventName, Handler

P: EventName = ("test_telemetry",)
A: EventName = (*P, "a")
B: EventName = (*P, "b")

Call = tuple[EventName, Mapping[str, float], Mapping[str, object], Any]


class Recorder:
    """A handler that remembers every call."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def __call__(
        self,
        event: EventName,
        measurements: Mapping[str, float],
        metadata: Mapping[str, object],
        config: Any,
    ) -> None:
        self.calls.append((event, measurements, metadata, config))

    @property
    def events(self) -> list[EventName]:
        return [call[0] for call in self.calls]


def fail(
    event: EventName, measurements: Mapping[str, float], metadata: Mapping[str, object], config: Any
) -> None:
    raise ValueError("handler bug")


def ids(prefix: EventName = P) -> list[str]:
    return [h.id for h in telemetry.list_handlers(prefix)]


@pytest.fixture(autouse=True)
def _detach_leftovers() -> Iterator[None]:
    before = {h.id for h in telemetry.list_handlers(())}
    yield
    for handler_id in {h.id for h in telemetry.list_handlers(())} - before:
        telemetry.detach(handler_id)


# --- attach / attach_many ----------------------------------------------------------------------


def test_handler_gets_event_measurements_metadata_and_config() -> None:
    rec = Recorder()
    telemetry.attach("h", A, rec, {"cfg": 1})
    telemetry.execute(A, {"n": 2}, {"who": "me"})
    assert rec.calls == [(A, {"n": 2}, {"who": "me"}, {"cfg": 1})]


def test_config_defaults_to_none() -> None:
    rec = Recorder()
    telemetry.attach("h", A, rec)
    telemetry.execute(A)
    assert rec.calls[0][3] is None


@pytest.mark.parametrize("second", ["attach", "attach_many"])
def test_a_taken_handler_id_raises_handler_exists(second: str) -> None:
    first, other = Recorder(), Recorder()
    telemetry.attach_many("h", [A], first)
    with pytest.raises(HandlerExists, match="'h'"):
        getattr(telemetry, second)("h", B if second == "attach" else [B], other)
    telemetry.execute(A)
    telemetry.execute(B)
    assert first.events == [A]
    assert other.calls == []
    assert ids() == ["h"]


def test_attach_many_delivers_every_listed_event_to_one_handler() -> None:
    rec = Recorder()
    telemetry.attach_many("h", [A, B, A], rec, "cfg")  # the repeated event counts once
    telemetry.execute(A)
    telemetry.execute(B)
    assert rec.events == [A, B]
    assert {call[3] for call in rec.calls} == {"cfg"}


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ("test_telemetry.a", TypeError),
        (["test_telemetry", "a"], TypeError),
        (("test_telemetry", 1), TypeError),
        ((), ValueError),
    ],
)
def test_attach_rejects_bad_event_names(event: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="event name"):
        telemetry.attach("h", event, Recorder())
    with pytest.raises(error, match="event name"):
        telemetry.attach_many("h", [A, event], Recorder())
    assert ids(()) == [h.id for h in telemetry.list_handlers(())]
    assert "h" not in ids(())


def test_attach_rejects_bad_ids_handlers_and_event_lists() -> None:
    with pytest.raises(TypeError, match="handler id"):
        telemetry.attach(1, A, Recorder())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        telemetry.attach("h", A, "not a function")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="single event"):
        telemetry.attach_many("h", A, Recorder())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one event"):
        telemetry.attach_many("h", [], Recorder())
    assert "h" not in ids(())


# --- detach ------------------------------------------------------------------------------------


def test_detach_of_an_unknown_id_raises_handler_not_found() -> None:
    with pytest.raises(HandlerNotFound, match="'nobody'"):
        telemetry.detach("nobody")


def test_detach_stops_delivery_and_frees_the_id() -> None:
    rec, kept = Recorder(), Recorder()
    telemetry.attach("h", A, rec)
    telemetry.attach("kept", A, kept)
    telemetry.detach("h")
    telemetry.execute(A)
    assert rec.calls == []
    assert kept.events == [A]
    with pytest.raises(HandlerNotFound):
        telemetry.detach("h")
    telemetry.attach("h", A, rec)  # the id is free again
    telemetry.execute(A)
    assert rec.events == [A]


def test_active_events_lists_exactly_the_events_with_a_handler() -> None:
    assert A not in telemetry.active_events
    telemetry.attach("first", A, Recorder())
    telemetry.attach("second", A, Recorder())
    assert A in telemetry.active_events
    assert B not in telemetry.active_events
    telemetry.detach("first")
    assert A in telemetry.active_events  # one handler is left
    telemetry.detach("second")
    assert A not in telemetry.active_events
    with pytest.raises(TypeError):
        telemetry.active_events[A] = ()  # type: ignore[index]


def test_detaching_an_attach_many_handler_removes_it_from_all_its_events() -> None:
    rec = Recorder()
    telemetry.attach_many("h", [A, B], rec)
    telemetry.detach("h")
    telemetry.execute(A)
    telemetry.execute(B)
    assert rec.calls == []
    assert telemetry.list_handlers(P) == []


def test_attach_and_detach_from_many_threads_lose_no_update() -> None:
    def churn(worker: int) -> None:
        for i in range(200):
            telemetry.attach(f"t{worker}-{i}", A, Recorder())
            if i % 2:
                telemetry.detach(f"t{worker}-{i}")

    threads = [threading.Thread(target=churn, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = sorted(f"t{w}-{i}" for w in range(4) for i in range(0, 200, 2))
    assert ids(A) == expected


def test_execute_while_other_threads_attach_and_detach() -> None:
    steady = Recorder()
    telemetry.attach("steady", A, steady)
    stop = threading.Event()

    def churn() -> None:
        i = 0
        while not stop.is_set():
            telemetry.attach(f"churn-{i}", A, Recorder())
            telemetry.detach(f"churn-{i}")
            i += 1

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(5_000):
            telemetry.execute(A)
    finally:
        stop.set()
        thread.join()
    assert len(steady.calls) == 5_000  # every dispatch saw a consistent table
    assert ids(A) == ["steady"]


# --- execute -----------------------------------------------------------------------------------


async def test_handlers_run_synchronously_in_the_calling_task() -> None:
    seen: list[tuple[asyncio.Task[Any] | None, int]] = []

    def where(
        event: EventName, measurements: Mapping[str, float], metadata: Mapping[str, object], _: Any
    ) -> None:
        seen.append((asyncio.current_task(), threading.get_ident()))

    telemetry.attach("h", A, where)
    telemetry.execute(A)
    # No await between execute and this line: the handler has already run, in this task and thread.
    assert seen == [(asyncio.current_task(), threading.get_ident())]


def test_every_handler_of_the_event_runs_and_only_those() -> None:
    recs = [Recorder() for _ in range(3)]
    for i, rec in enumerate(recs):
        telemetry.attach(f"h{i}", A, rec)
    other = Recorder()
    telemetry.attach("other", B, other)
    telemetry.execute(A, {"n": 1})
    assert [rec.events for rec in recs] == [[A], [A], [A]]
    assert other.calls == []


def test_execute_with_no_handler_does_nothing() -> None:
    # Nothing listens, so nothing is checked beyond the event being a tuple: not even measurements.
    telemetry.execute(A, {"n": 1}, {"k": "v"})
    telemetry.execute((*P, "nobody", "listens"), "not a mapping")  # type: ignore[arg-type]
    telemetry.execute(())  # attach() refuses (), so it can have no handler


@pytest.mark.parametrize("event", ["test_telemetry.a", ["test_telemetry", "a"]])
def test_execute_rejects_an_event_that_is_not_a_tuple(event: Any) -> None:
    with pytest.raises(TypeError, match="tuple of str"):
        telemetry.execute(event)


def test_missing_measurements_and_metadata_are_empty_read_only_mappings() -> None:
    rec = Recorder()
    telemetry.attach("h", A, rec)
    telemetry.execute(A)
    _, measurements, metadata, _ = rec.calls[0]
    assert dict(measurements) == {}
    assert dict(metadata) == {}
    with pytest.raises(TypeError):
        measurements["x"] = 1  # type: ignore[index]


def test_a_bare_number_as_measurements_is_deprecated_and_becomes_value() -> None:
    rec = Recorder()
    telemetry.attach("h", A, rec)
    with pytest.warns(DeprecationWarning, match="bare number") as warned:
        telemetry.execute(A, 42)  # type: ignore[arg-type]
    assert rec.calls[0][1] == {"value": 42}
    assert warned[0].filename == __file__  # the warning points at the caller


@pytest.mark.parametrize("measurements", [[("n", 1)], True, "1"])
def test_non_mapping_measurements_are_a_type_error(measurements: Any) -> None:
    rec = Recorder()
    telemetry.attach("h", A, rec)
    with pytest.raises(TypeError, match="measurements must be a mapping"):
        telemetry.execute(A, measurements)
    assert rec.calls == []


def test_execute_accepts_any_mapping() -> None:
    rec = Recorder()
    telemetry.attach("h", A, rec)
    telemetry.execute(A, dataclasses.asdict(Point(1.0, 2.0)), Frozen({"k": "v"}))
    assert rec.calls[0][1:3] == ({"x": 1.0, "y": 2.0}, Frozen({"k": "v"}))


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Frozen(Mapping[str, object]):
    def __init__(self, data: dict[str, object]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> object:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_a_dispatch_iterates_the_handlers_attached_when_it_started() -> None:
    late = Recorder()
    calls: list[str] = []

    def rearrange(
        event: EventName, measurements: Mapping[str, float], metadata: Mapping[str, object], _: Any
    ) -> None:
        calls.append("rearrange")
        if len(calls) == 1:
            telemetry.detach("rearrange")  # detaching yourself mid-dispatch is fine
            telemetry.attach("late", A, late)  # not called by the dispatch in progress

    telemetry.attach("rearrange", A, rearrange)
    telemetry.execute(A)
    assert late.calls == []
    telemetry.execute(A)
    assert late.events == [A]
    assert calls == ["rearrange"]


# --- handler failure ---------------------------------------------------------------------------


def test_a_raising_handler_is_detached_and_execute_returns() -> None:
    good = Recorder()
    telemetry.attach("good-1", A, good)
    telemetry.attach("bad", A, fail)
    telemetry.attach("good-2", A, good)
    telemetry.execute(A)  # does not raise
    assert good.events == [A, A]  # the handlers around the failing one ran
    assert ids(A) == ["good-1", "good-2"]
    telemetry.execute(A)
    assert good.events == [A] * 4


def test_a_handler_failure_emits_the_failure_event() -> None:
    telemetry.attach("bad", A, fail, {"cfg": True})
    before = time.time_ns()
    with telemetry.capture(HANDLER_FAILURE) as failures:
        telemetry.execute(A)
    [failure] = failures
    assert failure.event == HANDLER_FAILURE
    assert set(failure.measurements) == {"monotonic_time", "system_time"}
    assert all(type(v) is int for v in failure.measurements.values())
    assert before <= failure.measurements["system_time"] <= time.time_ns()
    md = failure.metadata
    assert set(md) == {"event_name", "handler_id", "handler_config", "kind", "reason", "stacktrace"}
    assert md["event_name"] == A
    assert md["handler_id"] == "bad"
    assert md["handler_config"] == {"cfg": True}
    assert md["kind"] is ValueError
    assert isinstance(md["reason"], ValueError)
    assert str(md["reason"]) == "handler bug"
    assert isinstance(md["stacktrace"], traceback.StackSummary)
    assert md["stacktrace"][-1].name == "fail"


def test_a_handler_failure_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    telemetry.attach("bad", A, fail)
    with caplog.at_level(logging.ERROR, logger="supervisor.telemetry"):
        telemetry.execute(A)
        telemetry.execute(A)
    [record] = caplog.records
    assert record.name == "supervisor.telemetry"
    assert record.levelno == logging.ERROR
    assert "'bad'" in record.getMessage()
    assert "detached" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)


@pytest.mark.parametrize("signal", [asyncio.CancelledError, KeyboardInterrupt, SystemExit])
def test_base_exceptions_propagate_and_keep_the_handler(signal: type[BaseException]) -> None:
    def interrupt(
        event: EventName, measurements: Mapping[str, float], metadata: Mapping[str, object], _: Any
    ) -> None:
        raise signal

    telemetry.attach("signal", A, interrupt)
    with telemetry.capture(HANDLER_FAILURE) as failures, pytest.raises(signal):
        telemetry.execute(A)
    assert ids(A) == ["signal"]
    assert failures == []


def test_a_failing_failure_handler_is_detached_without_looping(
    caplog: pytest.LogCaptureFixture,
) -> None:
    telemetry.attach("bad", A, fail)
    telemetry.attach("bad-failure-handler", HANDLER_FAILURE, fail)
    with (
        caplog.at_level(logging.ERROR, logger="supervisor.telemetry"),
        telemetry.capture(HANDLER_FAILURE) as failures,
    ):
        telemetry.execute(A)
    # The failing failure handler may run before or after capture's: compare without order.
    reported = {(f.metadata["handler_id"], f.metadata["event_name"]) for f in failures}
    assert reported == {("bad", A), ("bad-failure-handler", HANDLER_FAILURE)}
    assert len(failures) == 2
    assert len(caplog.records) == 2
    assert telemetry.list_handlers(HANDLER_FAILURE) == []


def test_failure_handler_that_reattaches_itself_terminates(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    def phoenix(
        event: EventName, measurements: Mapping[str, float], metadata: Mapping[str, object], _: Any
    ) -> None:
        calls.append(1)
        telemetry.detach("phoenix")
        telemetry.attach("phoenix", HANDLER_FAILURE, phoenix)
        raise RuntimeError("again")

    telemetry.attach("bad", A, fail)
    telemetry.attach("phoenix", HANDLER_FAILURE, phoenix)
    with caplog.at_level(logging.ERROR, logger="supervisor.telemetry"):
        telemetry.execute(A)  # returns: the chain of failure events is capped
    assert len(calls) == telemetry._MAX_FAILURE_DEPTH
    assert len(caplog.records) == telemetry._MAX_FAILURE_DEPTH + 1


def test_failure_spares_a_reattached_id() -> None:
    calls: list[int] = []

    def flaky(
        event: EventName, measurements: Mapping[str, float], metadata: Mapping[str, object], _: Any
    ) -> None:
        calls.append(1)
        if len(calls) == 1:  # swap in a fresh, equal-looking registration, then fail
            telemetry.detach("h")
            telemetry.attach("h", A, flaky)
            raise ValueError("the old registration fails")

    telemetry.attach("h", A, flaky)
    telemetry.execute(A)
    assert ids(A) == ["h"]  # only the registration that failed was detached
    telemetry.execute(A)
    assert len(calls) == 2


# --- span --------------------------------------------------------------------------------------


def span_events() -> tuple[EventName, EventName, EventName]:
    return (*A, "start"), (*A, "stop"), (*A, "exception")


def test_span_emits_start_then_stop_with_nanosecond_times() -> None:
    start_ev, stop_ev, exc_ev = span_events()
    with telemetry.capture(start_ev, stop_ev, exc_ev) as seen:
        before = time.time_ns()
        with telemetry.span(A, {"k": 1}):
            pass
    start, stop = seen
    assert (start.event, stop.event) == (start_ev, stop_ev)
    assert set(start.measurements) == {"system_time", "monotonic_time"}
    assert set(stop.measurements) == {"duration", "monotonic_time"}
    assert all(type(v) is int for c in seen for v in c.measurements.values())
    assert before <= start.measurements["system_time"] <= time.time_ns()
    assert stop.measurements["duration"] >= 0
    duration = stop.measurements["monotonic_time"] - start.measurements["monotonic_time"]
    assert stop.measurements["duration"] == duration
    assert start.metadata["k"] == stop.metadata["k"] == 1
    assert start.metadata["telemetry_span_context"] is stop.metadata["telemetry_span_context"]


def test_each_span_gets_its_own_context_unless_the_caller_gives_one() -> None:
    start_ev, stop_ev, _ = span_events()
    mine = object()
    with telemetry.capture(start_ev, stop_ev) as seen:
        with telemetry.span(A):
            pass
        with telemetry.span(A):
            pass
        with telemetry.span(A, {"telemetry_span_context": mine}):
            pass
    contexts = [c.metadata["telemetry_span_context"] for c in seen]
    assert contexts[0] is contexts[1]
    assert contexts[2] is contexts[3]
    assert contexts[0] is not contexts[2]
    assert contexts[4] is contexts[5] is mine


def test_span_body_adds_stop_metadata_and_measurements_but_not_timing() -> None:
    start_ev, stop_ev, _ = span_events()
    start_md = {"k": 1}
    with telemetry.capture(start_ev, stop_ev) as seen, telemetry.span(A, start_md) as s:
        s.metadata["rows"] = 3
        s.measurements.update(bytes=10, duration=-1, monotonic_time=-1)
    start, stop = seen
    assert "rows" not in start.metadata
    assert start_md == {"k": 1}  # the caller's mapping is copied, never changed
    assert stop.metadata["rows"] == 3
    assert stop.measurements["bytes"] == 10
    assert stop.measurements["duration"] >= 0
    assert stop.measurements["monotonic_time"] > start.measurements["monotonic_time"] - 1


def test_span_exception_emits_the_exception_event_and_reraises() -> None:
    start_ev, stop_ev, exc_ev = span_events()
    error = ValueError("body failed")

    def body() -> None:
        with telemetry.span(A, {"k": 1}) as s:
            s.measurements["ignored"] = 1
            raise error

    with telemetry.capture(start_ev, stop_ev, exc_ev) as seen, pytest.raises(ValueError) as raised:
        body()
    assert raised.value is error
    start, exc = seen
    assert exc.event == exc_ev
    assert set(exc.measurements) == {"duration", "monotonic_time"}
    assert exc.measurements["duration"] >= 0
    assert exc.metadata["k"] == 1
    assert exc.metadata["kind"] is ValueError
    assert exc.metadata["reason"] is error
    assert isinstance(exc.metadata["stacktrace"], traceback.StackSummary)
    assert exc.metadata["telemetry_span_context"] is start.metadata["telemetry_span_context"]


async def test_async_span_emits_the_same_events() -> None:
    start_ev, stop_ev, _ = span_events()
    with telemetry.capture(start_ev, stop_ev) as seen:
        async with telemetry.span(A, {"k": 1}) as s:
            await asyncio.sleep(0)
            s.metadata["done"] = True
    assert [c.event for c in seen] == [start_ev, stop_ev]
    assert seen[1].metadata["done"] is True


async def test_async_span_reports_cancellation_and_lets_it_through() -> None:
    start_ev, _, exc_ev = span_events()
    never = asyncio.Event()

    async def body() -> None:
        async with telemetry.span(A):
            await never.wait()

    with telemetry.capture(start_ev, exc_ev) as seen:
        task = asyncio.create_task(body())
        async with asyncio.timeout(5):
            await seen.wait(start_ev)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert task.cancelled()
    assert seen[-1].event == exc_ev
    assert seen[-1].metadata["kind"] is asyncio.CancelledError


def test_span_rejects_bad_prefixes_and_reuse() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        telemetry.span(())
    with pytest.raises(TypeError, match="span prefix"):
        telemetry.span("test_telemetry.a")  # type: ignore[arg-type]
    s = telemetry.span(A)
    with s:
        pass
    with pytest.raises(RuntimeError, match="already started"), s:
        pass


# --- span_call (OTP's span/3) ------------------------------------------------------------------


def test_span_call_returns_the_result_and_uses_the_returned_stop_metadata() -> None:
    start_ev, stop_ev, _ = span_events()
    with telemetry.capture(start_ev, stop_ev) as seen:
        result = telemetry.span_call(A, {"k": 1}, lambda: ("result", {"stop": True}))
    assert result == "result"
    start, stop = seen
    assert start.metadata["k"] == 1
    assert set(stop.metadata) == {"stop", "telemetry_span_context"}  # replaced, as in OTP
    assert stop.metadata["telemetry_span_context"] is start.metadata["telemetry_span_context"]


def test_span_call_extra_measurements_cannot_override_timing() -> None:
    _, stop_ev, _ = span_events()
    with telemetry.capture(stop_ev) as seen:
        result = telemetry.span_call(A, None, lambda: (7, {"n": 3, "duration": -1}, {}))
    assert result == 7
    [stop] = seen
    assert stop.measurements["n"] == 3
    assert stop.measurements["duration"] >= 0


def test_span_call_reports_and_reraises_exceptions_and_bad_returns() -> None:
    _, stop_ev, exc_ev = span_events()

    def boom() -> tuple[int, dict[str, object]]:
        raise KeyError("boom")

    with telemetry.capture(stop_ev, exc_ev) as seen:
        with pytest.raises(KeyError):
            telemetry.span_call(A, {"k": 1}, boom)
        with pytest.raises(TypeError, match="2- or 3-tuple"):
            telemetry.span_call(A, {"k": 1}, lambda: (1,))  # type: ignore[arg-type, return-value]
    assert [c.event for c in seen] == [exc_ev, exc_ev]
    assert [c.metadata["kind"] for c in seen] == [KeyError, TypeError]
    assert seen[0].metadata["k"] == 1


# --- list_handlers -----------------------------------------------------------------------------


def test_list_handlers_returns_every_handler_under_a_prefix() -> None:
    one, many = Recorder(), Recorder()
    ax, ay = (*A, "x"), (*A, "y")
    telemetry.attach("one", ax, one, "c1")
    telemetry.attach_many("many", [ay, B], many, "c2")
    expected_all = [Handler("one", ax, one, "c1"), Handler("many", ay, many, "c2")]
    assert telemetry.list_handlers(P) == [*expected_all, Handler("many", B, many, "c2")]
    assert telemetry.list_handlers(A) == expected_all
    assert telemetry.list_handlers(ax) == [Handler("one", ax, one, "c1")]
    assert telemetry.list_handlers((*ax, "deeper")) == []
    assert telemetry.list_handlers(("test_telemetry_not",)) == []
    assert {"one", "many"} <= {h.id for h in telemetry.list_handlers(())}


def test_list_handlers_rejects_a_bad_prefix_and_records_are_frozen() -> None:
    with pytest.raises(TypeError, match="event prefix"):
        telemetry.list_handlers("test_telemetry")  # type: ignore[arg-type]
    telemetry.attach("h", A, Recorder())
    [record] = telemetry.list_handlers(A)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.id = "other"  # type: ignore[misc]


# --- capture -----------------------------------------------------------------------------------


def test_capture_keeps_copies_in_emit_order_and_detaches_on_exit() -> None:
    measurements: dict[str, float] = {"n": 1}

    def emit_then_fail() -> None:
        telemetry.execute(B, measurements)
        measurements["n"] = 2  # a later change does not rewrite what was captured
        telemetry.execute(A, measurements, {"k": "v"})
        assert len(telemetry.list_handlers(P)) == 2
        raise RuntimeError("the block failed")

    with pytest.raises(RuntimeError), telemetry.capture(A, B) as seen:
        emit_then_fail()
    assert seen == [
        telemetry.Captured(B, {"n": 1}, {}),
        telemetry.Captured(A, {"n": 2}, {"k": "v"}),
    ]
    assert seen.of(A) == [seen[1]]
    assert telemetry.list_handlers(P) == []


def test_capture_needs_an_event() -> None:
    with pytest.raises(ValueError, match="at least one event"), telemetry.capture():
        pass


async def test_capture_wait_returns_past_and_future_emissions() -> None:
    loop = asyncio.get_running_loop()
    with telemetry.capture(A, B) as seen:
        telemetry.execute(A, {"n": 1})
        loop.call_soon(telemetry.execute, B, {"n": 2})
        loop.call_soon(telemetry.execute, A, {"n": 3})
        async with asyncio.timeout(5):
            assert (await seen.wait(A)).measurements == {"n": 1}
            assert (await seen.wait(A, count=2)).measurements == {"n": 3}
            assert (await seen.wait(count=2)).measurements == {"n": 2}


async def test_capture_wait_is_woken_by_an_emit_from_another_thread() -> None:
    with telemetry.capture(A) as seen:
        waiter = asyncio.ensure_future(seen.wait(A))
        await asyncio.sleep(0)  # let the waiter register
        await asyncio.to_thread(telemetry.execute, A, {"n": 1})
        async with asyncio.timeout(5):
            assert (await waiter).measurements == {"n": 1}
