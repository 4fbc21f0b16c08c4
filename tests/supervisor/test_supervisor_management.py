"""The management API with OTP's results (docs/otp-conformance.md#management-api and #child-specs).

OTP's ``{error, Reason}`` results are raised as errors; a refused request never disturbs the supervisor.
"""

from __future__ import annotations

from typing import Any

import pytest

from supervisor import (
    SHUTDOWN,
    AutoShutdown,
    ChildCounts,
    ChildSpec,
    ChildState,
    ChildType,
    Ignore,
    Restart,
    Server,
    Shutdown,
    StartFailed,
    Supervisor,
)
from supervisor.errors import (
    AlreadyStarted,
    ChildAlreadyPresent,
    ChildNotFound,
    ChildRunning,
    InvalidChildSpec,
)
from tests.supervisor.test_supervisor_support import (
    TEMPORARY,
    TRANSIENT,
    EventLog,
    Flaky,
    Switch,
    Worker,
    by_id,
    crash_child,
    ids,
    server_of,
    worker,
)


class Ignoring(Server):
    async def init(self) -> None:
        raise Ignore()


def sub_supervisor(child_id: str) -> ChildSpec:
    return ChildSpec(child_id, Supervisor, type=ChildType.SUPERVISOR)


# --- start_child -------------------------------------------------------------------------------------


async def test_start_child_returns_the_running_server() -> None:
    log: EventLog = []
    async with Supervisor([]) as sup:
        server = await sup.start_child(worker("a", log))
        assert server is not None
        assert server.alive
        assert await server_of(sup, "a") is server


async def test_start_child_with_a_running_id_raises_already_started_with_the_holder() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)]) as sup:
        running = await server_of(sup, "a")
        with pytest.raises(AlreadyStarted) as raised:
            await sup.start_child(worker("a", log))
        assert raised.value.holder is running
        assert ids(log, "start") == ["a"]


async def test_start_child_with_a_stopped_id_raises_already_present() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)]) as sup:
        await sup.terminate_child("a")
        with pytest.raises(ChildAlreadyPresent):
            await sup.start_child(worker("a", log))
        assert ids(log, "start") == ["a"]


async def test_failed_start_child_raises_and_keeps_no_spec() -> None:
    log: EventLog = []
    async with Supervisor([]) as sup:
        with pytest.raises(StartFailed) as raised:
            await sup.start_child(ChildSpec("f", Flaky, args=(log, "f", Switch(failing=True))))
        assert isinstance(raised.value.reason.exception, RuntimeError)
        with pytest.raises(ChildNotFound):
            await sup.get_childspec("f")
        assert sup.alive


async def test_ignoring_start_child_returns_none_and_keeps_a_permanent_spec() -> None:
    async with Supervisor([]) as sup:
        assert await sup.start_child(ChildSpec("i", Ignoring)) is None
        assert await sup.start_child(ChildSpec("t", Ignoring, restart=TEMPORARY)) is None
        children = by_id(await sup.which_children())
        assert list(children) == ["i"]
        assert children["i"].state is ChildState.UNDEFINED


async def test_start_child_refuses_a_significant_child_under_never() -> None:
    log: EventLog = []
    async with Supervisor([]) as sup:
        with pytest.raises(InvalidChildSpec, match="significant"):
            await sup.start_child(worker("s", log, restart=TRANSIENT, significant=True))
        assert log == []
        assert await sup.which_children() == []


async def test_start_child_accepts_a_significant_child_under_auto_shutdown() -> None:
    log: EventLog = []
    async with Supervisor([], auto_shutdown=AutoShutdown.ANY_SIGNIFICANT) as sup:
        assert await sup.start_child(worker("s", log, restart=TRANSIENT, significant=True)) is not None


async def test_start_child_refuses_what_is_not_a_spec_and_stays_up() -> None:
    async with Supervisor([]) as sup:
        bad: Any = {"id": "a", "start": Server}
        with pytest.raises(InvalidChildSpec):
            await sup.start_child(bad)
        assert sup.alive
        assert await sup.which_children() == []


# --- terminate_child ---------------------------------------------------------------------------------


async def test_terminate_child_stops_it_keeps_its_spec_and_does_not_restart_it() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log), worker("b", log)]) as sup:
        a = await server_of(sup, "a")
        assert await sup.terminate_child("a") is None  # type: ignore[func-returns-value]
        assert a.exit_reason == SHUTDOWN
        assert ids(log, "stop") == ["a"]
        info = by_id(await sup.which_children())["a"]
        assert (info.state, info.server, info.restarts) == (ChildState.UNDEFINED, None, 0)
        assert (await sup.get_childspec("a")).id == "a"
        assert ids(log, "start") == ["a", "b"]


