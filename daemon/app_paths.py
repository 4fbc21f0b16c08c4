"""Where the daemon keeps its sockets: choosing and creating the runtime directory.

The choice, first match wins (so ``make run`` works without root, and systemd's choice is honoured):

1. ``[daemon] runtime_dir`` in the configuration;
2. ``$RUNTIME_DIRECTORY`` (set by systemd from ``RuntimeDirectory=arbord``);
3. ``$XDG_RUNTIME_DIR/arbord`` (a desktop or ``loginctl`` session);
4. ``run/`` in the source checkout the daemon runs from;
5. ``/tmp/arbord-<uid>``.

>>> from daemon.settings import Settings
>>> choose_runtime_dir(Settings(), {"RUNTIME_DIRECTORY": "/run/arbord"}, checkout=None, uid=0)
PosixPath('/run/arbord')
>>> choose_runtime_dir(Settings(), {"XDG_RUNTIME_DIR": "/run/user/1000"}, checkout=None, uid=1000)
PosixPath('/run/user/1000/arbord')
>>> choose_runtime_dir(Settings(), {}, checkout=None, uid=1000)
PosixPath('/tmp/arbord-1000')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from daemon.console.component import CONSOLE
from daemon.control.component import CONTROL
from daemon.control.peer import AccessPolicy
from daemon.ctl.discovery import source_checkout
from daemon.errors import ConfigError
from daemon.sections import SettingsBase

__all__ = [
    "RuntimePaths",
    "choose_runtime_dir",
    "prepare_runtime_dir",
    "resolve_paths",
    "runtime_dir_gid",
    "runtime_dir_mode",
    "source_checkout",
]


@dataclass(frozen=True, slots=True)
class RuntimePaths:
    """The runtime directory and the sockets in it, checked against the ``sun_path`` limit."""

    runtime_dir: Path
    control_socket: Path
    console_socket: Path | None


def choose_runtime_dir(
    settings: SettingsBase, environ: Mapping[str, str], checkout: Path | None, uid: int
) -> Path:
    """The runtime directory per the order in the module docstring (absolute)."""
    if settings.daemon.runtime_dir is not None:
        return settings.daemon.runtime_dir.absolute()
    if environ.get("RUNTIME_DIRECTORY"):
        # systemd may list several directories separated by ':'; ours is the first.
        return Path(environ["RUNTIME_DIRECTORY"].split(":")[0]).absolute()
    if environ.get("XDG_RUNTIME_DIR"):
        return Path(environ["XDG_RUNTIME_DIR"]).absolute() / "arbord"
    if checkout is not None:
        return checkout / "run"
    return Path("/tmp") / f"arbord-{uid}"


def resolve_paths(settings: SettingsBase, environ: Mapping[str, str]) -> RuntimePaths:
    """The runtime paths for ``settings``; a socket path over ``sun_path`` is a ``ConfigError``."""
    runtime_dir = choose_runtime_dir(settings, environ, source_checkout(), os.getuid())
    problems: list[str] = []
    control = console = None
    try:
        control = CONTROL.of(settings).socket_path(runtime_dir)
    except ValueError as error:
        problems.append(f"control.socket: {error}")
    console_settings = CONSOLE.of(settings)
    if console_settings.enabled and not console_settings.uses_tcp:
        try:
            console = console_settings.socket_path(runtime_dir)
        except ValueError as error:
            problems.append(f"console.socket: {error}")
    if problems or control is None:
        raise ConfigError(problems)
    return RuntimePaths(runtime_dir, control, console)


def runtime_dir_mode(settings: SettingsBase) -> int:
    """0700; 0710 when ``[control] group`` may connect (its members must traverse the directory)."""
    return 0o710 if CONTROL.of(settings).group is not None else 0o700


def runtime_dir_gid(settings: SettingsBase) -> int | None:
    """The gid of ``[control] group`` (None: no group, or one that does not exist, which the control
    server refuses at start with its name)."""
    group = CONTROL.of(settings).group
    if group is None:
        return None
    try:
        return AccessPolicy.for_group(group).group_gid
    except LookupError:
        return None


def prepare_runtime_dir(path: Path, mode: int = 0o700, gid: int | None = None) -> None:
    """Create ``path`` (and missing parents) with ``mode`` whatever the umask, given to group ``gid``
    when one is named (``[control] group``: its members traverse the directory to reach the socket;
    a directory the daemon creates with the daemon's own group would shut them out).

    Anything already at ``path`` is left as it is, and never followed: the control server examines it
    with ``lstat`` and refuses a symbolic link, a directory others can write to, or one another uid
    owns (or under a directory another uid owns), with a message naming it
    (daemon/control/unix_socket.py).
    """
    try:
        os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        path.mkdir(mode=mode)
    except FileExistsError:
        return
    os.chmod(path, mode)  # mkdir's mode is masked by the umask
    if gid is not None:
        os.chown(path, -1, gid)
