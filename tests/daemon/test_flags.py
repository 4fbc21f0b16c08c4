"""The flags server and its binding: gates, FunWithFlags' precedence (against a pure model), writes
ordered through the server and published only once committed, bad input refused with nothing
changed (docs/flags.md)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import daemon.flags as flags_api
from daemon.flags import (
    FLAGS_NAME,
    Flags,
    FlagState,
    GateKind,
    GateOp,
    InvalidGate,
    MemoryStore,
    Percentage,
    StoreFailed,
    UnknownFlag,
)
from daemon.flags.bucket import normalized
from daemon.flags.config import FlagsSettings
from daemon.flags.evaluate import decide
from daemon.flags.gates import apply
from supervisor import NoProc


def declared(*names: str, **defaults: bool) -> FlagsSettings:
    table: dict[str, Any] = {name: {} for name in names}
    table.update({name: {"default": value} for name, value in defaults.items()})
    return FlagsSettings.model_validate({"store": "memory", **table})


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
async def flags(store: MemoryStore) -> AsyncIterator[Flags]:
    server = await Flags.start(declared("beta", "checkout", on_by_default=True), store=store, name=FLAGS_NAME)
    yield server
    if server.alive:
        await server.stop()


@dataclass(frozen=True)
class User:
    flag_id: str
    plan: str = "free"


# --- gates and precedence ----------------------------------------------------------------------------


async def test_an_unknown_flag_and_a_flag_without_gates_are_disabled(flags: Flags) -> None:
    assert flags.enabled("never_heard_of") is False
    assert flags.enabled("beta") is False
    assert flags.enabled("beta", "alice") is False


async def test_a_declared_default_holds_while_the_flag_has_no_gate(flags: Flags) -> None:
    assert flags.enabled("on_by_default") is True
    await flags.disable("on_by_default")
    assert flags.enabled("on_by_default") is False
    await flags.clear("on_by_default")
    assert flags.enabled("on_by_default") is True


async def test_the_boolean_gate(flags: Flags) -> None:
    await flags.enable("beta")
    assert flags.enabled("beta") is True
    assert flags.enabled("beta", "anyone") is True
    await flags.disable("beta")
    assert flags.enabled("beta") is False


async def test_an_actor_gate_decides_over_everything_else(flags: Flags) -> None:
    flags.register_group("staff", lambda user: user.plan == "staff")
    await flags.disable("beta", for_group="staff")
    await flags.enable("beta", for_actor="ann")
    await flags.disable("beta", for_actor="bob")
    await flags.enable("beta")
    assert flags.enabled("beta", User("ann", "staff")) is True  # actor on beats a disabled group
    assert flags.enabled("beta", User("bob")) is False  # actor off beats the boolean gate
    assert flags.enabled("beta", User("cid", "staff")) is False  # the group's no beats boolean
    assert flags.enabled("beta", User("dee")) is True


async def test_a_disabled_group_beats_an_enabled_one(flags: Flags) -> None:
    flags.register_group("staff", lambda user: user.plan in ("staff", "both"))
    flags.register_group("testers", lambda user: user.plan in ("testers", "both"))
    await flags.enable("beta", for_group="testers")
    await flags.disable("beta", for_group="staff")
    assert flags.enabled("beta", User("a", "testers")) is True
    assert flags.enabled("beta", User("b", "both")) is False
    assert flags.enabled("beta", User("c", "staff")) is False
    assert flags.enabled("beta", User("d")) is False


async def test_a_group_gate_without_a_registered_group_or_with_a_broken_one_has_no_members(
    flags: Flags,
) -> None:
    await flags.enable("beta", for_group="nobody_registered_this")
    assert flags.enabled("beta", "ann") is False

    def broken(actor: object) -> bool:
        raise RuntimeError("the membership function is broken")

    flags.register_group("broken", broken)
    await flags.enable("beta", for_group="broken")
    assert flags.enabled("beta", "ann") is False


async def test_a_percentage_is_consulted_when_the_boolean_gate_is_absent_or_false(store: MemoryStore) -> None:
    server = await Flags.start(declared("beta"), store=store, roll=lambda: 10.0)
    try:
        await server.set_percentage("beta", 50)
        assert server.enabled("beta") is True  # absent: 10 < 50
        await server.disable("beta")
        assert server.enabled("beta") is True  # false: still consulted (FunWithFlags)
        await server.set_percentage("beta", 5)
        assert server.enabled("beta") is False
    finally:
        await server.stop()


async def test_a_percentage_of_actors_is_ignored_without_an_actor(flags: Flags) -> None:
    await flags.set_percentage("beta", 100, of="actors")
    assert flags.enabled("beta", "ann") is True
    assert flags.enabled("beta") is False


async def test_the_percentage_gates_replace_each_other(flags: Flags) -> None:
    await flags.set_percentage("beta", 30, of="time")
    await flags.set_percentage("beta", 40, of="actors", group_id="wave1")
    assert flags.state("beta") == FlagState("beta", percentage=Percentage(40, "actors", "wave1"))


async def test_a_percentage_of_actors_buckets_by_the_group_id_or_the_flag_name(flags: Flags) -> None:
    await flags.set_percentage("beta", 50, of="actors")
    for actor in ("a", "b", "c", "d", "e", "f"):
        assert flags.enabled("beta", actor) is (normalized("beta", actor) <= 50)
    await flags.set_percentage("beta", 50, of="actors", group_id="AB12A")
    assert flags.enabled("beta", "122") is True  # bucket 23 (Unleash's spec case)
    assert flags.enabled("beta", "155") is False  # bucket 100


async def test_evaluation_always_returns_a_bool_and_reads_actors_by_flag_id(flags: Flags) -> None:
    await flags.enable("beta", for_actor=User("ann"))
    assert flags.enabled("beta", User("ann")) is True
    assert flags.enabled("beta", "ann") is True
    with pytest.raises(TypeError, match="flag_id"):
        flags.enabled("beta", 42)  # type: ignore[arg-type]


# The pure model of FunWithFlags' precedence the property test checks the server against.
def model(state: FlagState, actor: str | None, members: set[str], roll: float, default: bool) -> bool:
    if actor is not None and actor in state.actors:
        return state.actors[actor]
    mine = {g: on for g, on in state.groups.items() if actor is not None and g in members}
    if mine:
        return all(mine.values())
    if state.boolean:
        return True
    p = state.percentage
    if p is not None and p.of == "time" and roll < p.value:
        return True
    if p is not None and p.of == "actors" and actor is not None:
        return normalized(p.group_id or state.name, actor) <= p.value
    if state.is_empty:
        return default
    return False


names = st.sampled_from(["a", "b", "c"])
ops = st.one_of(
    st.builds(lambda a: GateOp.enable(for_actor=a), names),
    st.builds(lambda a: GateOp.disable(for_actor=a), names),
    st.builds(lambda g: GateOp.enable(for_group=g), names),
    st.builds(lambda g: GateOp.disable(for_group=g), names),
    st.just(GateOp.enable()),
    st.just(GateOp.disable()),
    st.builds(
        lambda v, of: GateOp.percentage(v, of=of),
        st.floats(0, 100, allow_nan=False),
        st.sampled_from(["time", "actors"]),
    ),
    st.sampled_from([GateOp.clear(kind) for kind in GateKind] + [GateOp.clear()]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(ops, max_size=8),
    st.one_of(st.none(), names),
    st.sets(names),
    st.floats(0, 99.99, allow_nan=False),
    st.booleans(),
)
def test_decide_follows_the_precedence_of_the_pure_model(
    writes: list[GateOp], actor: str | None, members: set[str], roll: float, default: bool
) -> None:
    state = FlagState("f")
    for op in writes:
        state = apply(state, op)
    decision = decide(state, actor, actor, lambda g: lambda _: g in members, lambda: roll, default=default)
    assert decision.value is model(state, actor, members, roll, default)
    if state.constant is not None and not state.is_empty:
        assert state.constant is decision.value  # the fast path agrees with the full evaluation


# --- writes -----------------------------------------------------------------------------------------


async def test_a_write_is_committed_then_published_and_returns_its_revision(
    flags: Flags, store: MemoryStore
) -> None:
    record = await flags.enable("beta", actor="ann", reason="launch")
    assert record.revision == 1 == flags.revision
    (stored,) = await store.history("beta")
    assert stored == record
    assert stored.change.actor == "ann"
    assert stored.change.reason == "launch"
    assert stored.change.old == FlagState("beta")
    assert stored.change.new == FlagState("beta", boolean=True)


async def test_a_failed_commit_changes_nothing_and_the_server_stays_up(
    flags: Flags, store: MemoryStore
) -> None:
    store.fail_next = 1
    with pytest.raises(StoreFailed):
        await flags.enable("beta")
    assert flags.enabled("beta") is False
    assert flags.alive
    assert flags.revision == 0
    await flags.enable("beta")
    assert flags.enabled("beta") is True


async def test_an_unknown_flag_in_a_write_is_an_error_naming_it_unless_created(flags: Flags) -> None:
    with pytest.raises(UnknownFlag, match="'typo'"):
        await flags.enable("typo")
    assert flags.state("typo") is None
    await flags.enable("typo", create=True)
    assert flags.enabled("typo") is True
    await flags.disable("typo")  # known from now on


@pytest.mark.parametrize("value", [-1, 101, math.nan, math.inf, "50", True, None])
async def test_a_percentage_outside_0_to_100_is_refused_with_nothing_changed(
    flags: Flags, value: Any
) -> None:
    with pytest.raises(InvalidGate, match=r"\[0, 100\]"):
        await flags.set_percentage("beta", value)
    assert flags.state("beta") == FlagState("beta")
    assert flags.revision == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda f: f.enable("", create=True),
        lambda f: f.enable("x\n", create=True),
        lambda f: f.enable("beta", for_actor=""),
        lambda f: f.enable("beta", for_actor="a", for_group="g"),
        lambda f: f.enable("beta", actor=""),
        lambda f: f.enable("beta", reason=3),
        lambda f: f.set_percentage("beta", 5, of="days"),
    ],
)
async def test_bad_writes_are_refused_with_nothing_changed(flags: Flags, call: Any) -> None:
    with pytest.raises(InvalidGate):
        await call(flags)
    assert flags.revision == 0


async def test_concurrent_writes_are_ordered_by_revision(flags: Flags, store: MemoryStore) -> None:
    actors = [f"user{i}" for i in range(20)]
    records = await asyncio.gather(*(flags.enable("beta", for_actor=a) for a in actors))
    assert sorted(r.revision for r in records) == list(range(1, 21))
    state = flags.state("beta")
    assert state is not None
    assert set(state.actors) == set(actors)


async def test_set_actor_and_set_group_turn_on_off_and_remove(flags: Flags) -> None:
    await flags.set_actor("beta", "ann", True)
    await flags.set_group("beta", "staff", False)
    assert flags.state("beta") == FlagState("beta", actors={"ann": True}, groups={"staff": False})
    await flags.set_actor("beta", "ann", None)
    await flags.set_group("beta", "staff", None)
    assert flags.state("beta") == FlagState("beta")


# --- the binding ------------------------------------------------------------------------------------


async def test_the_module_binding_reaches_the_running_server(flags: Flags) -> None:
    assert flags_api.enabled("beta") is False
    await flags_api.enable("beta", actor="ann")
    assert flags_api.enabled("beta") is True
    await flags_api.disable("beta")
    await flags_api.set_percentage("beta", 100)
    assert flags_api.enabled("beta") is True
    await flags_api.clear("beta", GateKind.PERCENTAGE)
    flags_api.register_group("g", lambda actor: True)
    assert flags_api.enabled("beta") is False


async def test_the_binding_without_a_running_server_raises_noproc() -> None:
    with pytest.raises(NoProc):
        flags_api.enabled("beta")


async def test_undeclared_evaluations_are_counted_and_logged_once(
    flags: Flags, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        flags.enabled("tpyo")
    assert [r.getMessage() for r in caplog.records if "tpyo" in r.getMessage()] == [
        "flag 'tpyo' is evaluated but neither declared nor created: it is disabled"
    ]
    assert flags.lint()["undeclared"] == {"tpyo": 3}


async def test_a_percentage_of_actors_buckets_every_actor_as_unleash_past_the_remembered_ones(
    flags: Flags,
) -> None:
    await flags.set_percentage("beta", 30, of="actors", group_id="wave")
    actors = [f"actor-{n}" for n in range(10_050)]  # past the buckets the evaluation remembers
    for _ in range(2):
        assert [flags.enabled("beta", a) for a in actors] == [normalized("wave", a) <= 30 for a in actors]
    lone_surrogate = "\ud800"  # UTF-8 cannot carry it: still a bool, as bucket.normalized says
    assert flags.enabled("beta", lone_surrogate) is (normalized("wave", lone_surrogate) <= 30)


def test_explain_times_are_iso_8601_naive_as_utc_or_epoch_seconds() -> None:
    from daemon.flags.explain import parse_time

    assert parse_time("1970-01-01T00:01:00") == 60.0
    assert parse_time("1970-01-01T01:01:00+01:00") == 60.0
    assert parse_time(60) == 60.0
    for bad in ("last tuesday", math.nan, math.inf, True):
        with pytest.raises(InvalidGate):
            parse_time(bad)


async def test_explain_replays_the_state_in_force_at_a_time(store: MemoryStore) -> None:
    from daemon.flags.explain import explain

    times = iter([100.0, 200.0, 300.0])
    server = await Flags.start(declared("beta"), store=store, clock=lambda: next(times))
    try:
        await server.enable("beta", for_actor="ann", reason="pilot")
        await server.set_percentage("beta", 100, of="actors", reason="everyone")
        await server.disable("beta", for_actor="ann", reason="ann opted out")
        history = await store.history("beta")
        at = [
            explain("beta", "ann", history, at=t, groups=server.group, declared=True)
            for t in (50, 150, 250, 350)
        ]
        assert [(a["value"], a["gate"], a["revision"], a["reason"]) for a in at] == [
            (False, "default", None, None),
            (True, "actor", 1, "pilot"),
            (True, "actor", 2, "everyone"),
            (False, "actor", 3, "ann opted out"),
        ]
        bob = explain("beta", "bob", history, at=250, groups=server.group, declared=True)
        assert (bob["gate"], bob["bucket"]) == ("percentage_of_actors", normalized("beta", "bob"))
    finally:
        await server.stop()
