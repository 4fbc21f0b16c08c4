"""The poller: each round's measurements, user callables (a raising one removed and reported), and
its timing on a manual clock (no sleeps: the test runs each round with ``call(poller, POLL)``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.errors import ConfigError
from daemon.settings import load_settings
from daemon.telemetry.metrics_config import PollerSettings
from daemon.telemetry.poller import FAILURE, LOOP, MAILBOX, POLL, PROCESS, TABLE, TREE, Poller
from supervisor import ChildSpec, Server, Supervisor, call, telemetry, whereis
from supervisor.tables import Table
from supervisor.testing import Captured, ManualClock, capture

USER_EVENT = ("tests", "poller", "user")


def user_measurement() -> None:
    """A user's measurement: emits an event of its own."""
    telemetry.execute(USER_EVENT, {"value": 1}, {})


async def async_user_measurement() -> None:
    await asyncio.sleep(0)
    telemetry.execute(USER_EVENT, {"value": 2}, {})


def broken_measurement() -> None:
    raise OSError("the sensor is gone")


async def started(manual_clock: ManualClock, **settings: Any) -> Poller:
    return await Poller.start(PollerSettings(**settings), clock=manual_clock)


@pytest.fixture
def seen() -> Iterator[list[Captured]]:
    with capture(TREE, MAILBOX, TABLE, LOOP, PROCESS, FAILURE, USER_EVENT) as events:
        yield events


def of(events: list[Captured], event: tuple[str, ...]) -> list[Captured]:
    return [e for e in events if e.event == event]


async def test_the_loop_lag_is_how_late_a_round_ran_on_the_clock(
    manual_clock: ManualClock, seen: list[Captured]
) -> None:
    poller = await started(manual_clock, builtin=("loop",), interval=5.0)
    try:
        manual_clock.advance(5.0)
        assert await call(poller, POLL) == ["loop"]
        manual_clock.advance(7.5)  # the next round was due 5 s after the last: 2.5 s late
        await call(poller, POLL)
    finally:
        await poller.stop()
    assert [e.measurements["lag"] for e in of(seen, LOOP)] == [0, 2_500_000_000]


class Holds(Server):
    """Blocks in its first cast until released (``busy`` set meanwhile), so the next casts wait in
    its mailbox."""

    async def init(self, busy: asyncio.Event, release: asyncio.Event) -> None:
        self.busy, self.release = busy, release

    async def handle_cast(self, message: Any) -> None:
        self.busy.set()
        await self.release.wait()


async def test_the_tree_and_mailbox_depths_of_the_running_servers(
    manual_clock: ManualClock, seen: list[Captured]
) -> None:
    busy, release = asyncio.Event(), asyncio.Event()
    inner = Supervisor.child_spec([ChildSpec("w", Server)], id="inner", name="test.inner")
    holds = ChildSpec("holds", Holds, args=(busy, release), name="test.holds")
    root = await Supervisor.start([holds, inner], name="arbord.root")
    try:
        server = whereis("test.holds")
        assert server is not None
        for n in range(4):
            server.cast(n)  # the first blocks; three wait
        async with asyncio.timeout(5):
            await busy.wait()
        poller = await started(manual_clock, builtin=("tree", "mailbox"))
        try:
            await call(poller, POLL)
        finally:
            await poller.stop()
    finally:
        release.set()
        await root.stop()
    (tree_event,) = of(seen, TREE)
    # holds, inner and inner's w: three running children; no restarts.
    measured = tree_event.measurements
    assert (measured["processes"], measured["restarts"]) == (3, 0)
    assert measured["named"] >= 3
    depths = {e.metadata["server"]: e.measurements["depth"] for e in of(seen, MAILBOX)}
    assert depths["test.holds"] == 3
    assert depths["test.inner"] == 0


async def test_tables_with_a_name_report_size_and_memory(
    manual_clock: ManualClock, seen: list[Captured]
) -> None:
    table = Table("test.poller.rows")
    table.insert([(n, "x" * 10) for n in range(100)])
    poller = await started(manual_clock, builtin=("table",))
    try:
        await call(poller, POLL)
    finally:
        await poller.stop()
        table.delete_table()
    (event,) = [e for e in of(seen, TABLE) if e.metadata["table"] == "test.poller.rows"]
    assert event.measurements["size"] == 100
    assert event.measurements["memory"] > 100 * 10


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc")
async def test_the_process_reports_rss_and_open_fds(manual_clock: ManualClock, seen: list[Captured]) -> None:
    poller = await started(manual_clock, builtin=("process",))
    try:
        await call(poller, POLL)
    finally:
        await poller.stop()
    (event,) = of(seen, PROCESS)
    assert event.measurements["rss"] > 1024 * 1024
    assert event.measurements["open_fds"] >= 3


MODULE = "tests.daemon.test_telemetry_poller"


async def test_user_measurements_run_each_round_and_a_raising_one_is_removed_and_reported(
    manual_clock: ManualClock, seen: list[Captured], caplog: pytest.LogCaptureFixture
) -> None:
    paths = [f"{MODULE}:user_measurement", f"{MODULE}:broken_measurement", f"{MODULE}:async_user_measurement"]
    poller = await started(manual_clock, builtin=(), measurements=paths)
    try:
        with caplog.at_level(logging.WARNING, "arbord.metrics"):
            assert await call(poller, POLL) == [paths[0], paths[2]]
        assert await call(poller, POLL) == [paths[0], paths[2]]
        assert poller.alive
    finally:
        await poller.stop()
    assert [e.measurements["value"] for e in of(seen, USER_EVENT)] == [1, 2, 1, 2]
    (failure,) = of(seen, FAILURE)
    assert failure.metadata == {"measurement": paths[1], "reason": "OSError('the sensor is gone')"}
    assert f"poller measurement {paths[1]} raised OSError('the sensor is gone'): removed" in caplog.text


def test_a_measurement_that_does_not_import_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "arbord.toml"
    path.write_text('[telemetry.poller]\nmeasurements = ["no_such_module_q:f", "os:nothing_here"]\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert [p.split(" (got")[0] for p in caught.value.problems] == [
        "telemetry.poller.measurements: cannot import module 'no_such_module_q': "
        "No module named 'no_such_module_q'"
    ]


@pytest.mark.parametrize("interval", [0, -1, "nan"])
def test_the_interval_is_positive_and_finite(interval: Any) -> None:
    with pytest.raises(ValueError, match="interval"):
        PollerSettings(interval=float(interval))
