"""The ``[console]`` section: the aiomonitor console, off by default and owner-only when on.

The console needs aiomonitor, the ``console`` extra: enabled without it, the configuration is refused
(the daemon exits 78 at start, a reload is refused) with a line saying what to install.

The console gives whoever reaches it code execution as the daemon's uid (docs/console.md), so it
listens on an owner-only Unix socket; TCP is possible only on a loopback address, configured
explicitly, and logged as a warning at every start. The Python prompt (``repl``) is opt-in and only
ever offered on the Unix socket: asking for it with TCP is refused when the configuration is loaded.

>>> ConsoleSettings().enabled
False
>>> ConsoleSettings(enabled=True, tcp_host="0.0.0.0", tcp_port=20101)
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for ConsoleSettings
...
>>> ConsoleSettings(enabled=True, repl=True, tcp_host="127.0.0.1", tcp_port=20101)
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for ConsoleSettings
...
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from daemon.console.extra import console_missing
from daemon.control.config import checked_socket_path

__all__ = ["ConsoleSettings"]


class ConsoleSettings(BaseModel):
    """The aiomonitor console (docs/console.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    """Off by default: nothing but the control socket listens unless this is set."""
    socket: Path | None = None
    """The console's Unix socket; None puts it at ``<runtime_dir>/console.sock``; relative paths are
    taken relative to the runtime directory. Mode 0600, owner-only whatever the control group."""
    tcp_host: str | None = None
    """A loopback address (``127.0.0.1``, ``::1``, ``localhost``) to serve the console on by TCP
    instead: unauthenticated, so any local user gets the daemon's uid (logged as a warning)."""
    tcp_port: int | None = Field(default=None, ge=0, le=65535)
    """The TCP port, with ``tcp_host`` (0 picks a free port, for tests)."""
    repl: bool = False
    """Offer ``repl``, a Python prompt inside the daemon, to peers of the Unix socket whose uid is the
    daemon's or root's (it grants them nothing they do not hold already). Never with TCP."""

    @model_validator(mode="after")
    def _installed(self) -> Self:
        # At start, on reload and in config.check alike (test_an_enabled_console_needs_its_extra).
        missing = console_missing() if self.enabled else None
        if missing is not None:
            raise ValueError(missing)
        return self

    @model_validator(mode="after")
    def _tcp_is_loopback_and_complete(self) -> Self:
        if (self.tcp_host is None) != (self.tcp_port is None):
            raise ValueError("tcp_host and tcp_port go together: set both for TCP, or neither")
        if self.repl and self.tcp_host is not None:
            raise ValueError(
                "repl = true is refused with tcp_host and tcp_port: the Python prompt is offered only on "
                "the owner-only Unix socket, where the peer's uid is checked (docs/console.md); "
                "remove tcp_host and tcp_port, or repl"
            )
        if self.tcp_host is not None and not _is_loopback(self.tcp_host):
            raise ValueError(
                f"tcp_host {self.tcp_host!r} is not a loopback address; the console is unauthenticated "
                "and is only ever served on 127.0.0.1, ::1 or localhost"
            )
        return self

    @property
    def uses_tcp(self) -> bool:
        """True when the console is configured to listen on loopback TCP instead of its Unix socket."""
        return self.tcp_host is not None

    def socket_path(self, runtime_dir: Path) -> Path:
        """The absolute socket path; raises ``ValueError`` naming it if it is over the ``sun_path`` limit."""
        path = runtime_dir / "console.sock" if self.socket is None else runtime_dir / self.socket
        return checked_socket_path(path, "console socket")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
