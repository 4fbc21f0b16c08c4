"""sd_notify, written in the project: tell the service manager we are ready, reloading, stopping, alive.

The protocol (``sd_notify(3)``) is one ``AF_UNIX``/``SOCK_DGRAM`` datagram of newline-separated
``KEY=VALUE`` lines sent to ``$NOTIFY_SOCKET``; an address beginning with ``@`` names the abstract
namespace (the ``@`` becomes a NUL byte). systemd documents the protocol as reimplementable, and the
packaged clients either swallow every error or need a compiler (docs/operations.md, docs/dependencies.md).

The datagram is sent with a plain blocking socket, not through the event loop: uvloop can neither make
AF_UNIX datagram endpoints nor connect abstract names, and a local datagram send does not block.

Sending never raises: the daemon must run the same with or without a service manager, so a missing
``NOTIFY_SOCKET`` makes every send a no-op, and a broken one is logged once (then ignored).

>>> notifier = Notifier.from_environ({})
>>> notifier.enabled
False
>>> notifier.ready(status="up")
False
>>> format_message({"READY": "1", "STATUS": "up"})
b'READY=1\\nSTATUS=up'
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Mapping

__all__ = ["Notifier", "format_message", "monotonic_usec"]

log = logging.getLogger("arbord.notify")


def format_message(fields: Mapping[str, str]) -> bytes:
    """The datagram for ``fields``; a newline inside a value would start a new field, so it is refused."""
    lines = []
    for key, value in fields.items():
        if "\n" in key or "=" in key or "\n" in value:
            raise ValueError(f"sd_notify field {key!r}={value!r} must not contain a newline")
        lines.append(f"{key}={value}")
    return "\n".join(lines).encode()


def monotonic_usec() -> int:
    """``CLOCK_MONOTONIC`` in microseconds, the clock systemd reads ``MONOTONIC_USEC`` against."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def _socket_address(value: str) -> str | bytes | None:
    """The address to connect to; None for a scheme we do not speak (``vsock:``), which is ignored."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


class Notifier:
    """Sends sd_notify messages to one address. Build it with ``from_environ``.

    The instance remembers whether it already reported a failure, so a broken socket costs one log
    line, not one per watchdog ping.
    """

    __slots__ = ("_address", "_failed", "_label")

    def __init__(self, address: str | bytes | None, label: str = "") -> None:
        self._address = address
        self._label = label
        self._failed = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Notifier:
        """A notifier for ``environ["NOTIFY_SOCKET"]``; disabled when it is unset or not a Unix address."""
        value = environ.get("NOTIFY_SOCKET", "")
        address = _socket_address(value) if value else None
        if value and address is None:
            log.info("NOTIFY_SOCKET=%r is not a Unix socket address; not notifying", value)
        return cls(address, value)

    @property
    def enabled(self) -> bool:
        """True when there is a socket to notify (it may still turn out to be broken)."""
        return self._address is not None

    def send(self, fields: Mapping[str, str]) -> bool:
        """Send one message; True if it was delivered, False if disabled or broken (logged once)."""
        if self._address is None:
            return False
        try:
            payload = format_message(fields)
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._address)
                sock.sendall(payload)
        except (OSError, ValueError) as error:
            if not self._failed:
                self._failed = True
                log.warning("cannot notify the service manager at %s: %s", self._label, error)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1``: start-up (or a reload) is complete."""
        return self.send(_with_status({"READY": "1"}, status))

    def reloading(self, status: str | None = None) -> bool:
        """``RELOADING=1`` with ``MONOTONIC_USEC``, which systemd needs to match the reload to its request."""
        return self.send(_with_status({"RELOADING": "1", "MONOTONIC_USEC": str(monotonic_usec())}, status))

    def stopping(self, status: str | None = None) -> bool:
        """``STOPPING=1``: the clean stop has begun."""
        return self.send(_with_status({"STOPPING": "1"}, status))

    def status(self, text: str) -> bool:
        """``STATUS=``: the one line ``systemctl status`` shows."""
        return self.send({"STATUS": _one_line(text)})

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: the keep-alive ping."""
        return self.send({"WATCHDOG": "1"})


def _with_status(fields: dict[str, str], status: str | None) -> dict[str, str]:
    if status is not None:
        fields["STATUS"] = _one_line(status)
    return fields


def _one_line(text: str) -> str:
    """Status texts come from error messages, which may span lines; systemd shows one."""
    return "; ".join(part for part in text.splitlines() if part)
