"""``repl``: a Python prompt inside the daemon, opt-in, on the owner-only Unix socket only.

On the console's Unix socket the peer is checked to be the daemon's uid or root, so a Python prompt
grants nothing the peer does not already hold (it could attach a debugger, or edit the code). It is
still off unless ``[console] repl = true``, never offered on TCP (any local user reaches a loopback
port), refused again here for any other uid, and every session is logged with the peer's uid and
pid (docs/console.md, "The Python prompt").

The code typed runs on the daemon's event loop, one statement at a time, top-level ``await``
allowed, with helpers already imported (``ReplSession.helpers``). What it prints, and the value of a
last expression, come back as text; an exception comes back as its traceback and never reaches the
daemon:

>>> import asyncio
>>> async def demo() -> list[str]:
...     repl = ReplSession({"answer": 42})
...     return [
...         await repl.run("answer + 1"),
...         await repl.run("print('hi'); await asyncio.sleep(0)"),
...         (await repl.run("1 / 0")).splitlines()[-1],
...         await repl.run("_ * 2"),
...     ]
>>> asyncio.run(demo())
['43\\n', 'hi\\n', 'ZeroDivisionError: division by zero', '86\\n']
"""

from __future__ import annotations

import ast
import asyncio
import codeop
import inspect
import io
import logging
import os
import pydoc
import traceback
from collections.abc import Mapping
from typing import Any, Final, TextIO

from prompt_toolkit import PromptSession

from daemon.cache import cache_named
from daemon.console.commands import COMMAND_TIMEOUT, ConsoleContext, invoke
from daemon.control.peer import PeerCredentials
from daemon.registry import REGISTRY_NAME, registry_named
from daemon.verbs.render import render_result
from supervisor import call, cast, registered_names, tables, whereis

__all__ = ["ReplSession", "may_use_repl", "run_repl"]

log = logging.getLogger("daemon.console")

FILENAME: Final = "<console>"
_VALUE: Final = "__arbord_repl_value__"  # where the value of a last expression is put

BANNER: Final = (
    "Python prompt in the daemon (its event loop; top-level await works). Ctrl-D returns to the console.\n"
    "Helpers: whereis, call, cast, registered_names, root, daemon, settings, tables, table(name),\n"
    "registry(), cache(name), await tree(path), await verb(method, **params), asyncio.\n"
    "Code that blocks blocks the daemon."
)


def may_use_repl(peer: PeerCredentials | None) -> bool:
    """Whether ``peer`` may have the prompt: a Unix-socket peer that is the daemon's uid or root."""
    return peer is not None and peer.uid in (os.geteuid(), 0)


class _Exit:
    """``exit`` and ``quit`` at the prompt: say how to leave instead of raising ``SystemExit`` in the
    daemon's loop."""

    def __repr__(self) -> str:
        return "Use Ctrl-D to return to the console."

    def __call__(self, *args: object) -> None:
        raise RuntimeError("exit() would stop the daemon; use Ctrl-D to return to the console")


