"""Where a daemon's control socket is, seen from a shell: ``arborctl`` without ``--socket``.

The candidates follow the daemon's own choice of runtime directory (daemon/app_paths.py), except that
the systemd service's socket (which an operator's shell does not know of: it has no
``$RUNTIME_DIRECTORY``) comes before the places any user can create: a ``run/`` under the working
directory and ``/tmp``. Wherever it is found, the client checks the socket is the daemon's before it
sends anything (daemon/ctl/trust.py):

>>> [str(p) for p in socket_candidates({"XDG_RUNTIME_DIR": "/run/user/7"}, Path("/w"), None, 7)]
['/run/user/7/arbord/control.sock', '/run/arbord/control.sock', '/w/run/control.sock', \
'/tmp/arbord-7/control.sock']
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# Names for annotations only: importing ``typing`` would cost ``arborctl`` a share of its start-up
# (bench/bench_arborctl.py); mypy reads this block, the interpreter skips it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["SYSTEMD_SOCKET", "default_socket_path", "socket_candidates", "source_checkout"]

SYSTEMD_SOCKET: Final = Path("/run/arbord/control.sock")
"""The control socket of the systemd service (``RuntimeDirectory=arbord``)."""


def source_checkout() -> Path | None:
    """The repository the ``daemon`` package was imported from, if it runs from a checkout."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "daemon").is_dir() else None


def socket_candidates(environ: Mapping[str, str], cwd: Path, checkout: Path | None, uid: int) -> list[Path]:
    """Where a daemon's control socket may be, most specific first: the daemon's own choice of
    runtime directory (daemon/app_paths.py), with the systemd service's socket before the places any
    user can create (issue 12: a socket planted in ``/tmp`` must not win over the service's)."""
    candidates: list[Path] = []
    if environ.get("RUNTIME_DIRECTORY"):
        candidates.append(Path(environ["RUNTIME_DIRECTORY"].split(":")[0]) / "control.sock")
    if environ.get("XDG_RUNTIME_DIR"):
        candidates.append(Path(environ["XDG_RUNTIME_DIR"]) / "arbord" / "control.sock")
    candidates.append(SYSTEMD_SOCKET)
    candidates.append(cwd / "run" / "control.sock")
    if checkout is not None:
        candidates.append(checkout / "run" / "control.sock")
    candidates.append(Path("/tmp") / f"arbord-{uid}" / "control.sock")
    return list(dict.fromkeys(candidates))


def default_socket_path(
    environ: Mapping[str, str], cwd: Path, checkout: Path | None = None, uid: int | None = None
) -> Path:
    """Where the daemon's control socket is when ``--socket`` is not given.

    ``$ARBORD_SOCKET`` if set; else the first of ``socket_candidates`` that exists:
    ``$RUNTIME_DIRECTORY/control.sock`` (under systemd), ``$XDG_RUNTIME_DIR/arbord/control.sock``,
    ``/run/arbord/control.sock`` (the service), ``run/control.sock`` under the working directory or
    the checkout arbord runs from (``make run``), ``/tmp/arbord-<uid>/control.sock``; else the first
    candidate, for the "not running" message. A candidate whose directory this user may not search
    counts as existing: connecting to it then says "permission denied" (exit 4), not "not running".
    """
    if environ.get("ARBORD_SOCKET"):
        return Path(environ["ARBORD_SOCKET"])
    candidates = socket_candidates(
        environ, cwd, source_checkout() if checkout is None else checkout, os.getuid() if uid is None else uid
    )
    for candidate in candidates:
        try:
            os.lstat(candidate)
        except PermissionError:
            return candidate  # there may be a daemon there, one we may not talk to
        except OSError:
            continue
        return candidate
    return candidates[0]
