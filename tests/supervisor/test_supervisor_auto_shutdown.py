"""auto_shutdown and significant children (docs/otp-conformance.md#automatic-shutdown).

A significant child that exits on its own and is not restarted stops the supervisor (any_significant),
or the last one does (all_significant); a termination the supervisor causes never does.
"""

from __future__ import annotations

import pytest

from supervisor import (
    NORMAL,
    SHUTDOWN,
    AutoShutdown,
    ChildSpec,
    ChildState,
    ChildType,
    Exit,
    Restart,
    Strategy,
    Supervisor,
    shutdown,
)
from supervisor.errors import InvalidChildSpec
from supervisor.testing import settle
from tests.supervisor.test_supervisor_support import (
    TEMPORARY,
    TRANSIENT,
    EventLog,
    by_id,
    crash_child,
    ids,
    server_of,
    worker,
)

ANY = AutoShutdown.ANY_SIGNIFICANT
ALL = AutoShutdown.ALL_SIGNIFICANT


def significant(child_id: str, log: EventLog, restart: Restart = TRANSIENT) -> ChildSpec:
    return worker(child_id, log, restart=restart, significant=True)


def test_auto_shutdown_defaults_to_never() -> None:
    with pytest.raises(InvalidChildSpec, match="auto_shutdown"):
        Supervisor([significant("s", [])])


@pytest.mark.parametrize("reason", [NORMAL, SHUTDOWN, shutdown("done")], ids=repr)
async def test_any_significant_stops_when_a_transient_significant_child_exits_normally(reason: Exit) -> None:
    log: EventLog = []
    sup = await Supervisor.start(
        [worker("a", log), significant("s", log), worker("c", log)], auto_shutdown=ANY
    )
    await crash_child(await server_of(sup, "s"), reason)
    assert await sup.wait() == SHUTDOWN
    assert ids(log, "stop")[-2:] == ["c", "a"]


async def test_a_restarted_significant_child_does_not_stop_the_supervisor() -> None:
    log: EventLog = []
    async with Supervisor([significant("s", log)], auto_shutdown=ANY) as sup:
        await crash_child(await server_of(sup, "s"))
        assert by_id(await sup.which_children())["s"].state is ChildState.RUNNING
        assert sup.alive


@pytest.mark.parametrize("crashes", [False, True], ids=["normal", "crash"])
async def test_any_significant_stops_when_a_temporary_significant_child_exits_for_any_reason(
    crashes: bool,
) -> None:
    log: EventLog = []
    sup = await Supervisor.start([worker("a", log), significant("t", log, TEMPORARY)], auto_shutdown=ANY)
    await crash_child(await server_of(sup, "t"), None if crashes else NORMAL)
    assert await sup.wait() == SHUTDOWN
    assert ids(log, "stop") == ["a"]


async def test_all_significant_stops_only_when_the_last_significant_child_has_gone() -> None:
    log: EventLog = []
    specs = [worker("a", log), significant("s1", log), significant("s2", log, TEMPORARY)]
    sup = await Supervisor.start(specs, auto_shutdown=ALL)
    await crash_child(await server_of(sup, "s1"), NORMAL)
    await settle(sup)
    assert sup.alive
    await crash_child(await server_of(sup, "s2"), NORMAL)
    assert await sup.wait() == SHUTDOWN
    assert ids(log, "stop") == ["a"]


async def test_a_non_significant_child_exit_never_stops_the_supervisor() -> None:
    log: EventLog = []
    specs = [worker("plain", log, restart=TRANSIENT), significant("s", log)]
    async with Supervisor(specs, auto_shutdown=ANY) as sup:
        await crash_child(await server_of(sup, "plain"), NORMAL)
        await settle(sup)
        assert sup.alive


@pytest.mark.parametrize("mode", [ANY, ALL], ids=lambda m: m.value)
async def test_terminate_child_of_a_significant_child_never_stops_the_supervisor(mode: AutoShutdown) -> None:
    log: EventLog = []
    async with Supervisor(
        [significant("s", log), significant("t", log, TEMPORARY)], auto_shutdown=mode
    ) as sup:
        await sup.terminate_child("s")
        await sup.terminate_child("t")
        await settle(sup)
        assert sup.alive
        assert [info.id for info in await sup.which_children()] == ["s"]


@pytest.mark.parametrize("strategy", [Strategy.ONE_FOR_ALL, Strategy.REST_FOR_ONE], ids=lambda s: s.value)
async def test_a_cascade_stopping_a_significant_child_never_stops_the_supervisor(strategy: Strategy) -> None:
    log: EventLog = []
    specs = [worker("a", log), significant("t", log, TEMPORARY)]
    async with Supervisor(specs, strategy=strategy, auto_shutdown=ANY) as sup:
        await crash_child(await server_of(sup, "a"))
        await settle(sup)
        assert sup.alive
        assert [info.id for info in await sup.which_children()] == ["a"]  # t was dropped, not restarted


async def test_an_auto_shutdown_supervisor_under_a_transient_spec_stays_stopped() -> None:
    log: EventLog = []
    inner = ChildSpec(
        "job",
        Supervisor,
        args=([significant("step", log)],),
        kwargs={"auto_shutdown": ANY},
        restart=TRANSIENT,
        type=ChildType.SUPERVISOR,
    )
    async with Supervisor([inner]) as parent:
        job = await server_of(parent, "job")
        assert isinstance(job, Supervisor)
        await crash_child(await server_of(job, "step"), NORMAL)
        assert await job.wait() == SHUTDOWN
        assert by_id(await parent.which_children())["job"].state is ChildState.UNDEFINED