async def test_terminate_child_removes_a_temporary_childs_spec() -> None:
    log: EventLog = []
    async with Supervisor([worker("t", log, restart=Restart.TEMPORARY)]) as sup:
        await sup.terminate_child("t")
        assert await sup.which_children() == []
        with pytest.raises(ChildNotFound):
            await sup.restart_child("t")


async def test_terminate_child_of_a_stopped_child_is_ok() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)]) as sup:
        await sup.terminate_child("a")
        await sup.terminate_child("a")
        assert ids(log, "stop") == ["a"]


async def test_terminate_child_uses_the_childs_shutdown_policy() -> None:
    log: EventLog = []
    async with Supervisor([worker("k", log, shutdown=Shutdown.BRUTAL_KILL)]) as sup:
        k = await server_of(sup, "k")
        await sup.terminate_child("k")
        assert k.exit_reason is not None
        assert k.exit_reason.is_abnormal
        assert ids(log, "stop") == []


async def test_terminate_child_of_an_unknown_id_raises_not_found() -> None:
    async with Supervisor([]) as sup:
        with pytest.raises(ChildNotFound):
            await sup.terminate_child("nobody")
        assert sup.alive


# --- restart_child and delete_child ------------------------------------------------------------------


async def test_restart_child_starts_a_stopped_child_in_place() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)]) as sup:
        old = await server_of(sup, "a")
        await sup.terminate_child("a")
        new = await sup.restart_child("a")
        assert new is not None
        assert new is not old
        assert new.alive
        assert await server_of(sup, "a") is new


async def test_restart_child_of_a_running_child_raises_running() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)]) as sup:
        with pytest.raises(ChildRunning):
            await sup.restart_child("a")


async def test_restart_child_of_an_unknown_id_raises_not_found() -> None:
    async with Supervisor([]) as sup:
        with pytest.raises(ChildNotFound):
            await sup.restart_child("nobody")


async def test_failed_restart_child_raises_and_leaves_it_stopped() -> None:
    log: EventLog = []
    switch = Switch()
    async with Supervisor([ChildSpec("f", Flaky, args=(log, "f", switch))]) as sup:
        await sup.terminate_child("f")
        switch.failing = True
        with pytest.raises(StartFailed):
            await sup.restart_child("f")
        assert by_id(await sup.which_children())["f"].state is ChildState.UNDEFINED
        switch.failing = False
        assert await sup.restart_child("f") is not None


async def test_restart_child_that_ignores_returns_none() -> None:
    async with Supervisor([ChildSpec("i", Ignoring)]) as sup:
        assert await sup.restart_child("i") is None
        assert by_id(await sup.which_children())["i"].state is ChildState.UNDEFINED


async def test_delete_child_forgets_a_stopped_child() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log), worker("b", log)]) as sup:
        await sup.terminate_child("a")
        assert await sup.delete_child("a") is None  # type: ignore[func-returns-value]
        assert [info.id for info in await sup.which_children()] == ["b"]
        with pytest.raises(ChildNotFound):
            await sup.get_childspec("a")


async def test_delete_child_refuses_a_running_or_unknown_child() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)]) as sup:
        with pytest.raises(ChildRunning):
            await sup.delete_child("a")
        with pytest.raises(ChildNotFound):
            await sup.delete_child("nobody")
        assert (await sup.count_children()).active == 1


# --- replace_childspec ------------------------------------------------------------------------------


async def test_replace_childspec_keeps_the_childs_place_in_start_and_stop_order() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log), worker("b", log), worker("c", log)]) as sup:
        await sup.terminate_child("b")
        new_b = ChildSpec("b", Worker, args=(log, "b2"))
        assert await sup.replace_childspec(new_b) is None  # type: ignore[func-returns-value]
        assert await sup.get_childspec("b") is new_b
        await sup.restart_child("b")
        # which_children lists the most recently *added* first: b is still between a and c.
        assert [info.id for info in await sup.which_children()] == ["c", "b", "a"]
        log.clear()
    assert ids(log, "stop") == ["c", "b2", "a"]  # stopped in reverse start order, b in its place


async def test_replace_childspec_refuses_a_running_unknown_or_invalid_child() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)]) as sup:
        with pytest.raises(ChildRunning):
            await sup.replace_childspec(worker("a", log))
        with pytest.raises(ChildNotFound):
            await sup.replace_childspec(worker("nobody", log))
        with pytest.raises(InvalidChildSpec):
            await sup.replace_childspec("not a spec")  # type: ignore[arg-type]
        await sup.terminate_child("a")
        with pytest.raises(InvalidChildSpec, match="significant"):
            await sup.replace_childspec(ChildSpec("a", Worker, args=(log, "a"), significant=True))
        assert sup.alive  # refusals never disturb the supervisor
        assert (await sup.count_children()).specs == 1


