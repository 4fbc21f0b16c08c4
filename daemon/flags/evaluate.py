"""How a flag decides: FunWithFlags' precedence over the gates, as one pure function.

``decide(state, actor, subject, groups, roll)`` returns the ``Decision``: the value, the gate that decided
and, for a percentage of actors, the actor's bucket. The precedence:

1. **actors**: the actor's own gate, if it has one, decides;
2. **groups**: among the groups the actor belongs to that have a gate, a disabled group beats an
   enabled one;
3. **boolean**: an enabled boolean gate decides (``True``);
4. **percentage**, consulted when the boolean gate is absent **or false**: of time (a roll per
   evaluation), or of actors (the actor's bucket, ``daemon.flags.bucket``; without an actor it is
   ignored);
5. otherwise the boolean gate's ``False``, or, with no gate at all, disabled (``default``: a declared
   flag's default).

>>> from daemon.flags.gates import FlagState, Percentage
>>> from types import MappingProxyType as M
>>> state = FlagState("f", boolean=False, actors=M({"bob": False}), percentage=Percentage(100, "actors"))
>>> [decide(state, a, a, {}.get).gate for a in ("bob", "alice", None)]
['actor', 'percentage_of_actors', 'boolean']
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from daemon.flags.bucket import normalized
from daemon.flags.gates import FlagState

__all__ = ["Decision", "GroupLookup", "Predicate", "Roll", "compile_state", "decide"]

Predicate = Callable[[Any], bool]
"""A group's membership function: ``predicate(subject)`` is True when the actor belongs to it."""
GroupLookup = Callable[[str], "Predicate | None"]
"""``groups(name)``: the membership function registered for group ``name``, or None."""
Roll = Callable[[], float]
"""A number in [0, 100) for a percentage of time: ``random.random() * 100`` unless injected."""


def _roll() -> float:
    return random.random() * 100.0  # a rollout share, not a secret


DEFAULT_ROLL: Final[Roll] = _roll


@dataclass(frozen=True, slots=True)
class Decision:
    """What decided an evaluation: ``gate`` is ``actor``, ``group``, ``boolean``,
    ``percentage_of_time``, ``percentage_of_actors``, ``default`` (no gate decided) or ``unknown``."""

    value: bool
    gate: str
    bucket: int | None = None
    """The actor's bucket (1..100) when a percentage of actors was consulted."""
    detail: str | None = None
    """The actor id or the group name that decided."""


def decide(
    state: FlagState | None,
    actor: str | None,
    subject: object,
    groups: GroupLookup,
    roll: Roll = DEFAULT_ROLL,
    *,
    default: bool = False,
) -> Decision:
    """The decision for ``actor`` (its id; None: no actor) under ``state`` (None: the flag does not
    exist). ``subject`` is what the application passed as the actor, handed to the membership
    functions ``groups`` finds (a group with a gate but no registered function has no members; a
    function that raises counts as "not a member")."""
    if state is None:
        return Decision(default, "unknown")
    if actor is not None:
        own = state.actors.get(actor)
        if own is not None:
            return Decision(own, "actor", detail=actor)
        if state.groups:
            verdict: bool | None = None
            decided_by = None
            for group, gate in state.groups.items():
                if not _member(groups(group), subject):
                    continue
                if not gate:
                    return Decision(False, "group", detail=group)
                if verdict is None:
                    verdict, decided_by = True, group
            if verdict:
                return Decision(True, "group", detail=decided_by)
    if state.boolean:
        return Decision(True, "boolean")
    percentage = state.percentage
    if percentage is not None:
        if percentage.of == "time":
            if roll() < percentage.value:
                return Decision(True, "percentage_of_time")
        elif actor is not None:
            bucket = normalized(percentage.group_id or state.name, actor)
            return Decision(bucket <= percentage.value, "percentage_of_actors", bucket=bucket)
    if state.boolean is False:
        return Decision(False, "boolean")
    if state.is_empty:
        return Decision(default, "default")
    return Decision(False, "default")


def _member(predicate: Predicate | None, subject: object) -> bool:
    if predicate is None:
        return False
    try:
        return bool(predicate(subject))
    except Exception:  # a broken membership function must not break the caller's evaluation
        return False


def compile_state(
    state: FlagState,
    groups: GroupLookup,
    roll: Roll = DEFAULT_ROLL,
    *,
    default: bool = False,
    actor_id: Callable[[object], str | None],
) -> Callable[[object], bool]:
    """``decide(...).value`` for ``state``, as a function of the actor alone, specialised once per
    state (when it is published) so an evaluation does only what this state needs: the evaluation's
    slow path (``Flags.enabled`` when the answer depends on the actor or on chance). ``actor_id``
    turns what the caller passed into the id. tests/daemon/test_flags.py checks it against ``decide``
    and the pure model."""
    own = dict(state.actors) if state.actors else None
    gates = tuple(state.groups.items()) if state.groups else None
    on = bool(state.boolean)
    percentage = state.percentage
    by_time = percentage.value if percentage is not None and percentage.of == "time" else None
    by_actor = percentage.value if percentage is not None and percentage.of == "actors" else None
    group_id = "" if percentage is None else percentage.group_id or state.name
    fallback = default if state.is_empty else False

    def evaluate(actor: object) -> bool:
        key = actor if actor is None or type(actor) is str else actor_id(actor)
        if key is not None:
            if own is not None:
                mine = own.get(key)
                if mine is not None:
                    return mine
            if gates is not None:
                verdict = None
                for group, gate in gates:
                    if _member(groups(group), actor):
                        if not gate:
                            return False
                        verdict = True
                if verdict:
                    return True
        if on:
            return True
        if by_time is not None:
            if roll() < by_time:
                return True
        elif by_actor is not None and key is not None:
            return normalized(group_id, key) <= by_actor
        return fallback

    return evaluate
