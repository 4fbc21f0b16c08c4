"""The aiomonitor console: off by default; when on, an owner-only Unix socket (``arborctl console``).

``console_child_spec`` is what the tree assembly adds when ``[console] enabled``; docs/console.md
explains the threat model (the console is code execution as the daemon's uid for whoever reaches it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from daemon.console.config import ConsoleSettings
from daemon.control.methods import DaemonContext, Method
from supervisor import ChildSpec

__all__ = ["CONSOLE_SERVER_NAME", "ConsoleSettings", "console_child_spec"]

CONSOLE_SERVER_NAME: Final = "arbord.console"


def console_child_spec(
    settings: ConsoleSettings,
    runtime_dir: Path,
    context: DaemonContext,
    methods: Mapping[str, Method],
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
        args=(settings, runtime_dir, context, dict(methods)),
        shutdown=15.0,
        name=CONSOLE_SERVER_NAME,
    )
