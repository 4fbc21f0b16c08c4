"""Making a listening AF_UNIX socket safe to serve: the directory, a previous instance, the mode.

Used by the control server and the console. The directory must belong to the daemon's uid and be
writable by nobody else (else anyone could swap the socket for their own); it is created 0700 (0710
when a control group needs to traverse it). It is examined with ``lstat``: a symbolic link is refused
(its owner could re-point it later), and so is a directory above it that another user owns or may
write to without the sticky bit (they could rename the whole tree away and put their own in its
place); a root-owned symbolic link above it (``/var/run``) is followed and its target checked.
A socket left by a dead instance is replaced; one a live daemon answers on makes this instance
refuse to start. The socket is bound, then ``chmod``-ed to its
mode at once: the owner-only directory covers the moment in between, whatever the umask.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

from daemon.control.peer import peer_credentials
from daemon.errors import AlreadyRunning, ControlSocketError, UnsafeSocketPath

__all__ = ["UnixListener", "check_ancestors", "check_directory", "claim_path", "listen_unix"]

_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


def check_ancestors(directory: Path, uid: int | None = None) -> None:
    """Raise ``UnsafeSocketPath`` unless every existing directory above ``directory`` belongs to root
    or ``uid`` (default: the effective uid) and others may not rename what is in it (not writable by
    group or others, or sticky like ``/tmp``). A symbolic link on the way must belong to root or
    ``uid`` too, and the directories of its target are checked as well.
    """
    owner = os.geteuid() if uid is None else uid
    directory = Path(os.path.abspath(directory))
    followed = False
    for part in reversed(directory.parents):
        try:
            info = os.lstat(part)
        except FileNotFoundError:
            break  # created by us below
        except OSError as error:
            raise ControlSocketError(f"cannot inspect {part}: {error}") from None
        if info.st_uid not in (0, owner):
            raise UnsafeSocketPath(
                f"refusing the socket directory {directory}: {part} is owned by uid {info.st_uid}, "
                f"neither root nor the daemon's uid {owner}"
            )
        if stat.S_ISLNK(info.st_mode):
            followed = True
        elif info.st_mode & _WRITABLE_BY_OTHERS and not info.st_mode & stat.S_ISVTX:
            raise UnsafeSocketPath(
                f"refusing the socket directory {directory}: {part} (mode {stat.S_IMODE(info.st_mode):04o}) "
                "lets others replace what is in it"
            )
    if followed:
        check_ancestors(Path(os.path.realpath(directory.parent)) / directory.name, owner)


def check_directory(directory: Path, *, mode: int = 0o700, gid: int | None = None) -> None:
    """Create ``directory`` with ``mode`` (and group ``gid``) if missing, else check it is safe.

    Raises ``UnsafeSocketPath`` for an unsafe directory, ``ControlSocketError`` when the OS refuses.
    An existing directory is left as it is: its mode is the administrator's (or systemd's
    ``RuntimeDirectoryMode=``) choice, as long as it is safe. ``check_ancestors`` applies too.
    """
    check_ancestors(directory)
    try:
        directory.mkdir(mode=mode, parents=True)
        os.chmod(directory, mode)  # mkdir's mode is filtered by the umask
        if gid is not None:
            os.chown(directory, -1, gid)
    except FileExistsError:
        pass
    except OSError as error:
        raise ControlSocketError(f"cannot create the socket directory {directory}: {error}") from None
    try:
        info = os.lstat(directory)  # never follow a link: its owner could re-point it later
    except OSError as error:
        raise ControlSocketError(f"cannot inspect the socket directory {directory}: {error}") from None
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeSocketPath(
            f"refusing the socket directory {directory}: it is a symbolic link; configure the real directory"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeSocketPath(f"{directory} is not a directory")
    if info.st_uid != os.geteuid():
        raise UnsafeSocketPath(
            f"refusing the socket directory {directory}: owned by uid {info.st_uid}, "
            f"not by the daemon's uid {os.geteuid()}"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeSocketPath(
            f"refusing the socket directory {directory}: mode {stat.S_IMODE(info.st_mode):04o} lets "
            "others replace the socket; make it 0700 (chmod go-w)"
        )


def claim_path(path: Path, what: str = "control socket") -> None:
    """Make ``path`` free to bind: remove a stale socket, refuse a live one or a non-socket.

    Raises ``AlreadyRunning`` when something accepts connections there, ``UnsafeSocketPath`` when the
    path holds a file that is not a socket.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise UnsafeSocketPath(
            f"{what} path {path} exists and is not a socket; remove it or configure another"
        )
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(os.fspath(path))
    except OSError as error:
        if error.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise ControlSocketError(f"cannot probe the {what} {path}: {error}") from None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # stale: nobody listens any more
        return
    else:
        try:
            pid: int | None = peer_credentials(probe).pid
        except OSError:
            pid = None
        shown = f" (pid {pid})" if pid else ""
        raise AlreadyRunning(
            f"another arbord is already running{shown}: it answers on the {what} {path}; "
            "stop it first (arborctl shutdown) or configure another runtime directory",
            pid,
        )
    finally:
        probe.close()


@dataclass(frozen=True, slots=True)
class UnixListener:
    """A listening socket and the identity (device, inode) of the file it created."""

    sock: socket.socket
    path: Path
    identity: tuple[int, int]

    def close(self) -> None:
        """Close the socket and unlink its file, unless another instance has replaced the file."""
        self.sock.close()
        with contextlib.suppress(OSError):
            info = os.lstat(self.path)
            if (info.st_dev, info.st_ino) == self.identity:
                os.unlink(self.path)


def listen_unix(path: Path, *, mode: int = 0o600, gid: int | None = None, backlog: int = 128) -> UnixListener:
    """Bind and listen on ``path`` (already claimed) with ``mode``; non-blocking, ready for the loop."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(os.fspath(path))
        os.chmod(path, mode)
        if gid is not None:
            os.chown(path, -1, gid)
        info = os.lstat(path)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as error:
        sock.close()
        raise ControlSocketError(f"cannot listen on {path}: {error}") from None
    return UnixListener(sock, path, (info.st_dev, info.st_ino))
