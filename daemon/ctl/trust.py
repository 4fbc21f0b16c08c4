"""Whether a control socket is the daemon's: checked before ``arborctl`` sends a single byte.

A request may carry a secret (``cache.put``) and a reply decides what an operator believes ("reload
ok"), so a client must not talk to a socket another local user planted. Two checks, both before the
first write:

1. **The place.** The socket's directory, and every directory above it, belongs to root, the caller or
   the daemon's user (``$ARBORD_DAEMON_USER``, a name or a uid) and is writable by nobody else, unless
   it is sticky (``/tmp``): there only its owner may rename what is in it. These are the rules the
   daemon applies to its own runtime directory (daemon/control/unix_socket.py). One more owner is
   trusted: a directory root made for a service (``/run/arbord`` under ``User=arbord``): its parent
   belongs to root and is writable by nobody else, so only root can have given it to that user.
2. **The peer.** The process listening on it (``SO_PEERCRED``, as the kernel recorded it at
   ``listen``) runs as root, the caller, the daemon's user, or the owner of that trusted directory.

>>> sorted(expected_server_uids(7, {"ARBORD_DAEMON_USER": "999"}, caller=1000))
[0, 7, 999, 1000]
"""

from __future__ import annotations

import os
import socket
import stat
import struct
from collections.abc import Mapping
from pathlib import Path

# Names for annotations only: importing ``typing`` would cost ``arborctl`` a share of its start-up
# (bench/bench_arborctl.py); mypy reads this block, the interpreter skips it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = [
    "DAEMON_USER_VARIABLE",
    "UntrustedSocket",
    "check_server",
    "daemon_user",
    "expected_server_uids",
    "trusted_socket_path",
]

DAEMON_USER_VARIABLE: Final = "ARBORD_DAEMON_USER"
"""The environment variable naming the daemon's service user (a name or a uid), when it is neither
root nor the caller and its runtime directory is not one root made for it."""

_UCRED: Final = struct.Struct("3i")


class UntrustedSocket(PermissionError):
    """The socket's place or the process serving it is not the daemon's: nothing was sent.

    ``arborctl`` exits 4 with this message. Fix the directory's owner or mode, or set
    ``$ARBORD_DAEMON_USER`` to the daemon's user if it runs as a third uid."""


def daemon_user(environ: Mapping[str, str]) -> int | None:
    """The uid ``$ARBORD_DAEMON_USER`` names (a number or a user name); None when unset or unknown."""
    value = environ.get(DAEMON_USER_VARIABLE, "").strip()
    if not value:
        return None
    if value.isdigit():
        return int(value)
    import pwd  # only when a name is given: arborctl's start-up stays small

    try:
        return pwd.getpwnam(value).pw_uid
    except KeyError:
        return None


def _trusted(uid: int, caller: int, extra: int | None) -> bool:
    return uid == 0 or uid == caller or (extra is not None and uid == extra)


def _problem(
    path: str, info: os.stat_result, caller: int, extra: int | None, parent: os.stat_result | None
) -> str:
    """Why directory ``path`` (``info`` from lstat) is not safe, or '' when it is."""
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a directory"
    owner_ok = _trusted(info.st_uid, caller, extra) or (
        # a directory root gave to a service user: only root can create it in a root-only parent
        parent is not None and parent.st_uid == 0 and not parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )
    if not owner_ok:
        return f"{path} is owned by uid {info.st_uid}"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
        return f"{path} is writable by others (mode {stat.S_IMODE(info.st_mode):04o})"
    return ""


def trusted_socket_path(
    path: Path | str, environ: Mapping[str, str], caller: int | None = None
) -> tuple[Path, int]:
    """The socket's real path and the uid owning its directory, once its place is checked (rule 1).

    Symbolic links are resolved first, and the directories checked are those of the real path.
    Raises ``UntrustedSocket`` naming the unsafe directory; ``FileNotFoundError`` and
    ``PermissionError`` (an unreadable directory) pass through, as a ``connect`` would raise them.
    """
    uid = os.getuid() if caller is None else caller
    extra = daemon_user(environ)
    real = Path(os.path.realpath(path))
    directory = real.parent
    parent: os.stat_result | None = None
    info: os.stat_result | None = None
    for part in (*reversed(directory.parents), directory):
        info = os.lstat(part)
        problem = _problem(str(part), info, uid, extra, parent)
        if problem:
            raise UntrustedSocket(f"refusing the control socket {path}: {problem}; nothing was sent")
        parent = info
    assert info is not None
    return real, info.st_uid


def expected_server_uids(directory_owner: int, environ: Mapping[str, str], caller: int) -> frozenset[int]:
    """The uids a genuine daemon may run as: root, the caller, ``$ARBORD_DAEMON_USER``, and the owner
    of the socket's directory (checked by ``trusted_socket_path``)."""
    uids = {0, caller, directory_owner}
    extra = daemon_user(environ)
    if extra is not None:
        uids.add(extra)
    return frozenset(uids)


def check_server(sock: socket.socket, expected: frozenset[int], path: Path | str) -> None:
    """Rule 2: raise ``UntrustedSocket`` unless the process serving ``sock`` runs as an ``expected`` uid."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, _ = _UCRED.unpack(raw)
    if uid not in expected:
        raise UntrustedSocket(
            f"refusing the control socket {path}: it is served by uid {uid} (pid {pid}), not by the "
            f"daemon's user (set ${DAEMON_USER_VARIABLE} if the daemon runs as uid {uid}); nothing was sent"
        )
