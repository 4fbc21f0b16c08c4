"""Who is on the other end of a Unix socket, and whether they may talk to the daemon.

The kernel reports the peer's pid, uid and gid (``SO_PEERCRED``) as of ``connect``; nothing the peer
sends can change them, so the check runs before a single byte of the request is read. Allowed: the
daemon's own effective uid, root, and members of the one configured group.
"""

from __future__ import annotations

import grp
import os
import pwd
import socket
import struct
from dataclasses import dataclass
from typing import Final

__all__ = ["AccessPolicy", "PeerCredentials", "peer_credentials"]

_UCRED: Final = struct.Struct("3i")


@dataclass(frozen=True, slots=True)
class PeerCredentials:
    """The connecting process as the kernel saw it at ``connect``."""

    pid: int
    uid: int
    gid: int


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """``SO_PEERCRED`` of a connected AF_UNIX socket; raises ``OSError`` if the kernel refuses."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return PeerCredentials(pid, uid, gid)


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """Which peers may connect: ``owner_uid``, root, and members of ``group_gid`` when it is set."""

    owner_uid: int
    group_gid: int | None = None

    @classmethod
    def for_group(cls, group: str | None) -> AccessPolicy:
        """The policy for this process's euid plus ``group`` (a name or a numeric gid).

        Raises ``LookupError`` naming the group if it does not exist.
        """
        if group is None:
            return cls(os.geteuid())
        try:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            raise LookupError(f"control group {group!r} does not exist") from None
        return cls(os.geteuid(), gid)

    def allows(self, peer: PeerCredentials) -> bool:
        """True if ``peer`` may use the socket."""
        if peer.uid in (self.owner_uid, 0):
            return True
        if self.group_gid is None:
            return False
        if peer.gid == self.group_gid:
            return True
        try:
            name = pwd.getpwuid(peer.uid).pw_name
        except KeyError:
            return False
        return self.group_gid in os.getgrouplist(name, peer.gid)
