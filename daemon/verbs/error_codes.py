"""Which error code an exception raised by a verb is answered with, in one place.

A ``ControlError`` carries its own code; a daemon error with a ``code`` (each component's own errors,
in its ``errors.py``) is answered with that code; an exception of a type listed in the components'
error maps (``ErrorMap``: the library's errors for the core verbs) with the code mapped to it; a
timeout with ``timeout``; anything else is a bug, answered ``internal`` without its traceback.

>>> from daemon.errors import ControlError
>>> error_for(ControlError(ErrorCode.CONFLICT, "taken", {"owner": "x"}), {})
(<ErrorCode.CONFLICT: 'conflict'>, 'taken', {'owner': 'x'})
>>> error_for(KeyError("k"), {LookupError: ErrorCode.NOT_FOUND})
(<ErrorCode.NOT_FOUND: 'not_found'>, "'k'", {})
>>> error_for(ValueError("oops"), {})[0]
<ErrorCode.INTERNAL: 'internal'>
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from daemon.errors import ControlError, DaemonError
from daemon.verbs.codes import ErrorCode

__all__ = ["ErrorMap", "ErrorRule", "error_for", "merge_error_maps"]

ErrorRule: TypeAlias = ErrorCode | tuple[ErrorCode, Callable[[Any], str]]
"""A code, or a code and how to word the message (default: ``str(error)``)."""

ErrorMap: TypeAlias = Mapping[type[BaseException], ErrorRule]
"""Exception types (matched with ``isinstance``, in order) → the code they are answered with."""


def merge_error_maps(*maps: ErrorMap) -> dict[type[BaseException], ErrorRule]:
    """One map from the components' maps; a type mapped twice is a programming error."""
    merged: dict[type[BaseException], ErrorRule] = {}
    for error_map in maps:
        for kind, rule in error_map.items():
            if kind in merged:
                raise ValueError(f"error type {kind.__name__} is mapped to an error code twice")
            merged[kind] = rule
    return merged


def error_for(error: BaseException, error_map: ErrorMap) -> tuple[ErrorCode, str, dict[str, Any]]:
    """The error code, message and extra fields a verb's exception is answered with."""
    if isinstance(error, ControlError):
        return error.code, error.message, dict(error.data)
    if isinstance(error, DaemonError) and error.code is not None:
        return error.code, str(error), {}
    for kind, rule in error_map.items():
        if isinstance(error, kind):
            if isinstance(rule, tuple):
                code, describe = rule
                return code, describe(error), {}
            return rule, str(error), {}
    if isinstance(error, TimeoutError):
        return ErrorCode.TIMEOUT, str(error) or "timed out", {}
    return ErrorCode.INTERNAL, f"internal error ({type(error).__name__}); the daemon logged the details", {}
