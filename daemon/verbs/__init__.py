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
