"""The sampled events' verbs as the console runs them (the same handlers as the control socket), the
console's ``telemetry`` command, the tap's rate on the daemon's side and its removal with its owner,
and slow handlers reported (and detached if configured). docs/telemetry.md#the-live-tap-and-slow-handlers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from daemon.console.commands import ConsoleContext, build_cli, invoke
from daemon.errors import ControlError
from daemon.telemetry import SLOW_HANDLER, Emitter, stats_snapshot
from daemon.telemetry.component import TELEMETRY
from daemon.telemetry.config import TelemetrySettings
from daemon.telemetry.hub import SERVER_NAME, Tap, current_hub
from daemon.telemetry.sampling import Strategy, make_decider
from daemon.telemetry.sampling_config import EventsSettings
from daemon.telemetry.server import AddTap, TelemetryServer
from daemon.telemetry.verbs import parse_rate
from daemon.verbs.codes import ErrorCode
from daemon.verbs.method import DaemonContext, VerbTable, methods_by_name
from supervisor import telemetry
from supervisor.testing import ManualClock, capture


@pytest.fixture
async def server() -> AsyncIterator[TelemetryServer]:
    settings = TelemetrySettings(events=EventsSettings(handler_budget=0.0))
    started = await TelemetryServer.start(settings, clock=ManualClock(), name=SERVER_NAME)
    yield started
    if started.alive:
        await started.stop()


def console() -> ConsoleContext:
    verbs = VerbTable(methods_by_name(TELEMETRY.verbs()))
    return ConsoleContext(cast(DaemonContext, None), verbs)


async def test_the_verbs_through_the_console_path(server: TelemetryServer) -> None:
    Emitter(("app",)).emit_event("ready")
    context = console()
    stats = await invoke(context, "telemetry.stats", {"prefix": "app"})
    assert [row["event"] for row in stats["events"]] == ["app.ready"]
    assert stats["generation"] > 0
    assert stats["incarnation"] == 1
    events = await invoke(context, "telemetry.events", {})
    assert events == [
        {"event": "app.ready", "strategy": "always", "received": 1, "emitted": 1, "handlers": 0}
    ]
    assert await invoke(context, "telemetry.sampling.set", {"prefix": "default", "strategy": "never"}) == {
        "": "never"
    }
    assert (await invoke(context, "telemetry.events", {}))[0]["strategy"] == "never"
    assert await invoke(context, "telemetry.sampling.set", {"prefix": "", "strategy": "unset"}) == {}
    assert await invoke(context, "telemetry.sampling.get", {}) == {}
    with pytest.raises(ControlError) as caught:
        await invoke(context, "telemetry.stats", {"prefix": "a..b"})
    assert caught.value.code is ErrorCode.INVALID_PARAMS


async def test_without_the_server_the_verbs_say_server_down() -> None:
    with pytest.raises(ControlError) as caught:
        await invoke(console(), "telemetry.stats", {})
    assert caught.value.code is ErrorCode.SERVER_DOWN


def test_the_console_has_a_telemetry_command() -> None:
    cli = build_cli(methods_by_name(TELEMETRY.verbs()))
    command = cli.commands["telemetry"]
    assert "sampling.set" in (command.help or "")
    assert "tap" in (command.help or "")


async def test_a_tap_with_a_limit_streams_through_the_console_path(server: TelemetryServer) -> None:
    ticks = Emitter(("t",))

    async def emit_until_done(done: asyncio.Future[Any]) -> None:
        while not done.done():
            ticks.emit_event("x", {"n": 1})
            await asyncio.sleep(0)  # one scheduling step per event, not a timed wait

    collected = asyncio.ensure_future(
        invoke(console(), "telemetry.tap", {"prefix": "t", "rate": 1000, "limit": 2})
    )
    await asyncio.wait_for(emit_until_done(collected), 10)
    items = await collected
    assert [item["event"] for item in items] == ["t.x", "t.x"]
    hub = current_hub()
    assert hub is not None
    assert hub.taps == ()  # the stream ended: its tap went with it


async def test_a_tap_is_rate_limited_and_goes_with_its_owner(server: TelemetryServer) -> None:
    decider = make_decider(Strategy("rate_limited", (3.0,)))
    assert decider is not None
    owner = asyncio.ensure_future(asyncio.Event().wait())
    tap = Tap(("r",), decider, owner, 100)
    await server.call(AddTap(tap))
    for _ in range(10):
        Emitter(("r",)).emit_event("e")
    assert (tap.queue.qsize(), tap.sent, tap.missed) == (3, 3, 7)
    owner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await owner
    await asyncio.sleep(0)  # the owner's done-callbacks run one loop step after it ends
    hub = current_hub()
    assert hub is not None
    assert hub.taps == ()


@pytest.mark.parametrize(("rate", "value"), [(10, 10.0), ("10/s", 10.0), ("2.5", 2.5)])
def test_tap_rates(rate: float | str, value: float) -> None:
    assert parse_rate(rate) == value


@pytest.mark.parametrize("rate", ["fast", 0, "-1/s", "inf"])
def test_bad_tap_rates(rate: float | str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(rate)


async def test_a_slow_handler_is_reported_and_detached_if_configured(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = TelemetrySettings(events=EventsSettings(handler_budget=1e-9, detach_slow_handlers=True))
    server = await TelemetryServer.start(settings, clock=ManualClock(), name=SERVER_NAME)
    try:

        def slow(event: Any, measurements: Any, metadata: Any, config: Any) -> None:
            sum(range(10_000))  # work, well past a 1 ns budget

        telemetry.attach("slow-one", ("s", "e"), slow)
        with caplog.at_level(logging.WARNING, "arbord.telemetry"), capture(SLOW_HANDLER) as seen:
            Emitter(("s",)).emit_event("e")
        assert seen[0].metadata["handler_ids"] == ["slow-one"]
        assert seen[0].metadata["detached"] is True
        assert "slow-one" in caplog.text
        assert telemetry.list_handlers(("s", "e")) == []
        counted = {row["event"]: row for row in stats_snapshot()}
        assert counted["arbord.telemetry.slow_handler"]["emitted"] == 1
    finally:
        await server.stop()


async def test_slow_handlers_among_several_are_reported_not_detached() -> None:
    settings = TelemetrySettings(events=EventsSettings(handler_budget=1e-9, detach_slow_handlers=True))
    server = await TelemetryServer.start(settings, clock=ManualClock(), name=SERVER_NAME)
    try:

        def busy(event: Any, measurements: Any, metadata: Any, config: Any) -> None:
            sum(range(10_000))

        telemetry.attach("one", ("m", "e"), busy)
        telemetry.attach("two", ("m", "e"), busy)
        try:
            with capture(SLOW_HANDLER) as seen:
                Emitter(("m",)).emit_event("e")
            assert seen[0].metadata["handler_ids"] == ["one", "two"]
            assert seen[0].metadata["detached"] is False
            assert len(telemetry.list_handlers(("m", "e"))) == 2
        finally:
            telemetry.detach("one")
            telemetry.detach("two")
    finally:
        await server.stop()


def test_stats_render_as_a_table_for_people() -> None:
    from daemon.verbs.render import render_result

    row = {
        "event": "user.work",
        "received": 5,
        "emitted": 0,
        "deduplicated": 0,
        "sampled_out": 0,
        "batched": 3,
        "flushed": 0,
        "dropped": 2,
        "pending": 3,
        "dropped_by_reason": {"batch_full": 2},
    }
    text = render_result("telemetry.stats", {"generation": 7, "incarnation": 2, "taps": 0, "events": [row]})
    head, columns, line = text.splitlines()
    assert head == "generation 7  incarnation 2  taps 0"
    assert columns.split() == [
        "EVENT",
        "RECEIVED",
        "EMITTED",
        "DEDUPLICATED",
        "SAMPLED_OUT",
        "BATCHED",
        "FLUSHED",
        "DROPPED",
        "PENDING",
        "REASONS",
    ]
    assert line.split() == ["user.work", "5", "0", "0", "0", "3", "0", "2", "3", "batch_full=2"]
