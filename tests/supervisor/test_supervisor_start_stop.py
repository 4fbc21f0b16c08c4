"""Starting and stopping a Supervisor (docs/otp-conformance.md#start-failure-and-ignore, #child-specs).

Start is synchronous, a start failure stops what was started and fails the start, bad specs and flags are
refused before anything starts, ``ignore`` keeps the spec without a server.
"""

from __future__ import annotations

from typing import Any

import pytest

from supervisor import (
    SHUTDOWN,
    AutoShutdown,
    ChildSpec,
    ChildState,
    ChildType,
    Exit,
    ExitKind,
    Ignore,
    Server,
    StartFailed,
    Strategy,
    Supervisor,
    whereis,
)
from supervisor.errors import InitIgnored, InvalidChildSpec, InvalidSupervisorFlags
from tests.supervisor.test_supervisor_support import (
    TEMPORARY,
    TRANSIENT,
    EventLog,
    Flaky,
    Switch,
    Worker,
    by_id,
    ids,
    worker,
)


class Ignoring(Server):
    async def init(self, log: EventLog, label: str) -> None:
        log.append(("ignore", label))
        raise Ignore()


async def test_start_returns_only_after_every_child_started() -> None:
    log: EventLog = []
    sup = Supervisor([worker("a", log), worker("b", log)])
    async with sup:
        assert ids(log, "start") == ["a", "b"]
        assert [info.state for info in await sup.which_children()] == [ChildState.RUNNING] * 2


async def test_stop_stops_children_then_exits_with_the_given_reason() -> None:
    log: EventLog = []
    sup = await Supervisor.start([worker("a", log)], name="sup-stop")
    assert whereis("sup-stop") is sup
    child = (await sup.which_children())[0].server
    assert child is not None
    assert await sup.stop(SHUTDOWN) == SHUTDOWN
    assert ids(log, "stop") == ["a"]
    assert child.exit_reason == SHUTDOWN
    assert whereis("sup-stop") is None


async def test_leaving_the_context_stops_the_supervisor_with_shutdown() -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)]) as sup:
        pass
    assert sup.exit_reason == SHUTDOWN
    assert ids(log, "stop") == ["a"]


async def test_start_failure_stops_started_children_in_reverse_and_fails_with_shutdown_reason() -> None:
    log: EventLog = []
    switch = Switch(failing=True)
    specs = [
        worker("a", log),
        worker("b", log),
        ChildSpec("c", Flaky, args=(log, "c", switch)),
        worker("d", log),
    ]
    with pytest.raises(StartFailed) as raised:
        await Supervisor.start(specs)
    assert log == [("start", "a"), ("start", "b"), ("stop", "b"), ("stop", "a")]
    reason = raised.value.reason
    assert reason.kind is ExitKind.SHUTDOWN
    assert isinstance(reason.term, tuple)
    child_id, child_reason = reason.term
    assert child_id == "c"
    assert isinstance(child_reason, Exit)
    assert isinstance(child_reason.exception, RuntimeError)


async def test_start_failure_drops_temporary_children_it_stopped() -> None:
    log: EventLog = []
    switch = Switch(failing=True)
    specs = [worker("tmp", log, restart=TEMPORARY), ChildSpec("bad", Flaky, args=(log, "bad", switch))]
    with pytest.raises(StartFailed):
        await Supervisor.start(specs)
    assert log == [("start", "tmp"), ("stop", "tmp")]


async def test_duplicate_ids_refuse_to_start_before_anything_starts() -> None:
    log: EventLog = []
    with pytest.raises(InvalidChildSpec, match=r"child 'a': duplicate child id"):
        Supervisor([worker("a", log), worker("b", log), worker("a", log)])
    # Started as a child (its specs arrive as init arguments) it refuses the same way, wrapped in the
    # start failure its parent sees.
    with pytest.raises(StartFailed) as raised:
        await Supervisor.start([worker("a", log), worker("a", log)])
    assert isinstance(raised.value.reason.exception, InvalidChildSpec)
    assert log == []


async def test_significant_child_is_refused_when_auto_shutdown_is_never() -> None:
    log: EventLog = []
    spec = worker("s", log, restart=TRANSIENT, significant=True)
    with pytest.raises(InvalidChildSpec, match=r"child 's': field 'significant'"):
        Supervisor([worker("a", log), spec])
    assert log == []


