"""What ``arborctl status`` says about restarts: counts per child and the last crash, for the whole run.

A supervisor's own records cannot say it: when a sub-supervisor gives up and its parent restarts it,
the new incarnation starts with fresh child records, and the crash that took it down is gone from the
tree. ``RestartLog`` listens to the supervisors' telemetry instead (``("supervisor", "child", "exit")``
and ``("supervisor", "child", "restart")``), for as long as the daemon runs, and keeps two things:
how many times each child was restarted, and the last abnormal exit (a crash: not ``normal``, not
``shutdown``), with its wall-clock time.

>>> from supervisor import crash
>>> restarts = RestartLog(clock=lambda: 0.0)
>>> exited = {"supervisor": "s", "child_id": "a", "reason": crash(ValueError())}
>>> restarts.on_event(CHILD_EXIT, {}, exited, None)
>>> restarts.on_event(CHILD_RESTART, {"restarts": 1}, {"supervisor": "s", "child_id": "a"}, None)
>>> restarts.counts, restarts.last_crash
({('s', 'a'): 1}, Crash(supervisor='s', child='a', reason='crash: ValueError()', time=0.0))

Children are named by the supervisor's label (its registered name, e.g. ``arbord.servers``) and the
child's id, as the supervisor report in the log names them; the ``status`` verb turns them into tree
paths.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from supervisor import Exit, telemetry

__all__ = ["CHILD_EXIT", "CHILD_RESTART", "Crash", "RestartLog"]

CHILD_EXIT: Final = ("supervisor", "child", "exit")
CHILD_RESTART: Final = ("supervisor", "child", "restart")


@dataclass(frozen=True, slots=True)
class Crash:
    """One abnormal exit: the supervisor's label, the child's id, the reason as text, the time (epoch s)."""

    supervisor: str
    child: str
    reason: str
    time: float


def describe_reason(reason: Exit) -> str:
    """An exit reason as a person reads it: ``crash: RuntimeError('boom')``, ``killed``."""
    text = repr(reason)
    return text[len("Exit(") : -1] if text.startswith("Exit(") and text.endswith(")") else text


class RestartLog:
    """Restart counts per child and the last crash, fed by telemetry between ``attach`` and ``detach``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._handler_id = f"arbord.restart_log@{id(self):x}"
        self._attached = False
        self.counts: dict[tuple[str, str], int] = {}
        """Restarts per (supervisor label, child id), since the daemon started."""
        self.last_crash: Crash | None = None
        """The most recent abnormal exit of any child, or None."""

    def attach(self) -> None:
        """Start listening (the daemon does it before it starts the tree)."""
        if not self._attached:
            telemetry.attach_many(self._handler_id, [CHILD_EXIT, CHILD_RESTART], self.on_event)
            self._attached = True

    def detach(self) -> None:
        """Stop listening; idempotent."""
        if self._attached:
            telemetry.detach(self._handler_id)
            self._attached = False

    def on_event(
        self, event: tuple[str, ...], measurements: Mapping[str, float], metadata: Mapping[str, Any], _: Any
    ) -> None:
        """The telemetry handler."""
        key = (str(metadata.get("supervisor")), str(metadata.get("child_id")))
        if event == CHILD_RESTART:
            self.counts[key] = self.counts.get(key, 0) + 1
            return
        reason = metadata.get("reason")
        if isinstance(reason, Exit) and reason.is_abnormal:
            self.last_crash = Crash(key[0], key[1], describe_reason(reason), self._clock())

    @property
    def total(self) -> int:
        """Every restart counted so far."""
        return sum(self.counts.values())
