"""The aiomonitor console: off by default; when on, an owner-only Unix socket (``arborctl console``).

``CONSOLE`` (daemon/console/component.py) adds ``console_child_spec`` to the tree when ``[console]
enabled``; ``arborctl console`` attaches to it (daemon/ctl/attach.py); docs/console.md
explains the threat model (the console is code execution as the daemon's uid for whoever reaches it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from daemon.console.config import ConsoleSettings
from daemon.verbs.method import DaemonContext, VerbTable
from supervisor import ChildSpec

__all__ = ["CONSOLE_SERVER_NAME", "ConsoleSettings", "console_child_spec"]

CONSOLE_SERVER_NAME: Final = "arbord.console"


def console_child_spec(
    settings: ConsoleSettings,
    runtime_dir: Path,
    context: DaemonContext,
    verbs: VerbTable,
) -> ChildSpec:
    """The console server as a child of the root, registered as ``arbord.console``.

    A disabled console's server ignores its start (nothing listens). Its start raises (as
    ``StartFailed`` from the tree) ``daemon.errors.ConsoleError`` when the console cannot listen.
    """
    # Imported here, not at the top: the server loads aiomonitor (~270 ms), which a daemon whose
    # console is off must not pay at every start (bench/bench_daemon.py, start -> READY).
    from daemon.console.server import ConsoleServer

    return ChildSpec(
        "console",
        ConsoleServer,
        args=(settings, runtime_dir, context, verbs),
        shutdown=15.0,
        name=CONSOLE_SERVER_NAME,
    )
