"""Where the daemon keeps what must survive it (the flags' database): the state directory.

The choice, first match wins (as the runtime directory's, ``daemon/app_paths.py``):

1. ``$STATE_DIRECTORY`` (set by systemd from ``StateDirectory=arbord``; the first of a list);
2. ``$XDG_STATE_HOME/arbord``;
3. ``state/`` in the source checkout the daemon runs from;
4. ``~/.local/state/arbord`` (the XDG default).

``[flags] path`` names the database itself and overrides all of these.

>>> choose_state_dir({"STATE_DIRECTORY": "/var/lib/arbord"}, checkout=None)
PosixPath('/var/lib/arbord')
>>> choose_state_dir({"XDG_STATE_HOME": "/home/ann/.state"}, checkout=None)
PosixPath('/home/ann/.state/arbord')
>>> choose_state_dir({}, checkout=Path("/src/arbord"))
PosixPath('/src/arbord/state')
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from daemon.ctl.discovery import source_checkout
from daemon.flags.config import FlagsSettings

__all__ = ["DATABASE_NAME", "choose_state_dir", "database_path"]

DATABASE_NAME: Final = "flags.db"


def choose_state_dir(environ: Mapping[str, str], checkout: Path | None) -> Path:
    """The state directory per the order in the module docstring (absolute)."""
    if environ.get("STATE_DIRECTORY"):
        return Path(environ["STATE_DIRECTORY"].split(":")[0]).absolute()
    if environ.get("XDG_STATE_HOME"):
        return Path(environ["XDG_STATE_HOME"]).absolute() / "arbord"
    if checkout is not None:
        return checkout / "state"
    return Path.home() / ".local" / "state" / "arbord"


def database_path(settings: FlagsSettings, environ: Mapping[str, str]) -> Path:
    """The SQLite database the flags use: ``[flags] path``, else ``flags.db`` in the state directory."""
    if settings.path is not None:
        return settings.path.absolute()
    return choose_state_dir(environ, source_checkout()) / DATABASE_NAME