def test_a_child_that_is_not_a_childspec_is_refused() -> None:
    bad: Any = ("a", Worker)
    with pytest.raises(InvalidChildSpec, match="must be a ChildSpec"):
        Supervisor([bad])


@pytest.mark.parametrize(
    "flags",
    [
        {"strategy": "one_for_one"},
        {"auto_shutdown": "never"},
        {"intensity": -1},
        {"intensity": 1.5},
        {"intensity": True},
        {"period": 0},
        {"period": -5.0},
        {"kill_grace": -1},
    ],
    ids=repr,
)
def test_invalid_flags_are_refused_with_the_flag_named(flags: dict[str, Any]) -> None:
    (flag,) = flags
    with pytest.raises(InvalidSupervisorFlags, match=flag):
        Supervisor([], **flags)


async def test_invalid_flags_also_fail_start() -> None:
    with pytest.raises(StartFailed) as raised:
        await Supervisor.start([], strategy="one_for_one")
    assert isinstance(raised.value.reason.exception, InvalidSupervisorFlags)


async def test_ignoring_child_keeps_its_spec_without_a_server() -> None:
    log: EventLog = []
    specs = [worker("a", log), ChildSpec("quiet", Ignoring, args=(log, "quiet"))]
    async with Supervisor(specs) as sup:
        quiet = by_id(await sup.which_children())["quiet"]
        assert (quiet.server, quiet.state) == (None, ChildState.UNDEFINED)
        assert (await sup.count_children()).specs == 2


async def test_ignoring_temporary_child_is_dropped() -> None:
    log: EventLog = []
    specs = [worker("a", log), ChildSpec("quiet", Ignoring, args=(log, "quiet"), restart=TEMPORARY)]
    async with Supervisor(specs) as sup:
        assert [info.id for info in await sup.which_children()] == ["a"]
    assert ("ignore", "quiet") in log


async def test_start_function_may_be_an_async_factory_returning_a_server_or_none() -> None:
    log: EventLog = []

    async def make(label: str) -> Server | None:
        if label == "none":
            return None
        return await Worker.start(log, label)

    specs = [ChildSpec("made", make, args=("made",)), ChildSpec("none", make, args=("none",))]
    async with Supervisor(specs) as sup:
        children = by_id(await sup.which_children())
        assert children["made"].state is ChildState.RUNNING
        assert children["none"].state is ChildState.UNDEFINED
        made = children["made"].server
        assert made is not None
        assert await made.call("who") == "made"
    assert ids(log, "stop") == ["made"]


async def test_factory_returning_a_non_server_fails_the_start() -> None:
    async def make() -> Any:
        return "not a server"

    with pytest.raises(StartFailed) as raised:
        await Supervisor.start([ChildSpec("odd", make)])
    assert raised.value.reason.term[0] == "odd"  # type: ignore[index]


async def test_children_receive_args_and_kwargs_and_their_registered_name() -> None:
    class Configured(Server):
        async def init(self, first: int, *, second: int) -> None:
            self.values = (first, second)

        async def handle_call(self, request: Any, caller: Any) -> Any:
            return self.values

    spec = ChildSpec("c", Configured, args=(1,), kwargs={"second": 2}, name="configured")
    async with Supervisor([spec]):
        server = whereis("configured")
        assert server is not None
        assert await server.call("values") == (1, 2)


async def test_strategy_and_flags_are_kept_on_the_supervisor() -> None:
    async with Supervisor(
        [], strategy=Strategy.REST_FOR_ONE, auto_shutdown=AutoShutdown.ALL_SIGNIFICANT
    ) as sup:
        assert sup.strategy is Strategy.REST_FOR_ONE
        assert sup.auto_shutdown is AutoShutdown.ALL_SIGNIFICANT


class IgnoringSupervisor(Supervisor):
    """A supervisor whose init decides there is nothing to supervise (OTP's init returning ignore)."""

    async def init(self, *args: Any, **kwargs: Any) -> None:
        raise Ignore()


async def test_a_supervisor_whose_init_ignores_starts_nothing() -> None:
    with pytest.raises(InitIgnored):
        await IgnoringSupervisor.start()
    spec = ChildSpec("idle", IgnoringSupervisor, type=ChildType.SUPERVISOR)
    async with Supervisor([spec]) as parent:
        (info,) = await parent.which_children()
        assert (info.id, info.state, info.server) == ("idle", ChildState.UNDEFINED, None)
