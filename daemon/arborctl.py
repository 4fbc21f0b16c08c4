"""``arborctl``: drive a running arbord through its control socket.

    arborctl [--socket PATH] [--json] [--timeout S] VERB [ARG ...] [key=value ...] [--params JSON]

Any method the daemon has is a verb: its name with ``.`` written as a space (``tables dump agents``,
``registry lookup KEY``, ``cache stats default``); ``arborctl methods`` lists them with their params.
Output is for people (a drawn tree, aligned tables) unless ``--json``: one JSON document, or one JSON
line per item of a streamed result. ``arborctl console`` attaches to the console instead.

``--hold`` keeps the connection open after a successful reply, pinging so it never goes idle, until
arborctl gets SIGINT or SIGTERM (exit 0) or the daemon closes it (exit 1). What a connection owns
lives that long: ``arborctl --hold registry register web-1 &`` keeps ``web-1`` registered exactly as
long as that background job runs.

Exit codes: 0 ok, 1 the command failed (an error reply, a refused reload or config), 2 usage, 3 the
daemon is not running (no socket, nobody listening), 4 permission denied.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from daemon.app_paths import source_checkout
from daemon.control.cli_args import UsageError, build_params, resolve_method
from daemon.control.client import ControlClient, ControlReplyError, open_control_client
from daemon.control.render import render_result

__all__ = [
    "EXIT_DENIED",
    "EXIT_ERROR",
    "EXIT_NOT_RUNNING",
    "EXIT_OK",
    "EXIT_USAGE",
    "HOLD_PING_INTERVAL",
    "default_socket_path",
    "main",
    "socket_candidates",
]

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_NOT_RUNNING: Final = 3
EXIT_DENIED: Final = 4

_USAGE_CODES: Final = frozenset({"method_not_found", "invalid_params", "invalid_request"})
# Methods whose result says whether they succeeded: ``{"ok": false}`` exits 1.
_CHECKED: Final = frozenset({"reload", "config.check"})
# Params that name a file on this side: made absolute before the daemon (another cwd) sees them.
_PATH_PARAMS: Final = frozenset({("config.check", "path")})
# How often --hold pings: well inside the control socket's idle timeout (300 s by default).
HOLD_PING_INTERVAL: Final = 30.0


_EPILOG: Final = """\
verbs (any method the daemon has; `arborctl methods` lists them with their params):
  ping | version | status | tree [PATH] | children [PATH] | count [PATH]
  stop PATH | restart PATH | delete PATH | start PATH --params '{"spec": {...}}'
  reload | config show | config check FILE | shutdown
  tables list | tables info NAME | tables dump NAME [chunk=N] [limit=N]
  registry lookup KEY | cache stats [NAME] | ...   console [SOCKET]
  --hold registry register KEY [metadata=JSON]   (registered while arborctl runs)
params: values in order, or key=value (JSON when it parses), or --params JSON
exit codes: 0 ok, 1 command failed, 2 usage, 3 daemon not running, 4 permission denied
"""


SYSTEMD_SOCKET: Final = Path("/run/arbord/control.sock")
"""The control socket of the systemd service (``RuntimeDirectory=arbord``)."""


def socket_candidates(environ: Mapping[str, str], cwd: Path, checkout: Path | None, uid: int) -> list[Path]:
    """Where a daemon's control socket may be, most specific first: the daemon's own choice of
    runtime directory (daemon/app_paths.py), then the systemd service's socket, which an
    operator's shell does not know of (it has no ``$RUNTIME_DIRECTORY``)."""
    candidates: list[Path] = []
    if environ.get("RUNTIME_DIRECTORY"):
        candidates.append(Path(environ["RUNTIME_DIRECTORY"].split(":")[0]) / "control.sock")
    if environ.get("XDG_RUNTIME_DIR"):
        candidates.append(Path(environ["XDG_RUNTIME_DIR"]) / "arbord" / "control.sock")
    candidates.append(cwd / "run" / "control.sock")
    if checkout is not None:
        candidates.append(checkout / "run" / "control.sock")
    candidates += [Path("/tmp") / f"arbord-{uid}" / "control.sock", SYSTEMD_SOCKET]
    return list(dict.fromkeys(candidates))


def default_socket_path(
    environ: Mapping[str, str], cwd: Path, checkout: Path | None = None, uid: int | None = None
) -> Path:
    """Where the daemon's control socket is when ``--socket`` is not given.

    ``$ARBORD_SOCKET`` if set; else the first of ``socket_candidates`` that exists:
    ``$RUNTIME_DIRECTORY/control.sock`` (under systemd), ``$XDG_RUNTIME_DIR/arbord/control.sock``,
    ``run/control.sock`` under the working directory or the checkout arbord runs from (``make
    run``), ``/tmp/arbord-<uid>/control.sock``, ``/run/arbord/control.sock`` (the service); else
    the first candidate, for the "not running" message.
    """
    if environ.get("ARBORD_SOCKET"):
        return Path(environ["ARBORD_SOCKET"])
    candidates = socket_candidates(
        environ, cwd, source_checkout() if checkout is None else checkout, os.getuid() if uid is None else uid
    )
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return candidates[0]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arborctl",
        description="Drive a running arbord through its control socket.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_EPILOG,
    )
    parser.add_argument(
        "--socket",
        type=Path,
        help="the control socket (default: $ARBORD_SOCKET, else the first that exists of "
        "$RUNTIME_DIRECTORY/control.sock, $XDG_RUNTIME_DIR/arbord/control.sock, ./run/control.sock, "
        "the checkout's run/control.sock, /tmp/arbord-<uid>/control.sock, /run/arbord/control.sock)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the reply (30)")
    parser.add_argument("--params", type=json.loads, help="params as a JSON object (merged over the words)")
    parser.add_argument(
        "--hold",
        action="store_true",
        help="after a successful reply keep the connection (and what it registered) until SIGINT/SIGTERM",
    )
    parser.add_argument(
        "verb", nargs="+", help="a method, '.' written as a space: ping, tree, tables dump NAME"
    )
    return parser


