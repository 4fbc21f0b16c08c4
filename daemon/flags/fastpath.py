"""Which evaluation ``Flags.enabled`` runs: the C one, or its pure-Python twin.

``daemon.flags._speedups`` (daemon/flags/_speedups.c) evaluates a flag without a Python frame: a
constant flag costs one dict read in C, a percentage of actors a remembered bucket (or a murmur3 in
C). Its twin is the closure ``daemon.flags.server._evaluator``, the same steps in Python, and it
is what runs when ``ARBORD_NO_EXTENSIONS=1`` is set (any value but empty or ``0``) or on an
interpreter other than CPython: the rule of the tables' core (``supervisor.lowlevel.wants_twin``,
docs/tables.md). On CPython without that variable a missing extension is an ``ImportError`` saying
what to do, never a silent fall-back to an evaluation several times slower.

Both are checked against each other and against the gate model by
tests/daemon/test_flags_fastpath.py, and the flags suites run on both (``TWIN_SUITES`` in the
Makefile).

>>> IMPLEMENTATION in ("c", "python")
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal

from supervisor.lowlevel import NO_EXTENSIONS_VARIABLE, wants_twin

__all__ = ["IMPLEMENTATION", "compiled_evaluator", "normalized_c"]

IMPLEMENTATION: Final[Literal["c", "python"]] = "python" if wants_twin() else "c"
"""``"c"`` or ``"python"``: the evaluation every flags server of this interpreter runs."""

if TYPE_CHECKING or IMPLEMENTATION == "c":
    try:
        from daemon.flags._speedups import Evaluator
        from daemon.flags._speedups import normalized as normalized_c
    except ImportError as error:
        raise ImportError(
            "arbord's C extension daemon.flags._speedups is missing or does not load "
            f"({error}). Reinstall arbord with a C compiler (pip install arbord), or set "
            f"{NO_EXTENSIONS_VARIABLE}=1 to run on the pure-Python twin, several times slower."
        ) from error
else:
    Evaluator = None
    normalized_c = None


def compiled_evaluator(
    rows: dict[Any, Any],
    unknown: Callable[[str], bool],
    slow: Callable[..., bool],
    bucket_into: Callable[[tuple[str, float, dict[str, int]], str], int],
) -> Callable[..., bool]:
    """The C evaluation over ``rows`` (the state table's store) when it is the one in use, else
    ``slow`` itself (the Python twin, which the C one also hands its uncommon calls to)."""
    if Evaluator is None:
        return slow
    return Evaluator(rows, unknown, slow, bucket_into)