# --- update_childspec -------------------------------------------------------------------------------


async def test_update_childspec_keeps_the_running_child_and_its_next_restart_uses_the_new_spec() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log), worker("b", log), worker("c", log)]) as sup:
        running = await server_of(sup, "b")
        new_b = ChildSpec("b", Worker, args=(log, "b2"))
        assert await sup.update_childspec(new_b) is None  # type: ignore[func-returns-value]
        assert await sup.get_childspec("b") is new_b
        assert await server_of(sup, "b") is running  # not restarted: it runs on with its old args
        assert await running.call("label?") == "b"
        assert ids(log, "start") == ["a", "b", "c"]
        await crash_child(running)
        assert await (await server_of(sup, "b")).call("label?") == "b2"  # the restart took the new spec
        assert by_id(await sup.which_children())["b"].restarts == 1
        assert [info.id for info in await sup.which_children()] == ["c", "b", "a"]  # in its place
        log.clear()
    assert ids(log, "stop") == ["c", "b2", "a"]


async def test_update_childspec_of_a_stopped_child_is_used_by_restart_child() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)]) as sup:
        await sup.terminate_child("a")
        await sup.update_childspec(ChildSpec("a", Worker, args=(log, "a2")))
        await sup.restart_child("a")
        assert await (await server_of(sup, "a")).call("label?") == "a2"


async def test_update_childspec_refuses_an_unknown_or_invalid_child() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)]) as sup:
        with pytest.raises(ChildNotFound):
            await sup.update_childspec(worker("nobody", log))
        with pytest.raises(InvalidChildSpec):
            await sup.update_childspec("not a spec")  # type: ignore[arg-type]
        with pytest.raises(InvalidChildSpec, match="significant"):
            await sup.update_childspec(ChildSpec("a", Worker, args=(log, "a"), significant=True))
        assert sup.alive  # refusals never disturb the supervisor
        assert (await sup.get_childspec("a")).args == (log, "a")


# --- which_children, count_children, get_childspec ---------------------------------------------------


async def test_which_children_reports_id_server_state_type_and_restarts() -> None:
    log: EventLog = []
    specs = [worker("w", log), sub_supervisor("s"), worker("stopped", log)]
    async with Supervisor(specs) as sup:
        await sup.terminate_child("stopped")
        await crash_child(await server_of(sup, "w"))
        stopped, s, w = await sup.which_children()
        assert (stopped.id, stopped.state, stopped.server, stopped.uptime) == (
            "stopped",
            ChildState.UNDEFINED,
            None,
            None,
        )
        assert (s.id, s.type, s.state) == ("s", ChildType.SUPERVISOR, ChildState.RUNNING)
        assert isinstance(s.server, Supervisor)
        assert (w.id, w.type, w.restarts) == ("w", ChildType.WORKER, 1)
        assert w.uptime is not None
        assert w.uptime >= 0


async def test_count_children_counts_specs_active_supervisors_and_workers() -> None:
    log: EventLog = []
    specs = [worker("a", log), worker("b", log), sub_supervisor("s1"), sub_supervisor("s2")]
    async with Supervisor(specs) as sup:
        assert await sup.count_children() == ChildCounts(specs=4, active=4, supervisors=2, workers=2)
        await sup.terminate_child("a")
        await sup.terminate_child("s1")
        # supervisors and workers count regardless of liveness
        assert await sup.count_children() == ChildCounts(specs=4, active=2, supervisors=2, workers=2)


async def test_get_childspec_returns_the_full_spec_with_defaults() -> None:
    log: EventLog = []
    spec = worker("a", log)
    async with Supervisor([spec]) as sup:
        got = await sup.get_childspec("a")
        assert got == spec
        assert (got.restart, got.shutdown, got.type) == (Restart.PERMANENT, 5.0, ChildType.WORKER)
        with pytest.raises(ChildNotFound):
            await sup.get_childspec("nobody")


async def test_refused_requests_never_disturb_the_supervisor() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)]) as sup:
        a = await server_of(sup, "a")
        for request in (sup.restart_child("a"), sup.delete_child("a"), sup.terminate_child("x")):
            with pytest.raises((ChildRunning, ChildNotFound)):
                await request
        assert sup.alive
        assert a.alive
        assert await sup.count_children() == ChildCounts(specs=1, active=1, supervisors=0, workers=1)
