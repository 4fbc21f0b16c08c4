"""Which core the tables run on: the C extension, or its pure-Python twin.

``supervisor._speedups`` (C) is used on CPython. ``ARBORD_NO_EXTENSIONS=1`` (any value but empty or
``0``) selects the twin in ``_pycore`` instead, as does any interpreter other than CPython. On
CPython without that variable a missing extension is an ``ImportError`` that says what to do: a
silent fall-back would make every table several times slower with nobody told.

>>> IMPLEMENTATION in ("c", "python")
True
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Final, Literal

from supervisor.tables._running import RUNNING_TASKS

__all__ = [
    "CALLBACKS",
    "IMPLEMENTATION",
    "NO_EXTENSIONS_VARIABLE",
    "GuardedGetter",
    "TableCore",
    "wants_twin",
]

NO_EXTENSIONS_VARIABLE: Final = "ARBORD_NO_EXTENSIONS"
"""The environment variable that, set to anything but ``0`` or empty, selects the pure-Python twin of
every C accelerator (the tables, the error context and spans, the flags' evaluation)."""


def wants_twin() -> bool:
    """True when the pure-Python twin must be used: the variable is set, or this is not CPython."""
    return os.environ.get(NO_EXTENSIONS_VARIABLE, "") not in ("", "0") or sys.implementation.name != "cpython"


IMPLEMENTATION: Final[Literal["c", "python"]] = "python" if wants_twin() else "c"
"""``"c"`` or ``"python"``: the core every table of this interpreter runs on."""

if TYPE_CHECKING:  # one type for both: the twin is tested to behave as the C module's stub says
    from supervisor._speedups import CALLBACKS, GuardedGetter, TableCore
elif IMPLEMENTATION == "python":
    from supervisor.tables._pycore import CALLBACKS, GuardedGetter, TableCore
else:
    try:
        from supervisor._speedups import CALLBACKS, GuardedGetter, TableCore, use_running_tasks
    except ImportError as error:
        raise ImportError(
            "arbord's C extension supervisor._speedups is missing or does not load "
            f"({error}). Reinstall arbord with a C compiler (pip install arbord), or set "
            f"{NO_EXTENSIONS_VARIABLE}=1 to run on the pure-Python twin, several times slower "
            "(docs/tables.md, 'The C core and its Python twin')."
        ) from error
    use_running_tasks(RUNNING_TASKS)  # the owner check of the C hot paths reads the same mapping
