"""Sampled events behind ``use_ets_sampled_events`` (daemon/telemetry/switched_events.py): the
contract of ``emit_once_per`` and ``batch`` on both paths (the ``backend`` fixture runs each test on
the supervised path and on the legacy one), and what a flip must keep: a dedup window carried over,
a pending batch flushed, nothing lost or sent twice under concurrent writers while the flag flips.
Time goes through a ManualClock (the telemetry server's, which both paths read while it runs)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from daemon.legacy import sampled_events as legacy
from daemon.telemetry import switched_events
from daemon.telemetry.hub import SERVER_NAME
from daemon.telemetry.server import FlushAll, GetStats, TelemetryServer
from daemon.telemetry.switched_events import SAMPLED_EVENTS_FLAG, batch, emit_once_per
from supervisor.testing import ManualClock, capture
from tests.daemon.migration.conftest import Backends

BOOT = ("test", "boot")
WORK = ("test", "work")


@pytest.fixture
async def server(manual_clock: ManualClock) -> AsyncIterator[TelemetryServer]:
    started = await TelemetryServer.start(clock=manual_clock, max_timer_delay=0.001, name=SERVER_NAME)
    yield started
    if started.alive:
        await started.stop()


async def received(server: TelemetryServer, event: tuple[str, ...]) -> int:
    """What the server's accounting counted for ``event`` (the legacy path counts nothing)."""
    stats = await server.call(GetStats())
    return sum(row["received"] for row in stats["events"] if tuple(row["event"].split(".")) == event)


async def flush_everything(server: TelemetryServer) -> None:
    await server.call(FlushAll())  # the legacy path's batches too


def items_of(seen: list[Any]) -> list[Any]:
    """The items of the captured batch events (a summary of non-mapping items lists them)."""
    return [item for c in seen for item in c.measurements["items"]]


# --- the contract, on both paths --------------------------------------------------------------------


async def test_emit_once_per_has_a_fixed_window_per_metadata(
    backend: Backends, server: TelemetryServer, manual_clock: ManualClock
) -> None:
    assert switched_events.backend() == backend.path
    with capture(BOOT) as seen:
        assert emit_once_per(BOOT, 60.0, {"n": 1}, {"disk": "sda"}) is True
        assert emit_once_per(BOOT, 60.0, {"n": 2}, {"disk": "sda"}) is False
        assert emit_once_per(BOOT, 60.0, {"n": 3}, {"disk": "sdb"}) is True  # other metadata, other key
        manual_clock.advance(59.0)
        assert emit_once_per(BOOT, 60.0, {"n": 4}, {"disk": "sda"}) is False
        manual_clock.advance(1.0)
        assert emit_once_per(BOOT, 60.0, {"n": 5}, {"disk": "sda"}) is True
    assert [(dict(c.measurements), dict(c.metadata)) for c in seen] == [
        ({"n": 1}, {"disk": "sda"}),
        ({"n": 3}, {"disk": "sdb"}),
        ({"n": 5}, {"disk": "sda"}),
    ]
    assert await received(server, BOOT) == (5 if backend.supervised else 0)  # only tables count


async def test_a_batch_goes_out_when_full_with_its_summary(
    backend: Backends, server: TelemetryServer
) -> None:
    with capture(WORK) as seen:
        for n in range(7):
            batch(WORK, {"n": 1, "ids": [n]}, 3, 3600.0)
    assert [(dict(c.measurements), dict(c.metadata)) for c in seen] == [
        ({"n": 3, "ids": [0, 1, 2]}, {"batch_size": 3}),
        ({"n": 3, "ids": [3, 4, 5]}, {"batch_size": 3}),
    ]
    with capture(WORK) as rest:
        await flush_everything(server)
    assert [dict(c.measurements) for c in rest] == [{"n": 1, "ids": [6]}]


async def test_bad_arguments_are_refused_alike(backend: Backends, server: TelemetryServer) -> None:
    with pytest.raises(ValueError, match="interval"):
        emit_once_per(BOOT, 0.0)
    with pytest.raises(TypeError, match="interval"):
        emit_once_per(BOOT, "soon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch size"):
        batch(WORK, 1, 0, 1.0)
    with pytest.raises(ValueError, match="timeout"):
        batch(WORK, 1, 3, -1.0)
    with pytest.raises(TypeError, match="event name"):
        emit_once_per(["test", "boot"], 1.0)  # type: ignore[arg-type]