class ReplSession:
    """One prompt's namespace and output; ``run`` executes a statement on the daemon's loop."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self._output = io.StringIO()
        self.namespace: dict[str, Any] = {
            "__name__": "__console__",
            "__builtins__": __builtins__,
            "print": self._print,
            "help": self._help,
            "exit": _Exit(),
            "quit": _Exit(),
            "asyncio": asyncio,
            **namespace,
        }

    @staticmethod
    def helpers(context: ConsoleContext) -> dict[str, Any]:
        """What the prompt starts with: the daemon, its tree, registry, caches and tables."""
        daemon = context.daemon

        async def verb(method: str, **params: Any) -> Any:
            """Run control method ``method`` (as ``arborctl`` would) and return its result."""
            return await invoke(context, method, params)

        async def tree(path: str = "root") -> str:
            """The supervision tree (or the subtree at ``path``), drawn."""
            return render_result("tree", await invoke(context, "tree", {"path": path}))

        return {
            "daemon": daemon,
            "root": daemon.root,
            "settings": daemon.settings,
            "whereis": whereis,
            "call": call,
            "cast": cast,
            "registered_names": registered_names,
            "tables": tables,
            "table": tables.whereis_table,
            "registry": lambda: registry_named(REGISTRY_NAME),
            "cache": cache_named,
            "tree": tree,
            "verb": verb,
        }

    def _print(self, *values: object, sep: str | None = " ", end: str | None = "\n", **_: object) -> None:
        print(*values, sep=sep, end=end, file=self._output)

    def _help(self, thing: object = None) -> None:
        if thing is None:
            self._print(BANNER)
        else:
            self._print(pydoc.plain(pydoc.render_doc(thing)))

    async def run(self, source: str) -> str:
        """Execute ``source`` in this namespace (on the running loop); what it printed, then the
        ``repr`` of a last expression that is not None (kept as ``_``), or the traceback."""
        try:
            module = ast.parse(source, FILENAME, "exec")
            last = module.body[-1] if module.body else None
            if isinstance(last, ast.Expr):
                target = ast.Name(_VALUE, ast.Store())
                module.body[-1] = ast.copy_location(ast.Assign([target], last.value), last)
                ast.fix_missing_locations(module)
            code = compile(module, FILENAME, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            outcome = eval(code, self.namespace)  # the prompt is the point
            if code.co_flags & inspect.CO_COROUTINE:
                await outcome
            value = self.namespace.pop(_VALUE, None)
            if value is not None:
                self.namespace["_"] = value
                self._print(repr(value))
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # SystemExit too: nothing typed here may stop the daemon
            self.namespace.pop(_VALUE, None)
            # Our own frame is not part of what the user typed.
            shown = error.with_traceback(error.__traceback__.tb_next if error.__traceback__ else None)
            self._output.write("".join(traceback.format_exception(shown)))
        text = self._output.getvalue()
        self._output.seek(0)
        self._output.truncate()
        return text


def _compiler() -> codeop.CommandCompiler:
    """Tells a complete statement from one that needs more lines, top-level ``await`` allowed."""
    compiler = codeop.CommandCompiler()
    compiler.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    return compiler


async def run_repl(
    repl: ReplSession,
    daemon_loop: asyncio.AbstractEventLoop,
    stdout: TextIO,
    peer: PeerCredentials | None,
) -> None:
    """The prompt, in the console's UI thread: read statements, run each on ``daemon_loop``.

    Refuses (and logs) a TCP session or another uid; logs the session's start and end with the peer.
    """
    if peer is None or not may_use_repl(peer):
        who = "a TCP session" if peer is None else f"pid {peer.pid} uid {peer.uid}"
        log.warning("console: Python prompt refused for %s", who)
        print(
            "repl: refused: only the daemon's uid and root get a Python prompt, on the Unix socket",
            file=stdout,
        )
        return
    log.warning("console: Python prompt opened for pid %d uid %d", peer.pid, peer.uid)
    print(BANNER, file=stdout)
    session: PromptSession[str] = PromptSession()
    compiler = _compiler()
    lines: list[str] = []
    statements = 0
    try:
        while True:
            try:
                lines.append(await session.prompt_async("... " if lines else ">>> "))
            except KeyboardInterrupt:
                lines.clear()
                print("KeyboardInterrupt", file=stdout)
                continue
            except EOFError:
                return
            source = "\n".join(lines)
            try:
                if compiler(source, FILENAME, "single") is None:
                    continue  # more lines to come
            except (SyntaxError, ValueError, OverflowError) as error:
                lines.clear()
                print("".join(traceback.format_exception_only(error)), end="", file=stdout)
                continue
            lines.clear()
            if not source.strip():
                continue
            statements += 1
            log.debug("console: pid %d uid %d runs %r", peer.pid, peer.uid, source)
            future = asyncio.run_coroutine_threadsafe(repl.run(source), daemon_loop)
            try:
                async with asyncio.timeout(COMMAND_TIMEOUT):
                    shown: str = await asyncio.wrap_future(future)
                    print(shown, end="", file=stdout)
            except TimeoutError:
                print(f"no result after {COMMAND_TIMEOUT:g} s: cancelled", file=stdout)
            finally:
                future.cancel()
    finally:
        log.info(
            "console: Python prompt closed for pid %d uid %d (%d statements)", peer.pid, peer.uid, statements
        )
