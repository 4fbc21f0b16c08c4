"""What the migrations need from the flags server, as a small protocol: read a flag for an actor (in
the caller's task), read a flag's gates, and write flags as one ordered, audited change.

``daemon.flags.migration.control`` is written against this protocol alone; ``ServerFlags`` adapts the
running flags server (``arbord.flags``) to it: ``ServerFlags(flags_server)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from daemon.flags.errors import UnknownFlag
from daemon.flags.gates import FlagState, GateKind, GateOp
from daemon.flags.server import Flags

__all__ = ["AUTO_ROLLBACK", "FlagsPort", "ServerFlags"]

AUTO_ROLLBACK = "auto-rollback"
"""The actor an automatic rollback writes as (the audit trail shows it)."""


class FlagsPort(Protocol):
    """The flags server, as the migrations see it."""

    def enabled(self, flag: str, actor: object = None) -> bool:
        """Whether ``flag`` is on for ``actor``: the arm that served it (no mailbox hop)."""
        ...

    def percentage(self, flag: str) -> float | None:
        """The flag's percentage-of-actors gate (0..100) when its rollout is judged by arms: set, and
        the boolean gate absent or false; None otherwise."""
        ...

    def evaluator(self) -> Callable[[str, Any], bool]:
        """``enabled`` of the flags server running now, to call on the emit path without a lookup
        (it raises an ``ArbordError`` once that server has exited)."""
        ...

    def values(self) -> Mapping[str, bool]:
        """Every flag's boolean gate, or its declared default when it has no gate (True: on for
        everyone), to read a plan's stage back."""
        ...

    def written(self, flag: str) -> bool:
        """Whether ``flag`` has a gate of its own (a write set it), rather than running on its
        declared default: a plan's stage is judged at start only when some write put it there."""
        ...

    async def write(self, changes: Mapping[str, bool | None], *, actor: str, reason: str) -> int:
        """Set each flag's boolean gate (None: clear the flag's percentage rollout and turn it off)
        as one audited change by ``actor`` with ``reason``; returns the revision. Raises, having
        changed nothing, when the store refuses."""
        ...


def _rollout(state: FlagState | None) -> float | None:
    """The percentage of a judged rollout: of actors, strictly between 0 and 100, boolean gate not on."""
    if state is None or state.boolean or state.percentage is None or state.percentage.of != "actors":
        return None
    value = state.percentage.value
    return value if 0.0 < value < 100.0 else None


class ServerFlags:
    """``FlagsPort`` over a running flags server (``daemon.flags.Flags``), found through ``lookup``
    at each use, so a restarted flags server is reached in its new incarnation.

    A move's flags are written as **one change set** (``Flags.write_set``: one store transaction,
    all put in force together, nothing changed if the store refuses), one record per write in the
    plan's order; an ``on`` writes the boolean gate on, an ``off`` writes it off, and a ``None`` (a
    percentage rollout rolled back) clears the percentage gate, then writes the boolean gate off.
    A plan's flags are created on their first write if the configuration does not declare them
    (the built-in plan's): the plan itself asks for them.
    """

    __slots__ = ("_lookup",)

    def __init__(self, lookup: Callable[[], Flags]) -> None:
        self._lookup = lookup

    def enabled(self, flag: str, actor: object = None) -> bool:
        return self._lookup().enabled(flag, actor)  # type: ignore[arg-type]

    def percentage(self, flag: str) -> float | None:
        return _rollout(self._lookup().state(flag))

    def evaluator(self) -> Callable[[str, Any], bool]:
        return self._lookup().enabled

    def values(self) -> Mapping[str, bool]:
        flags = self._lookup()
        found: dict[str, bool] = {}
        for name in flags.known():
            state = flags.state(name)
            if state is None or state.is_empty:
                # No gate: the declared default is in force (otp_cleanup's flags default to true,
                # so a fresh daemon reads as stage 3: daemon/flags/migration/components.py).
                declaration = flags.declaration(name)
                found[name] = declaration is not None and declaration.default
            else:
                found[name] = bool(state.boolean)
        return found

    def written(self, flag: str) -> bool:
        state = self._lookup().state(flag)
        return state is not None and not state.is_empty

    async def write(self, changes: Mapping[str, bool | None], *, actor: str, reason: str) -> int:
        flags = self._lookup()
        writes: list[tuple[str, GateOp]] = []
        for flag, value in changes.items():
            if value is None:
                if flags.state(flag) is None:  # a rollout rolled back names a flag that exists
                    raise UnknownFlag(f"no flag named {flag!r}: there is no rollout to roll back")
                writes += [(flag, GateOp.clear(GateKind.PERCENTAGE)), (flag, GateOp.disable())]
            else:
                writes.append((flag, GateOp.enable() if value else GateOp.disable()))
        if not writes:
            return flags.revision
        records = await flags.write_set(writes, actor=actor, reason=reason, create=True)
        return records[-1].revision
