"""``arborctl``: drive a running arbord through its control socket.

    arborctl [--socket PATH] [--json] [--timeout S] VERB [ARG ...] [key=value ...] [--params JSON]

Any method the daemon has is a verb: its name with ``.`` written as a space (``tables dump agents``,
``registry lookup KEY``, ``cache stats default``); ``arborctl methods`` lists them with their params,
in the order positional words bind to them (daemon/verbs/words.py). Output is for people (a drawn
tree, aligned tables) unless ``--json``: one JSON document, or one JSON line per item of a streamed
result; an error is then a JSON document on stderr too (``{"error": {"code", "message", ...}}``).
``arborctl console`` attaches to the console instead; ``arborctl diagnose [PATH]`` writes a diagnostic
bundle (daemon/ctl/diagnose.py); ``arborctl completion bash|zsh`` prints a
completion script made from the daemon's method table (daemon/ctl/completion.py).

``--hold`` keeps the connection open after a successful reply, pinging so it never goes idle, until
arborctl gets SIGINT or SIGTERM (exit 0) or the daemon closes it (exit 1). What a connection owns
lives that long: ``arborctl --hold registry register web-1 &`` keeps ``web-1`` registered exactly as
long as that background job runs.

``arborctl`` sends the request the words name directly when they name a method with no params
left to bind (``ping``, ``tables list``, ``config show``): one round trip, no method table. Only
when words must be bound to param names, or the words name no method, does it fetch the table
(``methods``) to resolve them (daemon/verbs/words.py). It never caches the table: a stale one could
bind words to the wrong params, and the lookup costs one round trip only when it is needed.

Exit codes: 0 ok, 1 the command failed (an error reply, a refused reload or config), 2 usage, 3 the
daemon is not running (no socket, nobody listening, or what answers is not arbord), 4 permission
denied (or the socket is not the daemon's: daemon/ctl/trust.py; nothing was sent).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

from daemon.ctl.discovery import SYSTEMD_SOCKET, default_socket_path, socket_candidates
from daemon.ctl.frames import ControlReplyError, UnexpectedReply
from daemon.ctl.trust import UntrustedSocket
from daemon.ctl.wire import BlockingClient, connect
from daemon.verbs.render import render_result
from daemon.verbs.words import ALIASES, UsageError, build_params, param_options, resolve_method

# Names for annotations only: importing ``typing`` would cost ``arborctl`` a share of its start-up
# (bench/bench_arborctl.py); mypy reads this block, the interpreter skips it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final, NoReturn, TextIO

__all__ = [
    "EXIT_DENIED",
    "EXIT_ERROR",
    "EXIT_NOT_RUNNING",
    "EXIT_OK",
    "EXIT_USAGE",
    "HOLD_PING_INTERVAL",
    "SYSTEMD_SOCKET",
    "default_socket_path",
    "main",
    "parser",
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
  stop PATH | restart PATH | delete PATH | start PATH SPEC   (e.g. start root/servers '{"id": ...}')
  reload | config show | config check FILE | shutdown
  tables list | tables info NAME | tables dump NAME [chunk=N] [limit=N]
  registry lookup KEY | cache stats [NAME] | ...   console [SOCKET]
  spans [--trace ID] [--older-than SECONDS]   (the spans in flight, oldest first)
  diagnose [PATH]   (a tar.gz of status, tree, metrics, crashes, flags history, spans, config; secrets masked)
  --hold registry register KEY [metadata=JSON]   (registered while arborctl runs)
params: values in the order `arborctl methods` lists them, or key=value (JSON when it parses), or
  --key VALUE (--older-than 5 is older_than=5), or --params JSON; one param given twice is an error
  completion bash|zsh   (a completion script for the daemon's verbs)
exit codes: 0 ok, 1 command failed, 2 usage, 3 daemon not running, 4 permission denied
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter, sized without ``shutil``: argparse builds one per argument, and its
    default imports ``shutil`` (with the compression modules) on every ``arborctl`` run."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24) -> None:
        try:
            columns = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size(sys.stdout.fileno()).columns
        except (ValueError, OSError):
            columns = 80
        super().__init__(prog, indent_increment, max_help_position, width=columns - 2)


class _ArgumentError(Exception):
    """argparse refused the command line (exit 2): raised instead of printing, so that ``--json``
    can report it as JSON."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _ArgumentError(message)


