"""Exit reasons: why a server or task stopped, and what follows from it.

OTP distinguishes ``normal``, ``shutdown``, ``{shutdown, Term}``, ``killed``, ``noproc`` and any other
(abnormal) reason. arbord keeps exactly that vocabulary in one frozen record, so a supervisor can decide
"restart or not" and "log or not" from the reason alone:

>>> NORMAL.is_abnormal, SHUTDOWN.is_abnormal, shutdown("maintenance").is_abnormal
(False, False, False)
>>> crash(ValueError("boom")).is_abnormal, KILLED.is_abnormal
(True, True)
>>> shutdown("maintenance")
Exit(shutdown: 'maintenance')
"""

from __future__ import annotations

import enum
from typing import Final, NamedTuple

__all__ = [
    "KILLED",
    "NOPROC",
    "NORMAL",
    "SHUTDOWN",
    "Exit",
    "ExitKind",
    "crash",
    "shutdown",
]


class ExitKind(enum.Enum):
    """The kinds of exit reason OTP distinguishes."""

    NORMAL = "normal"
    SHUTDOWN = "shutdown"
    KILLED = "killed"
    NOPROC = "noproc"
    CRASH = "crash"


class Exit(NamedTuple):
    """Why a process stopped.

    ``term`` is the payload of ``{shutdown, Term}``; ``exception`` is set for a crash. Immutable; a
    named tuple rather than a dataclass because one is built on every crash (the restart path).
    """

    kind: ExitKind
    term: object = None
    exception: BaseException | None = None

    @property
    def is_abnormal(self) -> bool:
        """True for reasons OTP logs and restarts transient children for (killed, noproc, crash)."""
        kind = self.kind
        return kind is not _NORMAL_KIND and kind is not _SHUTDOWN_KIND

    def __repr__(self) -> str:
        if self.kind is ExitKind.CRASH:
            return f"Exit(crash: {self.exception!r})"
        if self.term is not None:
            return f"Exit({self.kind.value}: {self.term!r})"
        return f"Exit({self.kind.value})"


# Reading an enum member through its class costs a Python-level lookup in CPython 3.11 (about 80 ns);
# the restart path reads these on every crash (bench core, "crash -> restarted & ready").
_NORMAL_KIND: Final = ExitKind.NORMAL
_SHUTDOWN_KIND: Final = ExitKind.SHUTDOWN
_CRASH_KIND: Final = ExitKind.CRASH
# A named tuple's own constructor is a Python function; the tuple's is not (and is what its _make uses).
_new_exit: Final = tuple.__new__

NORMAL: Final = Exit(ExitKind.NORMAL)
"""OTP's ``normal``: the server finished its work; a link does not propagate it, a ``transient`` child is
not restarted."""
SHUTDOWN: Final = Exit(ExitKind.SHUTDOWN)
"""OTP's ``shutdown``: stopped by its supervisor or by ``stop()``; not a crash."""
KILLED: Final = Exit(ExitKind.KILLED)
"""OTP's ``killed``: stopped without running ``terminate`` (``kill()``, ``brutal_kill``, or a shutdown
that timed out)."""
NOPROC: Final = Exit(ExitKind.NOPROC)
"""OTP's ``noproc``: the reason a monitor of a process already gone is told (its ``Down`` comes at once)."""


def shutdown(term: object = None) -> Exit:
    """``shutdown`` or ``{shutdown, term}``: a deliberate stop that is neither logged nor restarted."""
    return SHUTDOWN if term is None else Exit(ExitKind.SHUTDOWN, term)


def crash(exception: BaseException) -> Exit:
    """An abnormal exit caused by ``exception``."""
    return _new_exit(Exit, (_CRASH_KIND, None, exception))
