"""The agent registry's errors, each with the error code a verb that lets it escape is answered with."""

from __future__ import annotations

from daemon.errors import DaemonError
from daemon.verbs.codes import ErrorCode

__all__ = ["AlreadyRegistered", "NotIndexed", "TooManyEntries", "TooManyValues"]


class AlreadyRegistered(DaemonError):
    """Raised by the agent registry when a key is held by a live owner; ``owner`` names that owner."""

    code = ErrorCode.CONFLICT

    def __init__(self, message: str, owner: object) -> None:
        super().__init__(message)
        self.owner = owner


class NotIndexed(DaemonError, LookupError):
    """Raised by ``find_by_attribute`` for an attribute the registry does not index: configure it."""

    code = ErrorCode.NOT_FOUND


class TooManyEntries(DaemonError):
    """Raised by the agent registry when an owner already holds ``registry.max_entries_per_owner``
    entries: unregister some, or raise the limit in the configuration."""

    code = ErrorCode.CONFLICT


class TooManyValues(DaemonError, ValueError):
    """Raised by the agent registry when an entry's metadata has more distinct values of indexed
    attributes than ``registry.max_indexed_values``: index fewer values (put the rest in an
    attribute that is not indexed: ``query`` still finds them), or raise the limit."""

    code = ErrorCode.INVALID_PARAMS
