"""``ArbordMonitor``: aiomonitor's ``Monitor`` without its network listeners.

Stock aiomonitor 0.7.1 always opens an unauthenticated telnet UI and web UI on TCP, and its
``start()`` blocks the event loop forever if a bind fails (docs/console.md, "Why a subclass"). This
subclass replaces ``_ui_main_async``: no web UI, the telnet UI on an owner-only Unix socket (or
loopback TCP when configured), aiomonitor's REPL command (a TCP port) removed and, when asked for,
arbord's own ``repl`` on the Unix socket only (daemon/console/repl.py), and a start that reports a
failed bind as ``ConsoleError`` instead of hanging. Commands are this monitor's own click group
(``self.cli``), so two monitors never share state through aiomonitor's module-level ``monitor_cli``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import shlex
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import click
import janus
from aiomonitor import Monitor
from aiomonitor.context import command_done, current_monitor, current_stdout
from aiomonitor.termui.commands import ClickCompleter, print_fail
from prompt_toolkit import PromptSession
from prompt_toolkit.contrib.telnet.server import TelnetConnection
from prompt_toolkit.formatted_text import FormattedText

from daemon.console.repl import ReplSession, run_repl
from daemon.console.telnet import LoopbackTelnetServer, UnixTelnetServer, peer_of
from daemon.control.peer import AccessPolicy
from daemon.errors import ConsoleError

__all__ = ["ArbordMonitor"]

log = logging.getLogger("daemon.console")

_AIOMONITOR_LOG: Final = "aiomonitor.monitor"
_AIOMONITOR_START: Final = "Starting aiomonitor at"


@contextlib.contextmanager
def _without_record(logger_name: str, prefix: str) -> Iterator[None]:
    """Drop the records of ``logger_name`` whose message starts with ``prefix`` while inside."""

    def keep(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(prefix)

    logger = logging.getLogger(logger_name)
    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


START_TIMEOUT: Final = 10.0
"""Seconds the UI thread gets to bind; past it the start fails rather than hang."""


class ArbordMonitor(Monitor):  # type: ignore[misc]
    """An aiomonitor serving ``cli`` on ``unix_path`` (or ``tcp`` = (host, port)), never on the web."""

    _started: bool
    _closed: bool
    _termination_info_queue: janus.Queue[Any]
    _cancellation_chain_queue: janus.Queue[Any]

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        cli: click.Group,
        *,
        unix_path: Path | None = None,
        tcp: tuple[str, int] | None = None,
        policy: AccessPolicy | None = None,
        context: Any = None,
        repl: bool = False,
    ) -> None:
        if (unix_path is None) == (tcp is None):
            raise ValueError("serve the console on exactly one of a Unix socket or a TCP address")
        if repl and tcp is not None:
            raise ValueError("the Python prompt (repl) is never offered on TCP")
        host, port = tcp if tcp is not None else ("unix", 0)
        # aiomonitor's constructor logs "Starting aiomonitor at telnet://unix:0 and http://unix:0":
        # wrong on both counts here (no web UI; a Unix socket), and an operator reading it would look
        # for a port that is not open. ConsoleServer logs the real address once it listens.
        with _without_record(_AIOMONITOR_LOG, _AIOMONITOR_START):
            super().__init__(
                loop,
                host=host,
                termui_port=port,
                webui_port=0,
                console_port=0,
                console_enabled=False,
                hook_task_factory=False,
            )
        self.cli = cli
        self.context = context
        """What the console's commands reach the daemon through (a ``ConsoleContext``)."""
        self.prompt = "arbord >>> "
        self.repl = repl
        """Whether ``repl`` (a Python prompt, for the daemon's uid and root) is offered."""
        self._unix_path = unix_path
        self._policy = policy or AccessPolicy.for_group(None)
        self._start_error: BaseException | None = None
        self._telnet: UnixTelnetServer | LoopbackTelnetServer | None = None

    @property
    def address(self) -> str:
        """Where the console listens: the socket path or ``host:port`` (the bound port)."""
        if isinstance(self._telnet, LoopbackTelnetServer) and self._telnet.bound is not None:
            return f"{self._telnet.bound[0]}:{self._telnet.bound[1]}"
        return str(self._unix_path) if self._unix_path is not None else f"{self._host}:{self._termui_port}"

    # --- starting and closing, without blocking the daemon's loop ---------------------------------

    async def open(self) -> None:
        """Start the UI thread and wait (off the loop) until it listens; ``ConsoleError`` if it cannot."""
        assert not self._started
        self._started = True
        self._original_task_factory = self._monitored_loop.get_task_factory()
        self._event_loop_thread_id = threading.get_ident()
        self._ui_thread.start()
        ready = await asyncio.to_thread(self._ui_started.wait, START_TIMEOUT)
        if self._start_error is not None or not ready:
            await self.aclose()
            reason = self._start_error or TimeoutError(f"no listener after {START_TIMEOUT} s")
            raise ConsoleError(f"the console cannot listen on {self.address}: {reason}") from None

    async def aclose(self) -> None:
        """Stop the UI thread and its listener (idempotent); waits for the thread off the loop."""
        if not self._started or self._closed:
            return
        self._closed = True
        ui_loop = getattr(self, "_ui_loop", None)
        if ui_loop is not None and not ui_loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the UI loop already ended
                ui_loop.call_soon_threadsafe(self._ui_forever_future.cancel)
        await asyncio.to_thread(self._ui_thread.join, START_TIMEOUT)

    # --- the UI thread ----------------------------------------------------------------------------

    async def _ui_main_async(self) -> None:
        try:
            await self._ui_serve()
        except BaseException as error:  # reported by open(), never left to kill the thread silently
            self._start_error = error
        finally:
            self._ui_started.set()

    async def _ui_serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._termination_info_queue = janus.Queue()
        self._cancellation_chain_queue = janus.Queue()
        self._ui_loop = loop
        self._ui_forever_future = loop.create_future()
        self._ui_termination_handler_task = loop.create_task(self._ui_handle_termination_updates())
        self._ui_cancellation_handler_task = loop.create_task(self._ui_handle_cancellation_updates())
        interact = functools.partial(_interact, self)
        if self._unix_path is not None:
            self._telnet = UnixTelnetServer(self._unix_path, self._policy, interact=interact)
        else:
            self._telnet = LoopbackTelnetServer(host=self._host, port=self._termui_port, interact=interact)
        listening: asyncio.Future[None] = loop.create_future()
        server_task = loop.create_task(self._telnet.run(ready_cb=lambda: listening.set_result(None)))
        try:
            await asyncio.wait({listening, server_task}, return_when=asyncio.FIRST_COMPLETED)
            if server_task.done():
                server_task.result()  # the bind failed: raise it for open() to report
            self._ui_started.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ui_forever_future
        finally:
            tasks = {*self._termui_tasks}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for handler in (self._ui_termination_handler_task, self._ui_cancellation_handler_task):
                handler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await handler
            server_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await server_task
            if isinstance(self._telnet, UnixTelnetServer):
                self._telnet.close_listener()


