"""The flags' errors, each with the error code a verb that lets it escape is answered with."""

from __future__ import annotations

from daemon.errors import ConfigError, DaemonError
from daemon.verbs.codes import ErrorCode

__all__ = [
    "FlagsError",
    "FlagsReadOnly",
    "InvalidGate",
    "NotAllowed",
    "RevisionConflict",
    "StoreCorrupt",
    "StoreFailed",
    "StoreNotWritable",
    "UnknownFlag",
]


class FlagsError(DaemonError):
    """The base of the flags' errors."""


class InvalidGate(FlagsError, ValueError):
    """A write named a bad gate: a percentage outside [0, 100] or NaN, an empty actor id, a bad flag
    name. Nothing was changed; fix the value."""

    code = ErrorCode.INVALID_PARAMS


class UnknownFlag(FlagsError, LookupError):
    """A write named a flag that is neither declared (``[flags.<name>]``) nor created at run time.
    Nothing was changed; declare it, or pass ``create=True`` (``arborctl flags ... --create``)."""

    code = ErrorCode.NOT_FOUND


class StoreFailed(FlagsError, OSError):
    """The store could not commit a write (disk full, read-only file system, lost connection). The
    write was not acknowledged and the flags in force are unchanged; the daemon stays up."""

    code = ErrorCode.INTERNAL


class FlagsReadOnly(StoreFailed):
    """The store could not persist a write (disk full, a read-only file system, an I/O error), or
    the flags are read-only since one could not: the write was not acknowledged and nothing changed.
    The flags server refuses writes without touching the store until a probe write succeeds (every
    ``[flags] probe_interval`` seconds), then takes them again by itself (the fault matrix's F10)."""

    code = ErrorCode.READ_ONLY


class StoreCorrupt(FlagsError, ConfigError):
    """The store's database could not be read at start (not a database, a failed integrity check).
    The daemon exits 78 naming the file rather than start with no flags; restore or move it away.
    ``problems`` holds the lines naming it (a ``ConfigError``: that is what makes the exit 78)."""

    code = ErrorCode.INTERNAL


class StoreNotWritable(FlagsError, ConfigError):
    """The store's database, or the directory that holds it (and its ``-wal`` and ``-shm`` files),
    cannot be written at start: a read-only file system, or another owner. The file may be fine;
    the daemon exits 78 naming both rather than start with flags it could not change. Make the state
    directory writable by the daemon's user. ``problems``: the line saying so (a ``ConfigError``)."""

    code = ErrorCode.INTERNAL


class NotAllowed(FlagsError, PermissionError):
    """A control peer that may read flags asked to change one: writes are for the daemon's uid, root
    and ``[flags] writers_group``."""

    code = ErrorCode.PERMISSION_DENIED


class RevisionConflict(FlagsError):
    """A compare-and-set write (``if_revision``) found the flag at another revision than the one it
    named: another write came first. Nothing was changed; read the flag again (``flags.get``'s
    ``flag_revision``) and decide anew. ``flag``, ``expected``, ``revision`` (the one in force)."""

    code = ErrorCode.CONFLICT

    def __init__(self, flag: str, expected: int, revision: int) -> None:
        super().__init__(f"flag {flag!r} is at revision {revision}, not {expected}: another write came first")
        self.flag, self.expected, self.revision = flag, expected, revision