class _Version(argparse.Action):
    """``--version``: the installed distribution's version, read only when asked for
    (``importlib.metadata`` costs more than the rest of arborctl's imports)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from importlib.metadata import version

        print(f"arborctl {version('arbord')}")
        parser.exit()


def parser() -> argparse.ArgumentParser:
    """``arborctl``'s command line (also what its man page is made of: daemon/manual.py)."""
    parser = _Parser(
        prog="arborctl",
        description="Drive a running arbord through its control socket.",
        formatter_class=_Formatter,
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print arborctl's version and exit")
    parser.add_argument(
        "--socket",
        type=Path,
        help="the control socket (default: $ARBORD_SOCKET, else the first that exists of "
        "$RUNTIME_DIRECTORY/control.sock, $XDG_RUNTIME_DIR/arbord/control.sock, /run/arbord/control.sock, "
        "./run/control.sock, the checkout's run/control.sock, /tmp/arbord-<uid>/control.sock); "
        "checked to be the daemon's before anything is sent",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts (errors too, on stderr)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the reply (30)")
    parser.add_argument(
        "--params", type=json.loads, help="params as a JSON object (a param also given as a word: error)"
    )
    parser.add_argument("--force", action="store_true", help="send force=true (start_child under root, ...)")
    parser.add_argument("--rate", help="send rate=RATE (telemetry tap: events per second, e.g. 10/s)")
    parser.add_argument(
        "--hold",
        action="store_true",
        help="after a successful reply keep the connection (and what it registered) until SIGINT/SIGTERM",
    )
    parser.add_argument(
        "verb", nargs="+", help="a method, '.' written as a space: ping, tree, tables dump NAME"
    )
    return parser


class _OutputClosed(Exception):
    """Whoever reads arborctl's output stopped (``arborctl tables dump t | head``): not a failure
    of the connection to the daemon, which a ``BrokenPipeError`` would otherwise be taken for."""


class _Output:
    def __init__(self, as_json: bool, out: TextIO, err: TextIO) -> None:
        self.as_json = as_json
        self.out = out
        self.err = err

    def _print(self, text: str) -> None:
        """Write ``text`` and a newline, flushed: a streamed item shows as it comes."""
        try:
            print(text, file=self.out, flush=True)
        except BrokenPipeError:
            if self.out is sys.stdout:  # nothing more can be written: keep the exit quiet
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise _OutputClosed from None

    def result(self, method: str, result: Any) -> None:
        if self.as_json:
            self._print(json.dumps(result, indent=2))
        elif result is not None:
            self._print(render_result(method, result))

    def item(self, method: str, item: Any) -> None:
        if self.as_json:
            self._print(json.dumps(item, separators=(",", ":")))
        elif isinstance(item, Mapping) and isinstance(item.get("rows"), list):
            rows = (
                "\t".join(json.dumps(v) if not isinstance(v, str) else v for v in r) for r in item["rows"]
            )
            self._print("\n".join(rows))
        else:
            self._print(render_result(method, item))

    def error(self, code: str, message: str, data: Mapping[str, Any] | None = None) -> None:
        """Report a failure once: a line (and one per problem) for people, one JSON document
        ``{"error": {"code", "message", ...}}`` with ``--json``."""
        data = dict(data or {})
        if self.as_json:
            print(json.dumps({"error": {"code": code, "message": message, **data}}), file=self.err)
            return
        print(f"arborctl: {message}", file=self.err)
        for problem in data.get("errors", []):
            if isinstance(problem, Mapping):
                problem = f"{'.'.join(map(str, problem.get('loc', [])))}: {problem.get('msg')}"
            print(f"arborctl:   {problem}", file=self.err)


def _absolute_paths(method: str, params: dict[str, Any], cwd: Path) -> None:
    for name, key in _PATH_PARAMS:
        if name == method and isinstance(params.get(key), str):
            params[key] = str(cwd / params[key])  # an absolute one stays as it is


def _execute(
    client: BlockingClient, method: str, params: Mapping[str, Any], output: _Output, streamed: bool | None
) -> int:
    """Send one request and show its replies: items as they come for a streamed method (``streamed``
    None: whether the daemon sends ``more`` replies), else the result."""
    result: Any = None
    items = 0
    for reply in client.replies(client.send(method, params)):
        if reply.get("more"):
            items += 1
            output.item(method, reply.get("result"))
        else:
            result = reply.get("result")
    if streamed or (streamed is None and items):
        return EXIT_OK
    if method in _CHECKED and isinstance(result, Mapping) and result.get("ok") is False:
        # Refused: with --json the document says why; for people the problems go to stderr, once
        # (not also as an ``errors:`` line on stdout).
        if output.as_json:
            output.result(method, result)
        else:
            output.result(method, {k: v for k, v in result.items() if k != "errors"})
            for problem in result.get("errors", []):
                print(f"arborctl: {problem}", file=output.err)
        return EXIT_ERROR
    output.result(method, result)
    return EXIT_OK


def _direct(
    client: BlockingClient, words: Sequence[str], extra: Any, output: _Output, cwd: Path
) -> int | None:
    """Run the words as one method with no params to bind, without the method table; None when the
    daemon has no such method (the words include params, or name nothing: the table decides)."""
    name = ".".join(words)
    method = ALIASES.get(name, name)
    params = dict(extra or {})
    _absolute_paths(method, params, cwd)
    try:
        return _execute(client, method, params, output, None)
    except ControlReplyError as error:
        if error.code == "method_not_found":
            return None
        raise


_param_options = param_options  # shared with the console (daemon/console/commands.py)


def _bounded(params: dict[str, Any], schema: Mapping[str, Any], timeout: float) -> None:
    """A method that takes a ``timeout`` (``flags wait``) gets arborctl's ``--timeout`` unless one is
    given, a little shorter, so that its answer arrives before arborctl stops waiting."""
    if "timeout" in schema.get("properties", {}) and "timeout" not in params:
        params["timeout"] = max(timeout * 0.9, timeout - 1.0)


def _run(
    client: BlockingClient,
    words: Sequence[str],
    extra: Any,
    output: _Output,
    cwd: Path,
    timeout: float = 30.0,
) -> int:
    if extra is not None and not isinstance(extra, dict):
        raise UsageError("--params must be a JSON object")
    if words[0] == "completion":
        return _completion(client, words[1:], output)
    if words[0] != "restart":
        code = _direct(client, words, extra, output, cwd)
        if code is not None:
            return code
    methods = {m["name"]: m for m in client.call("methods")}
    if words[0] == "restart":  # as supervisorctl: stop the child if it runs, then start it again
        params = build_params(words[1:], methods["restart_child"]["params"], extra)
        client.call("terminate_child", params)
        output.result("restart_child", client.call("restart_child", params))
        return EXIT_OK
    method, args = resolve_method(words, methods)
    params = build_params(args, methods[method]["params"], extra)
    _bounded(params, methods[method]["params"], timeout)
    _absolute_paths(method, params, cwd)
    return _execute(client, method, params, output, bool(methods[method]["streamed"]))


def _completion(client: BlockingClient, shells: Sequence[str], output: _Output) -> int:
    """``arborctl completion bash|zsh``: the script for the verbs and params of this daemon."""
    from daemon.ctl.completion import SHELLS, completion_script

    if len(shells) != 1 or shells[0] not in SHELLS:
        raise UsageError(f"completion takes one shell: {' or '.join(SHELLS)}")
    print(completion_script(shells[0], client.call("methods"), parser()), file=output.out, end="")
    return EXIT_OK


class _Release:
    """SIGINT/SIGTERM set ``requested`` (from the start: a signal that arrives while the request is
    in flight must not kill arborctl, test_a_signal_while_a_hold_request_is_in_flight_still_exits_0)
    and wake ``wait`` through the loopback pair ``signal.set_wakeup_fd`` writes to."""

    _SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._wake_w.fileno())
        self._previous = {signum: signal.signal(signum, self._handle) for signum in self._SIGNALS}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def wait(self, sock: socket.socket, seconds: float) -> bool:
        """Wait up to ``seconds`` for a signal (True) or for ``sock`` to become readable (False)."""
        readable, _, _ = select.select([self._wake_r, sock], [], [], seconds)
        return self.requested or self._wake_r in readable

    def close(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._previous_fd)
        self._wake_r.close()
        self._wake_w.close()


def _hold(client: BlockingClient, release: _Release, timeout: float) -> int:
    """Keep the connection until a signal (then 0); a daemon that goes away raises out of here."""
    while not release.requested:
        if release.wait(client.sock, HOLD_PING_INTERVAL):
            break
        client.extend(timeout)
        if select.select([client.sock], [], [], 0)[0]:
            client.fill()  # the daemon closed the connection: ConnectionError
            continue
        client.call("ping")
    return EXIT_OK


def _diagnose(args: argparse.Namespace, output: _Output) -> int:
    """``arborctl diagnose [PATH]``: write the diagnostic bundle (daemon/ctl/diagnose.py) and print
    its path. Parts that fail are named on stderr and in the archive's index; exit 3 when no part
    of the daemon's could be collected (it is not running), 0 otherwise."""
    from daemon.ctl.diagnose import PARTS, collect, default_path, write_bundle

    if len(args.verb) > 2:
        output.error("usage", "diagnose takes at most one path: arborctl diagnose [PATH]")
        return EXIT_USAGE
    cwd = Path.cwd()
    path = cwd / args.verb[1] if len(args.verb) == 2 else default_path(cwd)
    socket_path = args.socket or default_socket_path(os.environ, cwd)
    bundle = collect(lambda: connect(socket_path, timeout=args.timeout), socket=str(socket_path))
    try:
        write_bundle(bundle, path)
    except OSError as error:
        output.error("write_failed", f"cannot write {path}: {error}")
        return EXIT_ERROR
    failed = bundle.failed
    if output.as_json:
        output.result("diagnose", {"path": str(path), "failed": failed})
    else:
        print(path, file=output.out, flush=True)
        for name in failed:
            why = bundle.index["parts"][name]["error"]
            print(f"arborctl: {name}: not collected ({why['code']}: {why['message']})", file=output.err)
    return EXIT_NOT_RUNNING if len(failed) == len(PARTS) else EXIT_OK


def _main(args: argparse.Namespace, output: _Output) -> int:
    cwd = Path.cwd()
    path = args.socket or default_socket_path(os.environ, cwd)
    release = _Release() if args.hold else None
    try:
        with connect(path, timeout=args.timeout) as client:
            extra = args.params
            if args.force and (extra is None or isinstance(extra, dict)):
                extra = {**(extra or {}), "force": True}
            if args.rate is not None and (extra is None or isinstance(extra, dict)):
                extra = {**(extra or {}), "rate": args.rate}
            code = _run(client, args.verb, extra, output, cwd, args.timeout)
            if release is not None and code == EXIT_OK:
                return _hold(client, release, args.timeout)
            return code
    except _OutputClosed:
        return EXIT_ERROR
    except (FileNotFoundError, ConnectionRefusedError):
        output.error("not_running", f"arbord is not running (no daemon answers on {path})")
        return EXIT_NOT_RUNNING
    except UntrustedSocket as error:
        output.error("untrusted_socket", str(error))
        return EXIT_DENIED
    except PermissionError:
        message = f"permission denied on {path} (run as the daemon's user, root, or its control group)"
        output.error("permission_denied", message)
        return EXIT_DENIED
    except UsageError as error:
        output.error("usage", str(error))
        return EXIT_USAGE
    except ControlReplyError as error:
        extra = (
            error.data
            if error.correlation_id is None
            else {**error.data, "correlation_id": error.correlation_id}
        )
        output.error(error.code, error.message, extra)
        if error.code == "permission_denied":
            return EXIT_DENIED
        return EXIT_USAGE if error.code in _USAGE_CODES else EXIT_ERROR
    except TimeoutError:
        output.error("timeout", f"no reply within {args.timeout} s")
        return EXIT_ERROR
    except UnexpectedReply as error:
        output.error("unexpected_reply", f"no arbord answers on {path}: {error}")
        return EXIT_NOT_RUNNING
    except (ConnectionError, OSError) as error:
        output.error("connection_failed", f"connection to {path} failed: {error}")
        return EXIT_ERROR
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
        # A reply of the wrong shape (a daemon of another version, or not arbord): one line, never a
        # traceback (test_a_reply_of_the_wrong_shape_is_one_line_and_exit_3).
        output.error(
            "unexpected_reply", f"unexpected reply from {path} ({type(error).__name__}: {str(error)[:200]})"
        )
        return EXIT_NOT_RUNNING
    finally:
        if release is not None:
            release.close()


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``arborctl`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    arguments = parser()
    command_line = _param_options(sys.argv[1:] if argv is None else argv, arguments._option_string_actions)
    try:
        args = arguments.parse_args(command_line)
    except SystemExit as exit_:  # --help, --version
        return int(exit_.code or 0)
    except _ArgumentError as error:
        output = _Output("--json" in command_line, out or sys.stdout, err or sys.stderr)
        if not output.as_json:
            arguments.print_usage(output.err)
        output.error("usage", str(error))
        return EXIT_USAGE
    output = _Output(args.json, out or sys.stdout, err or sys.stderr)
    if args.verb[0] == "console":
        # The console client (aiomonitor, prompt_toolkit) is imported only for this verb: it costs
        # more than the rest of arborctl, and it is the optional `console` extra.
        try:
            from daemon.ctl.attach import attach_console
        except ModuleNotFoundError as missing:
            print(
                f"arborctl: the console client needs the 'console' extra ({missing}): "
                "pip install 'arbord[console]'",
                file=output.err,
            )
            return EXIT_ERROR

        return attach_console(args.verb[1:], args.socket, output.err)
    if args.verb[0] == "diagnose":
        return _diagnose(args, output)
    return _main(args, output)


if __name__ == "__main__":
    sys.exit(main())