class _Output:
    def __init__(self, as_json: bool, out: TextIO, err: TextIO) -> None:
        self.as_json = as_json
        self.out = out
        self.err = err

    def result(self, method: str, result: Any) -> None:
        if self.as_json:
            print(json.dumps(result, indent=2), file=self.out)
        elif result is not None:
            print(render_result(method, result), file=self.out)

    def item(self, method: str, item: Any) -> None:
        if self.as_json:
            print(json.dumps(item, separators=(",", ":")), file=self.out)
        elif isinstance(item, Mapping) and isinstance(item.get("rows"), list):
            for row in item["rows"]:
                print("\t".join(json.dumps(v) if not isinstance(v, str) else v for v in row), file=self.out)
        else:
            print(render_result(method, item), file=self.out)

    def error(self, message: str) -> None:
        print(f"arborctl: {message}", file=self.err)


async def _run(client: ControlClient, words: Sequence[str], extra: Any, output: _Output, cwd: Path) -> int:
    if extra is not None and not isinstance(extra, dict):
        raise UsageError("--params must be a JSON object")
    methods = {m["name"]: m for m in await client.call("methods")}
    if words[0] == "restart":  # as supervisorctl: stop the child if it runs, then start it again
        params = build_params(words[1:], methods["restart_child"]["params"], extra)
        await client.call("terminate_child", params)
        output.result("restart_child", await client.call("restart_child", params))
        return EXIT_OK
    method, args = resolve_method(words, methods)
    params = build_params(args, methods[method]["params"], extra)
    for name, key in _PATH_PARAMS:
        if name == method and isinstance(params.get(key), str):
            params[key] = str(cwd / params[key])  # an absolute one stays as it is
    if methods[method]["streamed"]:
        async for item in client.stream(method, params):
            output.item(method, item)
        return EXIT_OK
    result = await client.call(method, params)
    output.result(method, result)
    if method in _CHECKED and isinstance(result, Mapping) and result.get("ok") is False:
        if not output.as_json:
            for problem in result.get("errors", []):
                output.error(str(problem))
        return EXIT_ERROR
    return EXIT_OK


async def _main(args: argparse.Namespace, output: _Output) -> int:
    cwd = Path.cwd()
    path = args.socket or default_socket_path(os.environ, cwd)
    try:
        async with contextlib.AsyncExitStack() as stack:
            # With --hold, SIGINT/SIGTERM mean "let go" from the start: a signal that arrived while
            # the request was in flight used to kill the process (exit 143) instead of exiting 0.
            stop = stack.enter_context(_stop_on_signals()) if args.hold else None
            async with asyncio.timeout(args.timeout):
                client = await stack.enter_async_context(open_control_client(path))
                code = await _run(client, args.verb, args.params, output, cwd)
            if stop is not None and code == EXIT_OK:
                return await _hold(client, stop, args.timeout)
            return code
    except (FileNotFoundError, ConnectionRefusedError):
        output.error(f"arbord is not running (no daemon answers on {path})")
        return EXIT_NOT_RUNNING
    except PermissionError:
        output.error(f"permission denied on {path} (run as the daemon's user, root, or its control group)")
        return EXIT_DENIED
    except UsageError as error:
        output.error(str(error))
        return EXIT_USAGE
    except ControlReplyError as error:
        output.error(error.message)
        for problem in error.data.get("errors", []):
            output.error(f"  {'.'.join(map(str, problem.get('loc', [])))}: {problem.get('msg')}")
        if error.code == "permission_denied":
            return EXIT_DENIED
        return EXIT_USAGE if error.code in _USAGE_CODES else EXIT_ERROR
    except TimeoutError:
        output.error(f"no reply within {args.timeout} s")
        return EXIT_ERROR
    except (ConnectionError, OSError) as error:
        output.error(f"connection to {path} failed: {error}")
        return EXIT_ERROR


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM while inside (the loop's handlers, removed on the way out)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        yield stop
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _hold(client: ControlClient, stop: asyncio.Event, timeout: float) -> int:
    """Keep the connection until ``stop`` is set (then 0); a daemon that goes away raises out of here."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(HOLD_PING_INTERVAL):
                await stop.wait()
        if not stop.is_set():
            async with asyncio.timeout(timeout):
                await client.call("ping")
    return EXIT_OK


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``arborctl`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    output = _Output(args.json, out or sys.stdout, err or sys.stderr)
    if args.verb[0] == "console":
        from daemon.console.attach import attach_console  # imports prompt_toolkit/telnet only when used

        return attach_console(args.verb[1:], args.socket, output.err)
    return asyncio.run(_main(args, output))


if __name__ == "__main__":
    sys.exit(main())
