"""The console as a supervised server: it owns an ``ArbordMonitor`` for as long as it runs.

Its start fails (``ConsoleError``) if the console cannot listen, so a daemon configured with a console
never runs without it; a disabled console starts nothing (``Ignore``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from daemon.console.commands import ConsoleContext, build_cli
from daemon.console.config import ConsoleSettings
from daemon.console.monitor import ArbordMonitor
from daemon.control.unix_socket import check_directory
from daemon.errors import ConsoleError, ControlSocketError
from daemon.verbs.method import DaemonContext, VerbTable
from supervisor import Caller, Exit, Ignore, Server

__all__ = ["ConsoleServer"]

log = logging.getLogger("daemon.console")


class ConsoleServer(Server):
    """Serves the aiomonitor console; ``call("address")`` says where it listens."""

    async def init(
        self,
        settings: ConsoleSettings,
        runtime_dir: Path,
        context: DaemonContext,
        verbs: VerbTable,
    ) -> None:
        if not settings.enabled:
            raise Ignore()
        loop = asyncio.get_running_loop()
        cli = build_cli(verbs.methods, repl=settings.repl)
        console_context = ConsoleContext(context, verbs)
        if settings.tcp_host is not None and settings.tcp_port is not None:
            monitor = ArbordMonitor(
                loop, cli, tcp=(settings.tcp_host, settings.tcp_port), context=console_context
            )
        else:
            try:
                path = settings.socket_path(runtime_dir)
                check_directory(path.parent)
            except (ValueError, ControlSocketError) as error:
                raise ConsoleError(str(error)) from None
            monitor = ArbordMonitor(loop, cli, unix_path=path, context=console_context, repl=settings.repl)
        await monitor.open()
        self._monitor = monitor
        if settings.tcp_host is not None:
            log.warning(
                "UNAUTHENTICATED console on tcp://%s: any local user who connects can run code as uid %d "
                "(docs/console.md); prefer the Unix socket",
                monitor.address,
                os.geteuid(),
            )
        else:
            log.info("console listening on %s (arborctl console)", monitor.address)
            if settings.repl:
                log.warning("console: the Python prompt (repl) is offered to uid %d and root", os.geteuid())

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        if request == "address":
            return self._monitor.address
        raise ValueError(f"unknown request {request!r}")

    async def terminate(self, reason: Exit) -> None:
        await self._monitor.aclose()

    def _linked_exit(self, reason: Exit) -> None:
        # Killed: no terminate. Ask the UI thread to stop; it is a daemon thread, so it never
        # holds the process up even if it does not get to.
        monitor = getattr(self, "_monitor", None)
        ui_loop = getattr(monitor, "_ui_loop", None)
        if monitor is not None and ui_loop is not None and not ui_loop.is_closed():
            ui_loop.call_soon_threadsafe(monitor._ui_forever_future.cancel)