async def _interact(monitor: ArbordMonitor, connection: TelnetConnection) -> None:
    """One console session: aiomonitor's ``interact``, reading commands from ``monitor.cli``."""
    stdout = connection.stdout
    print("\narbord console: type help for the commands, exit (or Ctrl-D) to leave\n", file=stdout)
    monitor_token = current_monitor.set(monitor)
    stdout_token = current_stdout.set(stdout)
    session: PromptSession[str] = PromptSession(
        completer=ClickCompleter(monitor.cli), complete_while_typing=False
    )
    try:
        while True:
            try:
                line = (await session.prompt_async(FormattedText([("#5fd7ff bold", monitor.prompt)]))).strip()
            except KeyboardInterrupt:
                print_fail("To leave, press Ctrl-D or type 'exit'.")
                continue
            except (EOFError, asyncio.CancelledError):
                return
            if not line:
                continue
            if line == "repl" and monitor.repl:
                # Not a click command: the prompt needs this session's connection (its peer).
                repl = ReplSession(ReplSession.helpers(monitor.context))
                await run_repl(repl, monitor._monitored_loop, stdout, peer_of(connection))
                continue
            done = asyncio.Event()
            done_token = command_done.set(done)
            try:
                contextvars.copy_context().run(
                    monitor.cli.main,
                    shlex.split(line),
                    prog_name="",
                    obj=monitor,
                    standalone_mode=False,
                    max_content_width=session.output.get_size().columns,
                )
                await done.wait()
            except (click.ClickException, ValueError) as error:
                print_fail(str(error))
                done.set()
            except asyncio.CancelledError:
                return  # `exit`
            except Exception:
                log.exception("console command %r failed", line)
                print_fail(traceback.format_exc())
                done.set()
            finally:
                command_done.reset(done_token)
    finally:
        current_stdout.reset(stdout_token)
        current_monitor.reset(monitor_token)
