"""The console's commands: aiomonitor's task tools plus ``tree``, ``children``, ``restart``, ``call``
and one command per group of control methods (``registry``, ``cache``, ``tables``, ...).

Commands run in aiomonitor's UI thread; each daemon operation is sent to the daemon's loop with
``run_coroutine_threadsafe`` and runs the same handler as the control method of that name, so a verb
behaves the same from ``arborctl`` and from the console. aiomonitor's ``console`` (a Python REPL
served on a TCP port) is left out; ``repl``, arbord's own prompt, is listed when ``[console] repl``
is on and runs in the session itself (daemon/console/repl.py).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar, cast

import click
from aiomonitor.termui import commands as aiomonitor_commands
from aiomonitor.termui.commands import AliasGroupMixin, monitor_cli, print_fail
from pydantic import ValidationError

from daemon.verbs.method import DaemonContext, Method, MethodContext, VerbTable
from daemon.verbs.render import render_result
from daemon.verbs.words import ALIASES, UsageError, build_params, param_options

__all__ = ["ConsoleContext", "build_cli"]

COMMAND_TIMEOUT: Final = 30.0
_LEFT_OUT: Final = frozenset({"console", "help"})  # the REPL; help is rebuilt to list our commands
_CORE_PREFIXES: Final = frozenset({"config"})  # dotted core methods not worth a console command


_F = TypeVar("_F", bound=Callable[..., Any])


def custom_help_option(function: _F) -> _F:
    """aiomonitor's ``--help`` that still signals the end of the command (typed)."""
    return cast(_F, aiomonitor_commands.custom_help_option(function))


def auto_command_done(function: _F) -> _F:
    """aiomonitor's end-of-command signal for a synchronous command (typed)."""
    return cast(_F, aiomonitor_commands.auto_command_done(function))


def auto_async_command_done(function: _F) -> _F:
    """aiomonitor's end-of-command signal for an asynchronous command (typed)."""
    return cast(_F, aiomonitor_commands.auto_async_command_done(function))


@dataclass(frozen=True, slots=True)
class ConsoleContext:
    """What the console's commands reach: the daemon and the verbs it serves."""

    daemon: DaemonContext
    verbs: VerbTable
    next_id: Callable[[], int] = field(default_factory=lambda: itertools.count(1).__next__)


@dataclass(frozen=True, slots=True)
class _ConsoleConnection:
    """The ``Connection`` a console command's handler sees: the task running it on the daemon loop."""

    id: int
    task: asyncio.Task[Any]
    peer_uid: int | None
    peer_pid: int | None
    methods: Mapping[str, Method]


async def invoke(context: ConsoleContext, name: str, params: Mapping[str, Any]) -> Any:
    """Run control method ``name`` on the daemon's loop (the caller's loop); a stream is collected."""
    method = context.verbs.methods[name]
    task = asyncio.current_task()
    assert task is not None
    connection = _ConsoleConnection(context.next_id(), task, os.geteuid(), None, context.verbs.methods)
    method_context = MethodContext(connection=connection, daemon=context.daemon)
    validated = method.params.model_validate(dict(params))
    outcome = method.handler(validated, method_context)
    if isinstance(outcome, AsyncIterator):
        return [item async for item in outcome]
    assert isinstance(outcome, Awaitable)
    return await outcome


def _on_daemon(
    ctx: click.Context, work: Callable[[ConsoleContext], Coroutine[Any, Any, Any]], show: Callable[[Any], str]
) -> None:
    """Run ``work`` on the daemon's loop from a command, print ``show(result)`` or the error."""
    monitor = ctx.obj

    @auto_async_command_done
    async def command(ctx: click.Context) -> None:
        future = asyncio.run_coroutine_threadsafe(work(monitor.context), monitor._monitored_loop)
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                result = await asyncio.wrap_future(future)
        except ValidationError as error:
            print_fail(f"invalid params: {error.error_count()} problem(s): {error.errors()[0]['msg']}")
        except (UsageError, KeyError) as error:
            print_fail(str(error))
        except Exception as error:
            print_fail(monitor.context.verbs.error_for(error)[1])
        else:
            click.echo(show(result))
        finally:
            future.cancel()  # gave up (timeout, session closed): stop the work on the daemon too

    task = monitor._ui_loop.create_task(command(ctx))
    monitor._termui_tasks.add(task)


