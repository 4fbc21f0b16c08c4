"""The ``[control]`` section: where the control socket lives and the limits that protect the daemon.

Every limit is enforced before the thing it limits is buffered or started: a frame longer than
``max_frame_bytes`` is refused before its newline arrives, a connection past ``max_connections`` (or
past its uid's ``max_connections_per_uid``, or into the slots reserved for root and the daemon's
uid) is answered ``busy`` and closed, a connection silent for ``idle_timeout`` seconds, or taking
``frame_timeout`` seconds to finish a frame it began, is closed, and so is one whose unsent replies
pass ``max_unsent_bytes``.

>>> from pathlib import Path
>>> ControlSettings().socket_path(Path("/run/arbord"))
PosixPath('/run/arbord/control.sock')
>>> ControlSettings(socket=Path("/tmp/" + "x" * 120)).socket_path(Path("/run"))
Traceback (most recent call last):
...
ValueError: control socket path '/tmp/xxx...' is 125 bytes long; AF_UNIX allows at most 107
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CONTROL_SERVER_NAME",
    "SUN_PATH_MAX",
    "ControlSettings",
    "LiveControlSettings",
    "checked_socket_path",
]

CONTROL_SERVER_NAME: Final = "arbord.control"
"""The control server's registered name (``whereis``)."""

SUN_PATH_MAX: Final = 107
"""The longest AF_UNIX path Linux binds: ``sun_path`` is 108 bytes including the terminating NUL."""


def checked_socket_path(path: Path, what: str) -> Path:
    """Return ``path`` if it fits in ``sun_path``; else raise ``ValueError`` naming it and its length."""
    size = len(os.fsencode(path))
    if size > SUN_PATH_MAX:
        text = str(path)  # named whole (issue 17, X9); only an absurd one is cut, keeping both ends
        shown = text if len(text) <= 300 else f"{text[:150]}...{text[-100:]}"
        raise ValueError(f"{what} path {shown!r} is {size} bytes long; AF_UNIX allows at most {SUN_PATH_MAX}")
    return path


class ControlSettings(BaseModel):
    """The control socket (docs/control-protocol.md, "Limits" and "Security")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    socket: Path | None = None
    """The socket's path; None puts it at ``<runtime_dir>/control.sock``; a relative path is taken
    relative to the runtime directory."""
    group: str | None = None
    """A group whose members may connect besides the daemon's uid and root; the socket is then made
    0660 and given to that group (otherwise it is 0600)."""
    max_frame_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    """The longest request line accepted, newline excluded (1 MiB); a longer one closes the connection."""
    idle_timeout: float = Field(default=300.0, gt=0, allow_inf_nan=False)
    """Seconds a connection may stay silent (or take to send one frame) before it is closed."""
    max_connections: int = Field(default=64, ge=1, le=10_000)
    """Connections served at once; one more is answered ``busy`` and closed."""
    max_connections_per_uid: int = Field(default=16, ge=1, le=10_000)
    """Connections one peer uid other than root and the daemon's may hold at once (issue 12: one party
    must not take every slot); one more is answered ``busy`` and closed."""
    reserved_connections: int = Field(default=4, ge=0, le=10_000)
    """Of ``max_connections``, the last ones are kept for root and the daemon's uid, so an operator can
    always get in (``arborctl shutdown``); at most ``max_connections - 1`` are reserved."""
    frame_timeout: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """Seconds a peer may take to finish a frame once its first byte arrived (at most
    ``idle_timeout``); then the connection is closed."""
    max_unsent_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024, le=1024 * 1024 * 1024)
    """Reply bytes a connection may have waiting for its peer to read (4 MiB); past it the peer is not
    reading and the connection is closed. Replies go out in frames of a bounded size (docs/
    control-protocol.md, "Limits"), so a reading peer never reaches it."""
    request_timeout: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    """Seconds one request may run (for a stream: between two items) before it is answered ``timeout``."""
    drain_timeout: float = Field(default=5.0, ge=0, allow_inf_nan=False)
    """On shutdown, seconds in-flight requests get to finish before their connections are cut."""

    @property
    def reserved(self) -> int:
        """The slots kept for root and the daemon's uid: ``reserved_connections``, leaving at least one
        for everyone else."""
        return min(self.reserved_connections, self.max_connections - 1)

    def socket_path(self, runtime_dir: Path) -> Path:
        """The absolute socket path; raises ``ValueError`` naming it if it is over the ``sun_path`` limit."""
        path = runtime_dir / "control.sock" if self.socket is None else runtime_dir / self.socket
        return checked_socket_path(path, "control socket")


class LiveControlSettings:
    """The ``[control]`` settings in force, shared by the control server's child spec and the running
    server: a reload that changes only limits and timeouts updates them here, in place, so the
    listener and its connections stay, and a later restart of the server (after a crash) starts with
    them too. Only a change of ``socket`` or ``group`` restarts the listener (docs/operations.md,
    "Reload").

    >>> live = LiveControlSettings(ControlSettings())
    >>> live.current = ControlSettings(max_connections=8)
    >>> live.current.max_connections
    8
    """

    __slots__ = ("current",)

    def __init__(self, current: ControlSettings) -> None:
        self.current = current

    def __repr__(self) -> str:
        return f"LiveControlSettings({self.current!r})"

    @staticmethod
    def listener_changed(old: ControlSettings, new: ControlSettings) -> bool:
        """Whether going from ``old`` to ``new`` needs a new listening socket (its place or group)."""
        return old.socket != new.socket or old.group != new.group
