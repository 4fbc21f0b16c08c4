"""The control protocol's error codes: stable strings that scripts and other languages match on."""

from __future__ import annotations

import enum

__all__ = ["ErrorCode"]


class ErrorCode(enum.StrEnum):
    """The ``error.code`` of a control reply (docs/control-protocol.md lists when each is used)."""

    PARSE_ERROR = "parse_error"
    """The frame is not one JSON object."""
    INVALID_REQUEST = "invalid_request"
    """The object lacks ``id``/``method`` or has fields of the wrong type."""
    FRAME_TOO_LARGE = "frame_too_large"
    """The frame exceeded the configured cap before its newline; the connection is closed."""
    METHOD_NOT_FOUND = "method_not_found"
    """No such method."""
    INVALID_PARAMS = "invalid_params"
    """``params`` failed validation; ``errors`` lists each problem."""
    NOT_FOUND = "not_found"
    """The thing named in ``params`` does not exist (child, table, key, cache)."""
    CONFLICT = "conflict"
    """The request contradicts the current state (already registered, child running, ...)."""
    SERVER_DOWN = "server_down"
    """The server that serves the request is down: it crashed with the request in flight, or is being
    restarted (between its crash and its restart's registration). Retry; a write in flight may or may
    not have taken effect (read it back)."""
    READ_ONLY = "read_only"
    """The flags are read-only: their store could not persist a write (disk full, read-only file
    system, I/O error). Nothing was changed; writes are taken again once a probe write succeeds
    (``arborctl status`` shows ``health``)."""
    TIMEOUT = "timeout"
    """The daemon did not finish the request in time."""
    SHUTTING_DOWN = "shutting_down"
    """The daemon is stopping and takes no new requests."""
    PERMISSION_DENIED = "permission_denied"
    """The peer's uid is not allowed."""
    BUSY = "busy"
    """The daemon already serves ``max_connections`` connections; this one is closed. Retry later."""
    INTERNAL = "internal"
    """A bug: the daemon logged the details."""
