"""One crash, as ``arborctl crashes show`` prints it: a frozen record made when a supervisor sees a
child exit abnormally.

A record holds what a person needs to understand the crash after the fact: who crashed (supervisor
and child), when, the exit reason, the exception chain with each exception's notes (the error
context's note among them), the error context and breadcrumbs at the failure (what the exception
carried out of its blocks, cleaned: secrets redacted), the spans it left open, the supervisor's
decision and the restart intensity left.

>>> from supervisor import crash
>>> error = ValueError("bad row")
>>> error.add_note("while importing batch 7")
>>> record = CrashRecord.of(3, "arbord.servers", "importer", crash(error), time=0.0)
>>> record.chain
({'type': 'ValueError', 'message': 'bad row', 'notes': ['while importing batch 7']},)
>>> record.decision, record.summary()["reason"]
('no restart', "crash: ValueError('bad row')")
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from daemon.context import context_of
from daemon.restart_log import describe_reason
from supervisor import Exit

__all__ = ["MAX_CHAIN", "MAX_TRACEBACK_CHARS", "CrashRecord", "exception_chain"]

MAX_CHAIN: Final = 8
"""Exceptions of a chain (``__cause__`` / ``__context__``) a record keeps, outermost first."""
MAX_TRACEBACK_CHARS: Final = 16_000
"""Characters of formatted traceback a record keeps (the end is cut, and says so)."""


def exception_chain(exc: BaseException | None) -> tuple[dict[str, Any], ...]:
    """``exc`` and the exceptions it was raised from or during, each as type, message and notes."""
    chain: list[dict[str, Any]] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and len(chain) < MAX_CHAIN:
        seen.add(id(exc))
        notes = getattr(exc, "__notes__", None)
        chain.append(
            {
                "type": type(exc).__qualname__,
                "message": _text(exc),
                "notes": [str(n) for n in notes] if isinstance(notes, list) else [],
            }
        )
        exc = (
            exc.__cause__
            if exc.__cause__ is not None
            else (None if exc.__suppress_context__ else exc.__context__)
        )
    return tuple(chain)


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # an exception whose __str__ fails still gets a record
        return f"<unprintable {type(exc).__qualname__}>"


def _traceback(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    try:
        text = "".join(traceback.format_exception(exc))
    except Exception:
        return None
    if len(text) > MAX_TRACEBACK_CHARS:
        cut = len(text) - MAX_TRACEBACK_CHARS
        text = f"…[{cut} chars cut]\n{text[-MAX_TRACEBACK_CHARS:]}"
    return text


@dataclass(frozen=True, slots=True)
class CrashRecord:
    """One abnormal exit seen by a supervisor (see the module)."""

    id: int
    time: float
    """Wall-clock time (epoch seconds) the supervisor saw the exit."""
    supervisor: str
    child: str
    reason: str
    chain: tuple[dict[str, Any], ...]
    traceback: str | None
    context: Mapping[str, Any] | None
    """``ErrorContext.as_dict()`` of the context the exception carried (fields cleaned), or None."""
    open_spans: tuple[Mapping[str, Any], ...] = ()
    flags: Mapping[str, Any] | None = None
    """The flags in force at the crash (``daemon/crashes/flags_in_force.py``), or None without a
    flags server."""
    decision: str = "no restart"
    """``no restart``, ``restart`` or ``give up`` (past the intensity, the supervisor shuts down)."""
    restarts: int = 0
    intensity_left: int | None = None

    @classmethod
    def of(
        cls,
        crash_id: int,
        supervisor: str,
        child: str,
        reason: Exit,
        *,
        time: float,
        restarts: int = 0,
        open_spans: Sequence[Mapping[str, Any]] = (),
        flags: Mapping[str, Any] | None = None,
    ) -> CrashRecord:
        """The record of ``reason``, seen by ``supervisor`` for ``child``."""
        exc = reason.exception
        carried = None if exc is None else context_of(exc)
        return cls(
            crash_id,
            time,
            supervisor,
            child,
            describe_reason(reason),
            exception_chain(exc),
            _traceback(exc),
            None if carried is None else carried.as_dict(),
            tuple(open_spans),
            flags,
            restarts=restarts,
        )

    def decided(self, decision: str, restarts: int, intensity_left: int | None) -> CrashRecord:
        """This record with the supervisor's decision."""
        return dataclasses.replace(self, decision=decision, restarts=restarts, intensity_left=intensity_left)

    def summary(self) -> dict[str, Any]:
        """One line of ``arborctl crashes``."""
        last = self.chain[0] if self.chain else None
        return {
            "id": self.id,
            "time": self.time,
            "supervisor": self.supervisor,
            "child": self.child,
            "reason": self.reason,
            "error": None if last is None else f"{last['type']}: {last['message']}"[:120],
            "decision": self.decision,
            "intensity_left": self.intensity_left,
        }

    def as_dict(self) -> dict[str, Any]:
        """Everything, for ``arborctl crashes show ID``."""
        return {
            **self.summary(),
            "restarts": self.restarts,
            "chain": list(self.chain),
            "context": self.context,
            "open_spans": list(self.open_spans),
            "flags": self.flags,
            "traceback": self.traceback,
        }