# --- flips -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [True, False], ids=["supervised-first", "legacy-first"])
async def test_a_dedup_window_is_carried_over_a_flip(
    flippable: Backends, server: TelemetryServer, manual_clock: ManualClock, first: bool
) -> None:
    await flippable.use(SAMPLED_EVENTS_FLAG, first)
    with capture(BOOT) as seen:
        assert emit_once_per(BOOT, 60.0, None, {"disk": "sda"}) is True
        await flippable.use(SAMPLED_EVENTS_FLAG, not first)
        manual_clock.advance(30.0)
        assert emit_once_per(BOOT, 60.0, None, {"disk": "sda"}) is False  # not again inside its window
        await flippable.use(SAMPLED_EVENTS_FLAG, first)
        assert emit_once_per(BOOT, 60.0, None, {"disk": "sda"}) is False
        manual_clock.advance(30.0)
        assert emit_once_per(BOOT, 60.0, None, {"disk": "sda"}) is True
    assert len(seen) == 2


@pytest.mark.parametrize("first", [True, False], ids=["supervised-first", "legacy-first"])
async def test_a_pending_batch_is_flushed_by_the_first_add_after_a_flip(
    flippable: Backends, server: TelemetryServer, first: bool
) -> None:
    await flippable.use(SAMPLED_EVENTS_FLAG, first)
    with capture(WORK) as seen:
        batch(WORK, "a", 10, 3600.0)
        batch(WORK, "b", 10, 3600.0)
        await flippable.use(SAMPLED_EVENTS_FLAG, not first)
        assert seen == []
        batch(WORK, "c", 10, 3600.0)
        assert [dict(c.metadata) for c in seen] == [{"batch_size": 2}]
        await flush_everything(server)
    assert [list(c.measurements["items"]) for c in seen] == [["a", "b"], ["c"]]  # type: ignore[call-overload]
    assert legacy.pending(WORK) == 0


async def test_the_servers_stop_flushes_the_legacy_paths_batches(
    flippable: Backends, server: TelemetryServer
) -> None:
    await flippable.use(SAMPLED_EVENTS_FLAG, False)
    with capture(WORK) as seen:
        batch(WORK, "a", 10, 3600.0)
        await server.stop()
    assert [list(c.measurements["items"]) for c in seen] == [["a"]]  # type: ignore[call-overload]


async def test_concurrent_writers_lose_and_repeat_nothing_while_the_flag_flips(
    flippable: Backends, server: TelemetryServer
) -> None:
    writers, items, flips = 8, 80, 40
    with capture(WORK, BOOT) as seen:

        async def writer(w: int) -> None:
            for n in range(items):
                batch(WORK, (w, n), 7, 3600.0)
                emit_once_per(BOOT, 3600.0, None, {"writer": w % 2})
                await asyncio.sleep(0)

        async def flipper() -> None:
            for n in range(flips):
                await flippable.use(SAMPLED_EVENTS_FLAG, n % 2 == 1)

        await asyncio.gather(flipper(), *(writer(w) for w in range(writers)))
        await flush_everything(server)
    batches = [c for c in seen if c.event == WORK]
    sent = sorted(items_of(batches))
    assert sent == sorted((w, n) for w in range(writers) for n in range(items))  # each item once
    assert all(c.metadata["batch_size"] == len(items_of([c])) for c in batches)
    boots: list[Any] = [c.metadata["writer"] for c in seen if c.event == BOOT]
    assert sorted(boots) == [0, 1]  # one emission per key, whichever path served it
    assert switched_events.legacy_state() == {"windows": legacy.windows(), "pending": 0}
    counted = await received(server, WORK)  # the items the supervised path took
    assert 0 < counted < writers * items  # the flips did land: both paths served


async def test_without_a_telemetry_server_the_legacy_path_still_dedups(flippable: Backends) -> None:
    await flippable.use(SAMPLED_EVENTS_FLAG, False)
    with capture(BOOT, WORK) as seen:
        assert emit_once_per(BOOT, 60.0) is True
        assert emit_once_per(BOOT, 60.0) is False
        batch(WORK, 1, 2, 60.0)
        batch(WORK, 2, 2, 60.0)
    assert [c.event for c in seen] == [BOOT, WORK]