def _method_command(prefix: str, methods: Mapping[str, Method]) -> click.Command:
    actions = sorted(name.split(".", 1)[1] for name in methods if name.startswith(prefix + "."))

    bare = ALIASES.get(prefix, prefix)  # ``spans`` is ``spans.list``, as in ``arborctl``

    @click.command(
        name=prefix,
        help=f"{prefix} methods: {', '.join(actions)} (ARGS: values, key=value or --key VALUE)",
        context_settings={"ignore_unknown_options": True},
    )
    @click.argument("action", required=False)
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    @custom_help_option
    @click.pass_context
    def command(ctx: click.Context, action: str | None, args: tuple[str, ...]) -> None:
        if (action is None or f"{prefix}.{action}" not in methods) and bare in methods:
            # The group is a method too (``metrics``, ``spans``): its words are the bare method's.
            name, args = bare, args if action is None else (action, *args)
        elif action is None or f"{prefix}.{action}" not in methods:
            print_fail(f"{prefix}: choose one of {', '.join(actions)}")
            _done(ctx)
            return
        else:
            name = f"{prefix}.{action}"
        schema = methods[name].params.model_json_schema()

        async def work(context: ConsoleContext) -> Any:
            return await invoke(context, name, build_params(param_options(args, ()), schema))

        _on_daemon(ctx, work, lambda result: render_result(name, result))

    return command


@auto_command_done
def _done(ctx: click.Context) -> None:
    """Signal the session that a command which printed synchronously has finished."""


def build_cli(methods: Mapping[str, Method], *, repl: bool = False) -> click.Group:
    """A fresh click group: aiomonitor's task commands, the tree commands, one per method group, and
    ``repl`` when it is offered (its help; the session runs the prompt itself)."""

    cli: click.Group = AliasGroupMixin(
        name="arbord", add_help_option=False, help="Type a command; COMMAND --help explains it."
    )

    for name, command in monitor_cli.commands.items():
        if name not in _LEFT_OUT:
            cli.add_command(command, name)
    for alias, name in monitor_cli._aliases.items():
        if name not in _LEFT_OUT:
            cli._aliases[alias] = name  # type: ignore[attr-defined]
            cli._commands.setdefault(name, []).append(alias)  # type: ignore[attr-defined]

    @cli.command(name="help", aliases=["?", "h"])
    @custom_help_option
    @auto_command_done
    def do_help(ctx: click.Context) -> None:
        """Show the list of commands"""
        click.echo(cli.get_help(ctx))

    @cli.command(name="tree")
    @click.argument("path", default="root")
    @custom_help_option
    def do_tree(ctx: click.Context, path: str) -> None:
        """Draw the supervision tree (or the subtree at PATH)"""
        _on_daemon(ctx, lambda c: invoke(c, "tree", {"path": path}), lambda r: render_result("tree", r))

    @cli.command(name="children")
    @click.argument("path", default="root")
    @custom_help_option
    def do_children(ctx: click.Context, path: str) -> None:
        """List a supervisor's children: state, restarts, uptime"""
        _on_daemon(
            ctx,
            lambda c: invoke(c, "which_children", {"path": path}),
            lambda r: render_result("which_children", r),
        )

    @cli.command(name="restart")
    @click.argument("path")
    @custom_help_option
    def do_restart(ctx: click.Context, path: str) -> None:
        """Restart the child at PATH (terminate, then start it again)"""

        async def work(context: ConsoleContext) -> Any:
            await invoke(context, "terminate_child", {"path": path})
            return await invoke(context, "restart_child", {"path": path})

        _on_daemon(ctx, work, lambda r: f"restarted {path}")

    @cli.command(name="call")
    @click.argument("method")
    @click.argument("args", nargs=-1)
    @custom_help_option
    def do_call(ctx: click.Context, method: str, args: tuple[str, ...]) -> None:
        """Call any control method: call METHOD [value | key=value ...]"""

        async def work(context: ConsoleContext) -> Any:
            if method not in context.verbs.methods:
                raise UsageError(f"no method {method!r}")
            schema = context.verbs.methods[method].params.model_json_schema()
            return await invoke(context, method, build_params(args, schema))

        _on_daemon(ctx, work, lambda r: render_result(method, r))

    if repl:

        @cli.command(name="repl")
        @custom_help_option
        @auto_command_done
        def do_repl(ctx: click.Context) -> None:
            """A Python prompt in the daemon (its uid or root, Unix socket only; logged)"""
            print_fail("repl takes no arguments")

    prefixes = sorted({name.split(".", 1)[0] for name in methods if "." in name} - _CORE_PREFIXES)
    for prefix in prefixes:
        if prefix not in cli.commands:
            cli.add_command(_method_command(prefix, methods))
    return cli
