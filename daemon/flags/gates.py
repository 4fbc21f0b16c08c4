"""A flag's value: its gates (FunWithFlags' model), as one frozen record per flag.

A flag is a set of gates, each optional:

- **boolean**: on or off for everyone;
- **actor**: on or off for one actor id (a string);
- **group**: on or off for a group name (membership is a predicate the application registers);
- **percentage of time**: on for that share of evaluations, rolled per evaluation;
- **percentage of actors**: on for that share of actors, bucketed by Unleash's normalized hash
  (``daemon.flags.bucket``), so an actor lands in the same bucket as in any Unleash SDK.

The two percentage gates exclude each other (setting one replaces the other), and a percentage is
a number in [0, 100]. ``FlagState`` is immutable: a write builds the next state with ``apply``, the
store records the old and the new state, and the evaluation reads the state in force.

>>> state = apply(FlagState("checkout"), GateOp.enable(for_actor="alice"))
>>> state = apply(state, GateOp.percentage(25, of="actors"))
>>> dict(state.actors), state.percentage
({'alice': True}, Percentage(value=25.0, of='actors', group_id=None))
>>> apply(state, GateOp.clear()).is_empty
True
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final, Literal

from daemon.flags.errors import InvalidGate

__all__ = [
    "FLAG_NAME_MAX",
    "FlagState",
    "GateKind",
    "GateOp",
    "Percentage",
    "PercentageOf",
    "apply",
    "check_flag_name",
    "check_percentage",
]

PercentageOf = Literal["time", "actors"]
FLAG_NAME_MAX: Final = 200
_EMPTY: Final[Mapping[str, bool]] = MappingProxyType({})


def _no_gates() -> Mapping[str, bool]:
    return _EMPTY


class GateKind(enum.Enum):
    """The five gates, in the words of the audit trail and the control verbs."""

    BOOLEAN = "boolean"
    ACTOR = "actor"
    GROUP = "group"
    PERCENTAGE = "percentage"
    """Either percentage gate (they exclude each other)."""


def check_flag_name(name: object) -> str:
    """``name`` if it is a usable flag name (a non-empty string without control characters, at most
    ``FLAG_NAME_MAX`` characters); ``InvalidGate`` otherwise."""
    if not isinstance(name, str) or not name or len(name) > FLAG_NAME_MAX:
        raise InvalidGate(f"a flag name is a string of 1-{FLAG_NAME_MAX} characters, not {name!r}")
    if not name.isprintable() or name != name.strip():
        raise InvalidGate(f"a flag name has no control characters or surrounding blanks: {name!r}")
    return name


def check_percentage(value: object) -> float:
    """``value`` as a float if it is a number in [0, 100]; ``InvalidGate`` otherwise (NaN, bools,
    strings and infinities included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidGate(f"a percentage is a number in [0, 100], not {value!r}")
    number = float(value)
    if math.isnan(number) or not 0.0 <= number <= 100.0:
        raise InvalidGate(f"a percentage is a number in [0, 100], not {value!r}")
    return number


def _check_target(what: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > FLAG_NAME_MAX:
        raise InvalidGate(f"{what} is a string of 1-{FLAG_NAME_MAX} characters, not {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Percentage:
    """A percentage gate: ``value`` in [0, 100] of ``time`` or of ``actors``; ``group_id`` is the
    Unleash group id the actors are bucketed under (None: the flag's name)."""

    value: float
    of: PercentageOf = "time"
    group_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", check_percentage(self.value))
        if self.of not in ("time", "actors"):
            raise InvalidGate(f"a percentage is of 'time' or of 'actors', not {self.of!r}")
        if self.group_id is not None:
            _check_target("a group id", self.group_id)


@dataclass(frozen=True, slots=True)
class FlagState:
    """One flag's gates. ``boolean`` None: no boolean gate; ``actors``/``groups``: id → on/off."""

    name: str
    boolean: bool | None = None
    actors: Mapping[str, bool] = field(default_factory=_no_gates)
    groups: Mapping[str, bool] = field(default_factory=_no_gates)
    percentage: Percentage | None = None

    @property
    def is_empty(self) -> bool:
        """No gate at all: the flag is disabled (or its declared default)."""
        return self.boolean is None and not self.actors and not self.groups and self.percentage is None

    @property
    def constant(self) -> bool | None:
        """The flag's value when it does not depend on the actor or on chance (only a boolean gate,
        or none: False), else None. The evaluation's fast path."""
        if self.actors or self.groups:
            return None
        if self.percentage is None:
            return bool(self.boolean)
        if self.boolean:
            return True
        if self.percentage.value == 0.0:
            return False
        return None

    def to_json(self) -> dict[str, Any]:
        """The state as JSON-able data (the stores' and the audit trail's form)."""
        data: dict[str, Any] = {"name": self.name}
        if self.boolean is not None:
            data["boolean"] = self.boolean
        if self.actors:
            data["actors"] = dict(self.actors)
        if self.groups:
            data["groups"] = dict(self.groups)
        if self.percentage is not None:
            data["percentage"] = {"value": self.percentage.value, "of": self.percentage.of}
            if self.percentage.group_id is not None:
                data["percentage"]["group_id"] = self.percentage.group_id
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlagState:
        """The inverse of ``to_json``; ``InvalidGate`` on anything malformed."""
        try:
            percentage = data.get("percentage")
            return cls(
                check_flag_name(data["name"]),
                _optional_bool(data.get("boolean")),
                _bool_map(data.get("actors", {})),
                _bool_map(data.get("groups", {})),
                None
                if percentage is None
                else Percentage(percentage["value"], percentage["of"], percentage.get("group_id")),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise InvalidGate(f"a malformed flag state: {data!r}") from error


def _optional_bool(value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise InvalidGate(f"a boolean gate is true or false, not {value!r}")


def _bool_map(value: object) -> Mapping[str, bool]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, bool) for k, v in value.items()
    ):
        raise InvalidGate(f"an actor or group gate maps names to true/false, not {value!r}")
    return MappingProxyType(dict(value)) if value else _EMPTY


@dataclass(frozen=True, slots=True)
class GateOp:
    """One write to one flag, as asked: the audit trail records it beside the old and new states.

    ``verb`` is ``enable``, ``disable``, ``clear`` or ``percentage``; ``gate`` the gate it touches
    (None with ``clear``: every gate); ``target`` the actor id or group name; ``value`` the
    percentage."""

    verb: Literal["enable", "disable", "clear", "percentage"]
    gate: GateKind | None
    target: str | None = None
    value: Percentage | None = None

    @classmethod
    def enable(cls, *, for_actor: str | None = None, for_group: str | None = None) -> GateOp:
        """Turn the boolean gate on, or the gate of one actor or group."""
        return cls("enable", *_gate_of(for_actor, for_group))

    @classmethod
    def disable(cls, *, for_actor: str | None = None, for_group: str | None = None) -> GateOp:
        """Turn the boolean gate off, or the gate of one actor or group (a disabled gate decides:
        it is not the same as no gate)."""
        return cls("disable", *_gate_of(for_actor, for_group))

    @classmethod
    def clear(
        cls,
        gate: GateKind | None = None,
        *,
        for_actor: str | None = None,
        for_group: str | None = None,
    ) -> GateOp:
        """Remove every gate (``gate`` None and no target), one kind of gate, or one actor's or
        group's gate."""
        if for_actor is not None or for_group is not None:
            if gate is not None:
                raise InvalidGate("clear one actor's or group's gate, or one kind of gate, not both")
            return cls("clear", *_gate_of(for_actor, for_group))
        if gate is not None and not isinstance(gate, GateKind):
            raise InvalidGate(f"a gate is one of {[g.value for g in GateKind]}, not {gate!r}")
        return cls("clear", gate)

    @classmethod
    def percentage(cls, value: float, *, of: PercentageOf = "time", group_id: str | None = None) -> GateOp:
        """Set the percentage gate (replacing the other percentage gate)."""
        return cls("percentage", GateKind.PERCENTAGE, None, Percentage(value, of, group_id))

    def describe(self) -> str:
        """The write in a few words: ``enable actor alice``, ``percentage 25% of actors``."""
        if self.verb == "percentage" and self.value is not None:
            return f"percentage {self.value.value:g}% of {self.value.of}"
        words: list[str] = [self.verb]
        if self.gate is not None:
            words.append(self.gate.value)
        if self.target is not None:
            words.append(self.target)
        return " ".join(words)

    def to_json(self) -> dict[str, Any]:
        """The write as JSON-able data."""
        data: dict[str, Any] = {"verb": self.verb}
        if self.gate is not None:
            data["gate"] = self.gate.value
        if self.target is not None:
            data["target"] = self.target
        if self.value is not None:
            data["value"] = {"value": self.value.value, "of": self.value.of, "group_id": self.value.group_id}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GateOp:
        """The inverse of ``to_json``."""
        value = data.get("value")
        gate = data.get("gate")
        return cls(
            data["verb"],
            None if gate is None else GateKind(gate),
            data.get("target"),
            None if value is None else Percentage(value["value"], value["of"], value.get("group_id")),
        )


def _gate_of(for_actor: str | None, for_group: str | None) -> tuple[GateKind, str | None]:
    if for_actor is not None and for_group is not None:
        raise InvalidGate("a write names one actor or one group, not both")
    if for_actor is not None:
        return GateKind.ACTOR, _check_target("an actor id", for_actor)
    if for_group is not None:
        return GateKind.GROUP, _check_target("a group name", for_group)
    return GateKind.BOOLEAN, None


def _with(mapping: Mapping[str, bool], key: str, value: bool | None) -> Mapping[str, bool]:
    updated = dict(mapping)
    if value is None:
        updated.pop(key, None)
    else:
        updated[key] = value
    return MappingProxyType(updated) if updated else _EMPTY


def apply(state: FlagState, op: GateOp) -> FlagState:
    """The state after ``op`` (a pure function: the server, the stores and the replay of the
    history all use it)."""
    if op.verb == "percentage":
        return replace(state, percentage=op.value)
    on: bool | None = {"enable": True, "disable": False}.get(op.verb)
    if op.gate is None:  # clear everything
        return FlagState(state.name)
    if op.gate is GateKind.BOOLEAN:
        return replace(state, boolean=on)
    if op.gate is GateKind.PERCENTAGE:
        return replace(state, percentage=None)
    if op.target is None:  # clear one kind: every actor's, or every group's gate
        if op.gate is GateKind.ACTOR:
            return replace(state, actors=_EMPTY)
        return replace(state, groups=_EMPTY)
    if op.gate is GateKind.ACTOR:
        return replace(state, actors=_with(state.actors, op.target, on))
    return replace(state, groups=_with(state.groups, op.target, on))
