"""Why an actor got what it got: the evaluation replayed under the flag state in force at a time.

The audit trail is event-sourced (every change records the flag's new state), so the state in force
at time T is the ``new`` state of the last change at or before T. ``explain`` replays the evaluation
under it and says which gate decided, the actor's bucket, and the change (revision, who, why) that
put that state in force — "why did this user get the new path last Tuesday". Groups are code, not
history: the membership functions registered now are the ones consulted. A percentage of time is
chance, not replayable: the answer gives its share (``chance``) instead of a roll.

>>> from daemon.flags.gates import FlagState, GateOp, apply
>>> from daemon.flags.store import Change, ChangeRecord
>>> s0 = FlagState("beta")
>>> s1 = apply(s0, GateOp.percentage(50, of="actors"))
>>> op = GateOp.percentage(50, of="actors")
>>> history = [ChangeRecord(7, Change("beta", op, s0, s1, "ann", "wave 1", 100.0))]
>>> explain("beta", "122", history, at=50.0, groups=lambda name: None)["gate"]
'unknown'
>>> answer = explain("beta", "122", history, at=150.0, groups=lambda name: None)
>>> answer["gate"], answer["revision"], answer["reason"], answer["bucket"] == answer["bucket"]
('percentage_of_actors', 7, 'wave 1', True)
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from typing import Any

from daemon.flags.errors import InvalidGate
from daemon.flags.evaluate import GroupLookup, decide
from daemon.flags.gates import FlagState
from daemon.flags.store import ChangeRecord, iso_time

__all__ = ["explain", "parse_time"]


def parse_time(value: float | str) -> float:
    """Seconds since the epoch from a number or an ISO 8601 time (a naive one is UTC);
    ``InvalidGate`` otherwise."""
    if isinstance(value, bool):
        raise InvalidGate(f"a time is epoch seconds or ISO 8601, not {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise InvalidGate(f"a time is a finite number of seconds, not {value!r}")
        return float(value)
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidGate(f"a time is epoch seconds or ISO 8601 (2026-11-24T10:00), not {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def explain(
    flag: str,
    actor: str | None,
    history: Sequence[ChangeRecord],
    *,
    at: float | None,
    groups: GroupLookup,
    declared: bool = False,
    default: bool = False,
) -> dict[str, Any]:
    """The evaluation of ``flag`` for ``actor`` replayed at ``at`` (None: after the last change)
    from ``history`` (the flag's records, oldest first). A ``declared`` flag exists before its first
    change (with no gate: its ``default``); another is unknown until it is created."""
    in_force: ChangeRecord | None = None
    for record in history:
        if at is not None and record.change.time > at:
            break
        in_force = record
    state: FlagState | None = None if in_force is None else in_force.change.new
    if in_force is None and declared:
        state = FlagState(flag)
    decision = decide(state, actor, actor, groups, lambda: math.inf, default=default)
    answer: dict[str, Any] = {
        "flag": flag,
        "actor": actor,
        "at": None if at is None else iso_time(at),
        "value": decision.value,
        "gate": decision.gate,
        "bucket": decision.bucket,
        "detail": decision.detail,
        "state": None if state is None else state.to_json(),
        "revision": None if in_force is None else in_force.revision,
        "changed_by": None if in_force is None else in_force.change.actor,
        "changed_at": None if in_force is None else iso_time(in_force.change.time),
        "reason": None if in_force is None else in_force.change.reason,
    }
    p = None if state is None else state.percentage
    if p is not None and p.of == "time" and decision.gate not in ("actor", "group") and not decision.value:
        answer["chance"] = p.value  # on for that share of evaluations: chance, not replayable
    return answer
