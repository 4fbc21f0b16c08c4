"""Sampled events (docs/otp-conformance.md#sampled-events): the Emitter's events and spans,
``emit_once_per``'s fixed window and exact dedup, ``batch`` by size and by the server's real timer,
``summarize_batch``, and bad input. Time goes through a ManualClock; nothing sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from daemon.telemetry import Emitter, batch, emit_once_per, summarize_batch
from daemon.telemetry.hub import SERVER_NAME, current_hub
from daemon.telemetry.server import FlushDue, GetStats, Sweep, TelemetryServer
from supervisor.testing import ManualClock, capture


@pytest.fixture
async def server(manual_clock: ManualClock) -> AsyncIterator[TelemetryServer]:
    started = await TelemetryServer.start(clock=manual_clock, max_timer_delay=0.001, name=SERVER_NAME)
    yield started
    if started.alive:
        await started.stop()


async def counters(server: TelemetryServer, name: str) -> dict[str, Any]:
    stats = await server.call(GetStats())
    return next(row for row in stats["events"] if row["event"] == name)


# --- Emitter ---------------------------------------------------------------------------------------


async def test_emit_start_stop_event_and_if_have_the_foundation_names(server: TelemetryServer) -> None:
    shop = Emitter(("shop",))
    with capture(("shop", "order", "start"), ("shop", "order", "stop"), ("shop", "paid")) as seen:
        shop.emit_start("order", {"id": 1})
        shop.emit_stop("order", {"duration": 100}, {"id": 1})
        shop.emit_event("paid", {"amount": 5}, {"id": 1})
        assert shop.emit_if(False, "paid", {"amount": 6}) is False
        assert shop.emit_if(True, "paid", {"amount": 7}) is True
    names = [c.event for c in seen]
    order = [("shop", "order", "start"), ("shop", "order", "stop")]
    assert names == [*order, ("shop", "paid"), ("shop", "paid")]
    start, stop, paid, paid_again = seen
    assert isinstance(start.measurements["timestamp"], int)
    assert stop.measurements["duration"] == 100
    assert "timestamp" in stop.measurements
    assert paid.measurements == {"amount": 5}
    assert paid_again.measurements == {"amount": 7}
    assert "sampled" not in paid.metadata  # "always" adds nothing


async def test_span_reports_ok_error_and_cancelled(server: TelemetryServer) -> None:
    jobs = Emitter(("jobs",))
    with capture(("jobs", "run", "start"), ("jobs", "run", "stop")) as seen:
        with jobs.span("run", {"job": "a"}):
            pass
        with pytest.raises(KeyError), jobs.span("run", {"job": "b"}):
            raise KeyError("missing")

        async def body() -> None:
            async with jobs.span("run", {"job": "c"}):
                await asyncio.Event().wait()

        task = asyncio.create_task(body())
        await asyncio.sleep(0)  # let it enter the span (a scheduling step, not a timed wait)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    stops = [c for c in seen if c.event[-1] == "stop"]
    assert [c.metadata["status"] for c in stops] == ["ok", "error", "cancelled"]
    assert stops[1].metadata["error"] == "KeyError: 'missing'"
    starts = [c for c in seen if c.event[-1] == "start"]
    assert all(a.metadata["span_id"] is b.metadata["span_id"] for a, b in zip(starts, stops, strict=True))
    assert all(isinstance(c.measurements["duration"], int) for c in stops)


async def test_emitter_works_without_a_server() -> None:
    assert current_hub() is None
    with capture(("solo", "x")) as seen:
        assert Emitter(("solo",)).emit_event("x", {"n": 1}) is True
        assert emit_once_per(("solo", "x"), 5.0) is True
        assert emit_once_per(("solo", "x"), 5.0) is True  # no server: no dedup, nothing lost
        batch(("solo", "x"), {"n": 2}, 10, 1.0)
    assert [c.measurements for c in seen] == [{"n": 1}, {}, {}, {"n": 2}]
    assert seen[-1].metadata == {"batch_size": 1}


# --- emit_once_per ---------------------------------------------------------------------------------


async def test_emit_once_per_fixed_window(server: TelemetryServer, manual_clock: ManualClock) -> None:
    event = ("disk", "full")
    with capture(event) as seen:
        assert emit_once_per(event, 0.5, {}, {"disk": "sda"}) is True
        assert emit_once_per(event, 0.5, {}, {"disk": "sda"}) is False
        manual_clock.advance(0.4)
        assert emit_once_per(event, 0.5, {}, {"disk": "sda"}) is False  # does not extend the window
        manual_clock.advance(0.1)
        assert emit_once_per(event, 0.5, {}, {"disk": "sda"}) is True  # 0.5 after the last emission
        assert emit_once_per(event, 0.5, {}, {"disk": "sdb"}) is True  # other metadata, other key
    assert len(seen) == 3
    row = await counters(server, "disk.full")
    assert (row["received"], row["emitted"], row["deduplicated"]) == (5, 3, 2)


async def test_emit_once_per_keys_unhashable_metadata(server: TelemetryServer) -> None:
    event = ("q", "slow")
    assert emit_once_per(event, 60.0, {}, {"tags": ["a", "b"], "where": {"id": 1}}) is True
    assert emit_once_per(event, 60.0, {}, {"where": {"id": 1}, "tags": ["a", "b"]}) is False
    assert emit_once_per(event, 60.0, {}, {"tags": ["a"], "where": {"id": 1}}) is True
    assert emit_once_per(event, 60.0, {}, {"tags": ("a",), "where": {"id": 1}}) is True  # () != []


async def test_exactly_one_of_many_concurrent_callers_emits(server: TelemetryServer) -> None:
    async def racer() -> bool:
        await asyncio.sleep(0)
        return emit_once_per(("race",), 10.0, {}, {"k": 1})

    results = await asyncio.gather(*(racer() for _ in range(50)))
    assert results.count(True) == 1


async def test_janitor_sweeps_old_keys(server: TelemetryServer, manual_clock: ManualClock) -> None:
    emit_once_per(("old",), 1.0)
    manual_clock.advance(200.0)
    emit_once_per(("young",), 1.0)
    manual_clock.advance(150.0)  # old: 350 s unused, young: 150 s
    assert await server.call(Sweep()) == 1
    hub = current_hub()
    assert hub is not None
    assert [row[0] for row in hub.dedup.tab2list()] == [(("young",),)]


# --- batch -----------------------------------------------------------------------------------------


async def test_batch_flushes_at_size(server: TelemetryServer) -> None:
    event = ("logs", "lines")
    with capture(event) as seen:
        for n in range(1, 4):
            batch(event, {"count": n, "tags": [str(n)]}, 3, 60.0)
    assert len(seen) == 1
    assert seen[0].metadata == {"batch_size": 3}
    assert seen[0].measurements == {"count": 6, "tags": ["1", "2", "3"]}


async def test_a_batch_flushes_at_the_size_of_the_latest_call(server: TelemetryServer) -> None:
    # The fast path tests only Batch.room, kept by reshape: a call with another size goes through the
    # full path, which takes the new size (and the add that fills a batch always does).
    event = ("logs", "resized")
    with capture(event) as seen:
        for n in range(3):
            batch(event, n, 10, 60.0)
        batch(event, 3, 4, 60.0)  # the fourth item meets the new size
        batch(event, 4, 1, 60.0)  # size 1: every add goes out
        batch(event, 5, 1, 60.0)
        for n in range(6, 9):
            batch(event, n, 3, 60.0)
    assert [c.metadata["batch_size"] for c in seen] == [4, 1, 1, 3]
    items: list[Any] = [c.measurements["items"] for c in seen]
    assert items == [[0, 1, 2, 3], [4], [5], [6, 7, 8]]


async def test_a_lone_item_is_flushed_by_the_timer(
    server: TelemetryServer, manual_clock: ManualClock
) -> None:
    event = ("logs", "lone")
    with capture(event) as seen:
        batch(event, {"count": 1}, 100, 5.0)
        assert await server.call(FlushDue()) == 0  # not due yet
        manual_clock.advance(5.0)
        async with asyncio.timeout(10):
            flushed = await seen.wait(event)  # no further call: the server's own timer flushes it
    assert flushed.metadata == {"batch_size": 1}
    assert flushed.measurements == {"count": 1}


async def test_the_timeout_counts_from_the_last_flush(
    server: TelemetryServer, manual_clock: ManualClock
) -> None:
    event = ("logs", "cycle")
    with capture(event) as seen:
        batch(event, 1, 2, 1.0)
        batch(event, 2, 2, 1.0)  # flushed by size at t=0
        manual_clock.advance(0.9)
        batch(event, 3, 2, 1.0)  # a batch reopened at t=0.9
        manual_clock.advance(0.5)  # t=1.4: 1.4 after the last flush, 0.5 after the item
        assert await server.call(FlushDue()) == 0
        manual_clock.advance(0.5)
        assert await server.call(FlushDue()) == 1
    assert [c.metadata["batch_size"] for c in seen] == [2, 1]


async def test_pending_batches_are_flushed_when_the_server_stops(server: TelemetryServer) -> None:
    with capture(("logs", "bye")) as seen:
        batch(("logs", "bye"), "a", 100, 60.0)
        batch(("logs", "bye"), "b", 100, 60.0)
        await server.stop()
    assert len(seen) == 1
    measurements: Any = seen[0].measurements
    assert measurements["items"] == ["a", "b"]


async def test_a_full_batch_drops_and_counts(manual_clock: ManualClock) -> None:
    from daemon.telemetry.config import TelemetrySettings
    from daemon.telemetry.sampling_config import EventsSettings

    settings = TelemetrySettings(events=EventsSettings(max_pending=2))
    server = await TelemetryServer.start(settings, clock=manual_clock, name=SERVER_NAME)
    try:
        for item in range(5):
            batch(("full",), item, 100, 60.0)
        row = await counters(server, "full")
        assert (row["received"], row["batched"], row["pending"], row["dropped"]) == (5, 2, 2, 3)
        assert row["dropped_by_reason"] == {"batch_full": 3}
    finally:
        await server.stop()


def test_summarize_batch() -> None:
    assert summarize_batch([]) == {}
    assert summarize_batch([{"n": 1, "t": ["a"], "s": "x"}, {"n": 2.5, "t": ["b"], "s": "y"}]) == {
        "n": 3.5,
        "t": ["a", "b"],
        "s": "y",
    }
    mixed = summarize_batch([{"n": 1}, 2])
    assert mixed["count"] == 2
    assert mixed["items"] == [{"n": 1}, 2]
    assert isinstance(mixed["timestamp"], int)
    first = {"t": ["a"]}
    summarize_batch([first, {"t": ["b"]}])
    assert first == {"t": ["a"]}  # the items are left alone


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", [0, -1.0, float("nan")])
async def test_bad_intervals_are_value_errors(server: TelemetryServer, interval: float) -> None:
    with pytest.raises(ValueError, match="interval"):
        emit_once_per(("e",), interval)
    with pytest.raises(ValueError, match="timeout"):
        batch(("e",), 1, 10, interval)


async def test_bad_input_is_refused(server: TelemetryServer) -> None:
    with pytest.raises(TypeError, match="interval"):
        emit_once_per(("e",), "5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tuple of str"):
        emit_once_per(["e"], 5.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tuple of str"):
        Emitter(("a",)).emit_event(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        emit_once_per((), 5.0)
    with pytest.raises(ValueError, match="size"):
        batch(("e",), 1, 0, 1.0)
    with pytest.raises(TypeError, match="size"):
        batch(("e",), 1, 2.5, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        batch(("e",), 1, 2, float("inf"))
    with pytest.raises(TypeError, match="prefix"):
        Emitter("a")  # type: ignore[arg-type]


class Unreadable(dict[str, int]):
    """A mapping whose items cannot be read: what a user's broken item looks like to the summary."""

    def items(self) -> Any:
        raise RuntimeError("unreadable")


async def test_an_item_that_cannot_be_summarised_is_dropped_and_counted(
    server: TelemetryServer, manual_clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    batch(("bad",), Unreadable(), 10, 1.0)
    batch(("bad",), {"n": 1}, 10, 1.0)
    manual_clock.advance(1.0)
    assert await server.call(FlushDue()) == 2  # the timer's flush: the server does not crash
    assert server.alive
    row = await counters(server, "bad")
    assert (row["received"], row["dropped"], row["pending"]) == (2, 2, 0)
    assert row["dropped_by_reason"] == {"unsummarizable": 2}
    assert "could not be summarised" in caplog.text
