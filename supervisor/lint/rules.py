"""The rules of the hidden-state check: one code per kind of hidden state, and the finding record.

Every message ends with the alternative, because the point of the check is to say where state should
live instead (server state, an owned table, an explicit parameter, or a module allowed to hold
context), not merely that it is somewhere it should not be.

>>> RULES["ARB007"].title
'mutable default argument'
>>> print(Finding("app.py", 3, 0, "ARB007", "a mutable default").format())
app.py:3:1 ARB007 a mutable default
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = ["RULES", "Finding", "Rule"]

_STATE: Final = "keep it in a server's state or an owned table, or pass it as an explicit parameter"


@dataclass(frozen=True, slots=True)
class Rule:
    """One code: ``title`` names what is flagged, ``advice`` what to do instead."""

    code: str
    title: str
    advice: str

    def message(self, detail: str) -> str:
        """The finding's message: what was found (``detail``), then what to do instead."""
        return f"{detail}: {self.advice}"


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One violation at ``path:line:col`` (``line`` 1-based, ``col`` 0-based as in the AST)."""

    path: str
    line: int
    col: int
    code: str
    message: str

    def format(self) -> str:
        """``file:line:col CODE message``, the column 1-based like every other linter's output."""
        return f"{self.path}:{self.line}:{self.col + 1} {self.code} {self.message}"


RULES: Final[Mapping[str, Rule]] = MappingProxyType(
    {
        rule.code: rule
        for rule in (
            Rule("ARB000", "file could not be parsed", "fix the syntax error; nothing else was checked"),
            Rule("ARB001", "module-level mutable state", _STATE),
            Rule("ARB002", "`global` rebinding", _STATE),
            Rule(
                "ARB003",
                "`nonlocal` rebinding in a closure that outlives the call",
                "return the new value, or keep the state in a server or an owned table",
            ),
            Rule(
                "ARB004",
                "`threading.local()`",
                "keep it in a server's state, or pass it as an explicit parameter (asyncio tasks share "
                "one thread, so a thread-local is shared by all of them)",
            ),
            Rule(
                "ARB005",
                "`ContextVar` outside the modules allowed to hold context",
                "pass it as an explicit parameter, or declare it in a module listed in "
                "`[tool.arbord.hidden-state] context`",
            ),
            Rule("ARB006", "function attribute used as storage", _STATE),
            Rule("ARB007", "mutable default argument", "default to None and build the value in the call"),
            Rule(
                "ARB008",
                "class-level mutable attribute shared by all instances",
                "create it per instance in __init__, keep it in a server's state, or make it immutable "
                "(tuple, frozenset, MappingProxyType)",
            ),
            Rule(
                "ARB009",
                "`functools` cache on a module-level function (a hidden global cache)",
                "keep the cache in a server's state or an owned table, or allow it with a reason",
            ),
            Rule(
                "ARB010",
                "`arbord: allow-state` suppression without a reason",
                "write the reason in the parentheses: `# arbord: allow-state(why this state is fine)`",
            ),
            Rule(
                "ARB011",
                "`arbord: allow-state` suppression that suppresses nothing",
                "remove the comment",
            ),
        )
    }
)
