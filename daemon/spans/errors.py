"""The span facility's errors, each with the error code a verb that lets it escape is answered with.

The hot path (start, end, attributes, events, links) raises nothing for bad input: it drops what
it cannot keep and counts it (``daemon/spans/limits.py``). What raises is what a caller must hear
about: a header from another system that cannot be continued.
"""

from __future__ import annotations

from daemon.errors import DaemonError
from daemon.verbs.codes import ErrorCode

__all__ = ["BadTraceparent"]


class BadTraceparent(DaemonError, ValueError):
    """Raised by ``from_traceparent`` (and a control request carrying one) for a header W3C Trace
    Context refuses: wrong shape, upper-case hex, version ``ff``, all-zero ids. Send a valid header,
    or none (the request then starts a trace of its own)."""

    code = ErrorCode.INVALID_PARAMS
