"""The caches' errors, each with the error code a verb that lets it escape is answered with."""

from __future__ import annotations

from daemon.errors import DaemonError
from daemon.verbs.codes import ErrorCode

__all__ = ["UnknownCache"]


class UnknownCache(DaemonError, LookupError):
    """Raised when a cache name is not configured under the cache supervisor."""

    code = ErrorCode.NOT_FOUND
