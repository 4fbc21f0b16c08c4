"""Which core the error context's and the spans' hot paths run on: the C extension, or the Python.

``daemon._context_speedups`` (C, daemon/_context_speedups.c) runs the common case of a
``with_context`` block's enter and exit and of a span's start and end; everything else, and every
uncommon case of those, is the Python code of ``daemon.context`` and ``daemon.spans.api``, which is
also the pure-Python twin. ``ARBORD_NO_EXTENSIONS=1`` (any value but empty or ``0``) selects the twin,
as does any interpreter other than CPython, exactly as for the tables (``supervisor.tables._core``):
one variable decides both. On CPython without it, a missing extension is an ``ImportError`` that says
what to do: a silent fall-back would make every span several times slower with nobody told.

>>> IMPLEMENTATION in ("c", "python")
True
>>> (SPEEDUPS is None) == (IMPLEMENTATION == "python")
True
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Final, Literal

__all__ = ["IMPLEMENTATION", "NO_EXTENSIONS_VARIABLE", "SPEEDUPS", "wants_twin"]

NO_EXTENSIONS_VARIABLE: Final = "ARBORD_NO_EXTENSIONS"


def wants_twin() -> bool:
    """True when the pure-Python twin must be used: the variable is set, or this is not CPython."""
    return os.environ.get(NO_EXTENSIONS_VARIABLE, "") not in ("", "0") or sys.implementation.name != "cpython"


IMPLEMENTATION: Final[Literal["c", "python"]] = "python" if wants_twin() else "c"
"""``"c"`` or ``"python"``: the core the error context and spans run on in this interpreter."""


def _load() -> ModuleType | None:
    if IMPLEMENTATION == "python":
        return None
    try:
        from daemon import _context_speedups
    except ImportError as error:
        raise ImportError(
            "arbord's C extension daemon._context_speedups is missing or does not load "
            f"({error}). Reinstall arbord with a C compiler (pip install arbord), or set "
            f"{NO_EXTENSIONS_VARIABLE}=1 to run on the pure-Python twin, several times slower "
            "(docs/performance.md, 'Error context' and 'Spans')."
        ) from error
    return _context_speedups


SPEEDUPS: Final[ModuleType | None] = _load()
"""The C module, or None on the twin. Configured by ``daemon.context`` and ``daemon.spans.api``."""
