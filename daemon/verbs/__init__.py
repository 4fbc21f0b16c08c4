"""Verbs: what the daemon can be asked to do, independent of how the request arrives.

A verb (``Method``) is a name, a pydantic model of its params and an async handler; the control
socket (``daemon.control``), the console and ``arborctl`` (``daemon.ctl``) all serve or call the same
ones. The package holds the verb framework and the verbs every daemon has:

- ``codes``: ``ErrorCode``, the stable error strings of the protocol;
- ``words``: ``arborctl``'s words → a method name and its params;
- ``render``: results drawn for people;
- ``jsonable``: any value as JSON types;
- ``method``: ``Method``, ``MethodContext``, ``DaemonContext``, ``VerbTable``;
- ``error_codes``: an exception → the error code it is answered with;
- ``core``: the core verb groups (``daemon_verbs``, ``tree_verbs``, ``table_verbs``) and the error
  codes of the library's errors.

Only the first four are re-exported here: they import nothing but the standard library, so
``arborctl`` can use them without paying for pydantic or the supervisor (``tests/test_layout.py``).
Import the others from their modules.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from daemon.verbs.codes import ErrorCode
    from daemon.verbs.jsonable import jsonable
    from daemon.verbs.render import render_result
    from daemon.verbs.words import ALIASES, UsageError, build_params, resolve_method

__all__ = [
    "ALIASES",
    "ErrorCode",
    "UsageError",
    "build_params",
    "jsonable",
    "render_result",
    "resolve_method",
]

# Imported on first use (PEP 562): the daemon imports ``daemon.verbs.method`` and ``codes`` on its
# way to READY, and importing them must not pay for the renderer and the words (arborctl's half).
_EXPORTS: Final = MappingProxyType(
    {
        "ALIASES": "daemon.verbs.words",
        "ErrorCode": "daemon.verbs.codes",
        "UsageError": "daemon.verbs.words",
        "build_params": "daemon.verbs.words",
        "jsonable": "daemon.verbs.jsonable",
        "render_result": "daemon.verbs.render",
        "resolve_method": "daemon.verbs.words",
    }
)


def __getattr__(name: str) -> Any:
    """The re-exported names, each imported from its module when first asked for."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
