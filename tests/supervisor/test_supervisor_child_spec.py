"""``Supervisor.child_spec`` and ``DynamicSupervisor.child_spec``: Elixir's ``child_spec/2`` (issue 10).

The spec of a supervisor as a child of another, with overrides: its ``type`` is ``SUPERVISOR`` (so the
default shutdown is ``INFINITY``), its flags travel as one ``SupervisorFlags``, and its children and
flags are checked when the spec is made, before anything starts.
"""

from __future__ import annotations

import pytest

from supervisor import (
    ChildSpec,
    ChildType,
    DynamicSupervisor,
    Restart,
    Shutdown,
    Strategy,
    Supervisor,
    SupervisorFlags,
    whereis,
)
from supervisor.errors import InvalidChildSpec, InvalidSupervisorFlags
from tests.supervisor.test_supervisor_support import EventLog, Worker, ids, worker


def test_a_supervisor_spec_is_of_type_supervisor_with_its_flags() -> None:
    log: EventLog = []
    children = [worker("a", log), worker("b", log)]
    spec = Supervisor.child_spec(
        children, id="inner", name="inner-sup", strategy=Strategy.REST_FOR_ONE, intensity=9
    )
    assert spec == ChildSpec(
        "inner",
        Supervisor,
        args=(tuple(children),),
        kwargs={"flags": SupervisorFlags(strategy=Strategy.REST_FOR_ONE, intensity=9)},
        type=ChildType.SUPERVISOR,
        name="inner-sup",
    )
    assert spec.shutdown is Shutdown.INFINITY


def test_the_spec_fields_can_be_overridden() -> None:
    spec = Supervisor.child_spec(id="s", restart=Restart.TRANSIENT, shutdown=10.0, significant=True)
    assert (spec.restart, spec.shutdown, spec.significant) == (Restart.TRANSIENT, 10.0, True)


def test_a_flags_record_and_keyword_overrides_combine() -> None:
    spec = Supervisor.child_spec(id="s", flags=SupervisorFlags(intensity=1), period=0.5)
    assert spec.kwargs["flags"] == SupervisorFlags(intensity=1, period=0.5)


def test_mistakes_fail_when_the_spec_is_made() -> None:
    log: EventLog = []
    with pytest.raises(InvalidSupervisorFlags, match="'intensity'"):
        Supervisor.child_spec(id="s", intensity=-1)
    with pytest.raises(InvalidChildSpec, match="duplicate"):
        Supervisor.child_spec([worker("a", log), worker("a", log)], id="s")
    with pytest.raises(InvalidChildSpec, match="'id'"):
        Supervisor.child_spec(id="")
    with pytest.raises(InvalidSupervisorFlags, match="'max_children'"):
        DynamicSupervisor.child_spec(id="d", max_children=-1)


def test_a_subclass_builds_a_spec_that_starts_the_subclass() -> None:
    class Team(Supervisor):
        pass

    assert Team.child_spec(id="team").start is Team


async def test_a_nested_supervisor_from_its_spec_runs_with_its_flags() -> None:
    log: EventLog = []
    inner = Supervisor.child_spec(
        [worker("a", log), worker("b", log)], id="inner", name="nested-inner", strategy=Strategy.ONE_FOR_ALL
    )
    async with Supervisor([inner]):
        nested = whereis("nested-inner")
        assert isinstance(nested, Supervisor)
        assert nested.flags.strategy is Strategy.ONE_FOR_ALL
        assert [info.id for info in await nested.which_children()] == ["b", "a"]
    assert ids(log, "start") == ["a", "b"]


async def test_a_nested_dynamic_supervisor_from_its_spec_takes_its_options() -> None:
    spec = DynamicSupervisor.child_spec(
        id="pool", name="nested-pool", max_children=1, extra_arguments=([],), intensity=4
    )
    assert (spec.type, spec.start, spec.args) == (ChildType.SUPERVISOR, DynamicSupervisor, ())
    async with Supervisor([spec]):
        pool = whereis("nested-pool")
        assert isinstance(pool, DynamicSupervisor)
        assert (pool.max_children, pool.flags.intensity) == (1, 4)
        child = await pool.start_child(ChildSpec("w", Worker, args=("w",)))
        assert child is not None
        assert await child.call("label?") == "w"
