"""Any Python value as JSON types, for verbs that show what a table, a registry or a cache holds.

Tuples and sets become lists, non-string keys strings, and what JSON cannot carry its ``repr``:

>>> jsonable({"k": (1, {2}), 3: float("nan"), "o": object})
{'k': [1, [2]], '3': 'nan', 'o': "<class 'object'>"}
"""

from __future__ import annotations

# Names for annotations only: importing ``typing`` would cost ``arborctl`` a share of its start-up
# (bench/bench_arborctl.py); mypy reads this block, the interpreter skips it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["jsonable"]


def jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON types: tuples and sets become lists, other keys strings, the rest ``repr``."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else repr(value)
    if depth > 32:
        return repr(value)
    if isinstance(value, list | tuple):
        return [jsonable(v, depth + 1) for v in value]
    if isinstance(value, set | frozenset):
        return [jsonable(v, depth + 1) for v in sorted(value, key=repr)]
    if isinstance(value, dict):
        return {k if isinstance(k, str) else repr(k): jsonable(v, depth + 1) for k, v in value.items()}
    return repr(value)
