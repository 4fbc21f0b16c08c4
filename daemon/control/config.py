"""The ``[control]`` section: where the control socket lives and the limits that protect the daemon.

Every limit is enforced before the thing it limits is buffered or started: a frame longer than
``max_frame_bytes`` is refused before its newline arrives, a connection past ``max_connections`` is
answered ``busy`` and closed, a connection silent for ``idle_timeout`` seconds is closed.

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

__all__ = ["CONTROL_SERVER_NAME", "SUN_PATH_MAX", "ControlSettings", "checked_socket_path"]

CONTROL_SERVER_NAME: Final = "arbord.control"
"""The control server's registered name (``whereis``)."""

SUN_PATH_MAX: Final = 107
"""The longest AF_UNIX path Linux binds: ``sun_path`` is 108 bytes including the terminating NUL."""


def checked_socket_path(path: Path, what: str) -> Path:
    """Return ``path`` if it fits in ``sun_path``; else raise ``ValueError`` naming it and its length."""
    size = len(os.fsencode(path))
    if size > SUN_PATH_MAX:
        shown = str(path) if len(str(path)) <= 40 else str(path)[:8] + "..."
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
    request_timeout: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    """Seconds one request may run (for a stream: between two items) before it is answered ``timeout``."""
    drain_timeout: float = Field(default=5.0, ge=0, allow_inf_nan=False)
    """On shutdown, seconds in-flight requests get to finish before their connections are cut."""

    def socket_path(self, runtime_dir: Path) -> Path:
        """The absolute socket path; raises ``ValueError`` naming it if it is over the ``sun_path`` limit."""
        path = runtime_dir / "control.sock" if self.socket is None else runtime_dir / self.socket
        return checked_socket_path(path, "control socket")
