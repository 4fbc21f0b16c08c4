"""The flags' evaluation in C (daemon/flags/_speedups.c) and its pure-Python twin agree, on every path.

This suite runs twice (``TWIN_SUITES`` in the Makefile): on the C evaluation, where it also checks
the C murmur3 against mmh3 and the C evaluator against the twin built over the same table, and under
``ARBORD_NO_EXTENSIONS=1``, where ``Flags.enabled`` is the twin itself. Either way every answer is
checked against the gate model (``daemon.flags.evaluate.decide``).
"""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import mmh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon import flags as flags_api
from daemon.flags import Flags, GateOp, MemoryStore
from daemon.flags.binding import FLAGS_NAME
from daemon.flags.bucket import normalized
from daemon.flags.config import FlagsSettings
from daemon.flags.evaluate import decide
from daemon.flags.fastpath import IMPLEMENTATION, normalized_c
from daemon.flags.server import _BUCKETS_KEPT, _SPLIT, _bucket_into, _python_evaluator
from supervisor import NoProc

c_only = pytest.mark.skipif(IMPLEMENTATION != "c", reason="a property of the C evaluation, not of the twin")

FLAGS = ("on", "off", "split", "mixed", "timed", "grouped")


@dataclass(frozen=True)
class User:
    flag_id: str


class Name(str):
    """A ``str`` subclass: not the C fast path's exact ``str``, the same answer."""


@pytest.fixture
async def flags() -> AsyncIterator[Flags]:
    settings = FlagsSettings.model_validate({"store": "memory", **{f: {} for f in FLAGS}})
    server = await Flags.start(settings, store=MemoryStore(), roll=lambda: 42.0, name=FLAGS_NAME)
    server.register_group("staff", lambda actor: str(getattr(actor, "flag_id", actor)).startswith("s"))
    await server.enable("on")
    await server.disable("off")
    await server.set_percentage("split", 37, of="actors")
    await server.write_set(
        [("mixed", GateOp.percentage(60, of="actors", group_id="wave")), ("mixed", GateOp.disable())]
    )
    await server.enable("mixed", for_actor="bob")
    await server.set_percentage("timed", 50)
    await server.enable("grouped", for_group="staff")
    yield server
    if server.alive:
        await server.stop()


def _model(flags: Flags, flag: str, actor: object) -> bool:
    state = flags.state(flag)
    if state is None:
        return False
    actor_id = actor if actor is None or isinstance(actor, str) else getattr(actor, "flag_id", None)
    return decide(state, actor_id, actor, flags.group, lambda: 42.0, default=False).value


ACTORS: list[Any] = [
    None,
    "bob",
    "sam",
    "zoë",
    "",
    "\ud800",  # a lone surrogate: no UTF-8 form, bucketed by Python
    "x" * 1000,  # longer than the C key's stack buffer
    Name("bob"),
    Name("sue"),
    User("bob"),
    User("stan"),
    *(f"user-{n}" for n in range(300)),
]


async def test_the_implementation_follows_arbord_no_extensions(flags: Flags) -> None:
    twin = os.environ.get("ARBORD_NO_EXTENSIONS", "") not in ("", "0")
    assert ("python" if twin else "c") == IMPLEMENTATION
    assert (type(flags.enabled).__name__ == "Evaluator") is (not twin)


async def test_every_answer_is_the_gate_models_twice_over(flags: Flags) -> None:
    for _ in range(2):  # the second time from the remembered buckets
        for flag in FLAGS:
            for actor in ACTORS:
                expected = _model(flags, flag, actor)
                assert flags.enabled(flag, actor) is expected, (flag, actor)
                assert flags.enabled(flag, actor=actor) is expected
                assert flags_api.enabled(flag, actor) is expected


async def test_the_c_evaluation_and_its_twin_agree_over_one_table(flags: Flags) -> None:
    twin = _python_evaluator(flags._state.getter(), flags._undeclared_hit)
    cases = [(flag, actor) for flag in (*FLAGS, "unknown") for actor in ACTORS]
    random.Random(15).shuffle(cases)
    assert [flags.enabled(f, a) for f, a in cases] == [twin(f, a) for f, a in cases]
    assert flags.lint()["undeclared"] == {"unknown": 2 * len(ACTORS)}


async def test_bad_calls_are_refused_as_the_twin_refuses_them(flags: Flags) -> None:
    twin = _python_evaluator(flags._state.getter(), flags._undeclared_hit)
    calls: list[Callable[[Callable[..., Any]], object]] = [
        lambda e: e(),
        lambda e: e("on", "bob", "extra"),
        lambda e: e("on", nobody="bob"),
        lambda e: e(["unhashable"]),
        lambda e: e(42),
        lambda e: e("split", 42),
    ]
    for call in calls:
        with pytest.raises(TypeError) as c_error:
            call(flags.enabled)
        with pytest.raises(TypeError) as twin_error:
            call(twin)
        assert str(c_error.value) == str(twin_error.value)


async def test_the_remembered_buckets_are_bounded(flags: Flags) -> None:
    actors = [f"a-{n}" for n in range(_BUCKETS_KEPT + 10)]
    assert [flags.enabled("split", a) for a in actors] == [normalized("split", a) <= 37 for a in actors]
    split = flags._state.get("split")[_SPLIT]
    assert 0 < len(split[2]) <= _BUCKETS_KEPT
    assert _bucket_into(split, "a-1") == normalized("split", "a-1")


async def test_a_first_evaluation_is_seen_by_lint_and_a_stopped_server_is_refused(flags: Flags) -> None:
    await flags.enable("fresh", create=True)
    assert "fresh" in flags.lint()["never_evaluated"]
    assert flags.enabled("fresh") is True
    assert "fresh" not in flags.lint()["never_evaluated"]
    await flags.stop()
    with pytest.raises(NoProc):
        flags_api.enabled("on")


@c_only
@settings(max_examples=300)
@given(st.text(max_size=12), st.text(max_size=40))
def test_the_c_murmur3_buckets_as_mmh3(group: str, actor: str) -> None:
    try:
        key = f"{group}:{actor}".encode()
    except UnicodeEncodeError:  # a lone surrogate: the C code hands it to Python
        with pytest.raises(ValueError, match="UTF-8"):
            normalized_c(group, actor)
        return
    assert normalized_c(group, actor) == mmh3.hash(key, 0, False) % 100 + 1 == normalized(group, actor)


@c_only
def test_the_c_murmur3_on_every_tail_length_and_a_long_key() -> None:
    for length in range(9):
        actor = "é" * length
        assert normalized_c("g", actor) == normalized("g", actor)
    assert normalized_c("g" * 300, "a" * 300) == normalized("g" * 300, "a" * 300)
