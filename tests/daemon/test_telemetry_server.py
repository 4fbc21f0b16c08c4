"""The telemetry server as the TELEMETRY component's child (docs/telemetry.md#the-server): its tables
survive a crash through the keeper (counters, dedup windows, pending batches), a restarted keeper is
re-appointed heir, losing both is visible as a new generation, and the component brings the children
and the verbs (docs/otp-conformance.md#surviving-a-crash)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from daemon.component import ComponentContext
from daemon.settings import Settings
from daemon.telemetry import batch, emit, emit_once_per
from daemon.telemetry.component import TELEMETRY
from daemon.telemetry.config import TelemetrySettings
from daemon.telemetry.hub import EVENTS_TABLE, SERVER_NAME, current_hub
from daemon.telemetry.server import (
    KEEPER_NAME,
    FlushAll,
    GetSampling,
    GetStats,
    SetSampling,
    TelemetryServer,
    call_telemetry,
)
from daemon.telemetry.spec import events_child_specs
from daemon.verbs.method import VerbTable
from supervisor import Supervisor, whereis
from supervisor.tables import whereis_table
from supervisor.testing import capture


@pytest.fixture
async def tree() -> AsyncIterator[Supervisor]:
    async with Supervisor(list(events_child_specs(TelemetrySettings()))) as root:
        yield root


async def kill(name: str, root: Supervisor) -> None:
    """Kill the named child and wait until the root has restarted it."""
    server = whereis(name)
    assert server is not None
    server.kill()
    await server.wait()
    await root.which_children()  # a call: the exit and the restart are handled before it
    restarted = whereis(name)
    assert restarted is not None
    assert restarted is not server


def telemetry() -> TelemetryServer:
    server = whereis(SERVER_NAME)
    assert isinstance(server, TelemetryServer)
    return server


async def stats() -> dict[str, Any]:
    result: dict[str, Any] = await telemetry().call(GetStats())
    return result


async def test_a_crash_loses_no_counter_no_window_and_no_pending_item(tree: Supervisor) -> None:
    emit_once_per(("disk", "full"), 3600.0)
    batch(("logs",), "kept", 100, 3600.0)
    before = await stats()
    await kill(SERVER_NAME, tree)
    after = await stats()
    assert after["generation"] == before["generation"]
    assert after["incarnation"] == before["incarnation"] + 1
    assert after["events"] == before["events"]
    assert emit_once_per(("disk", "full"), 3600.0) is False  # the window survived
    with capture(("logs",)) as seen:
        assert await telemetry().call(FlushAll()) == 1
    measurements: Any = seen[0].measurements
    assert measurements["items"] == ["kept"]


async def test_emitters_keep_counting_while_the_server_is_down(tree: Supervisor) -> None:
    server = telemetry()
    server.kill()
    await server.wait()
    emit_once_per(("while", "down"), 60.0)  # the keeper holds the tables; they stay writable
    await tree.which_children()
    rows = {row["event"]: row for row in (await stats())["events"]}
    assert rows["while.down"]["emitted"] == 1


async def test_strategies_set_at_run_time_survive_a_crash(tree: Supervisor) -> None:
    assert await call_telemetry(telemetry(), SetSampling("noisy", "never")) == {"noisy": "never"}
    await kill(SERVER_NAME, tree)
    assert await telemetry().call(GetSampling()) == {"noisy": "never"}
    assert emit(("noisy", "x")) is False


async def test_a_restarted_keeper_is_appointed_heir_again(tree: Supervisor) -> None:
    emit_once_per(("a",), 60.0)
    await kill(KEEPER_NAME, tree)
    await telemetry().call(GetStats())  # KeeperUp was sent before the keeper's start returned
    table = whereis_table(EVENTS_TABLE)
    assert table is not None
    assert table.heir is whereis(KEEPER_NAME)
    generation = (await stats())["generation"]
    await kill(SERVER_NAME, tree)
    assert (await stats())["generation"] == generation


async def test_without_a_keeper_a_restart_is_a_new_generation() -> None:
    first = await TelemetryServer.start(name=SERVER_NAME)
    emit_once_per(("x",), 60.0)
    generation = (await first.call(GetStats()))["generation"]
    first.kill()
    await first.wait()
    assert current_hub() is None  # no heir: the tables went with it
    second = await TelemetryServer.start(name=SERVER_NAME)
    try:
        fresh = await second.call(GetStats())
        assert fresh["generation"] > generation
        assert fresh["events"] == []
    finally:
        await second.stop()


async def test_the_component_brings_the_keeper_the_server_and_the_verbs() -> None:
    settings = Settings()
    context = ComponentContext(settings, Path("/nonexistent"), VerbTable({}))  # type: ignore[arg-type]
    specs = TELEMETRY.child_specs(TELEMETRY.of(settings), context)
    names = [spec.name for spec in specs]
    assert names.index(KEEPER_NAME) < names.index(SERVER_NAME)
    verbs = {method.name for method in TELEMETRY.verbs()}
    assert {
        "telemetry.events",
        "telemetry.stats",
        "telemetry.tap",
        "telemetry.sampling.get",
        "telemetry.sampling.set",
    } <= verbs
