"""The ``arbord`` command: ``run`` (the default), ``check-config`` and ``version``.

A user mistake never prints a traceback: a refused configuration prints one line per problem and exits
78 (EX_CONFIG). Exit codes are listed in docs/operations.md and in ``daemon.app.ExitCode``.

``arbord run`` runs in the foreground on uvloop unless ``[daemon] loop = "asyncio"``, through
``asyncio.Runner(loop_factory=...)``.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import daemon
from daemon.app import Daemon, ExitCode
from daemon.app_logging import configure_logging
from daemon.app_paths import resolve_paths
from daemon.errors import ConfigError
from daemon.sections import SettingsBase
from daemon.settings import load_settings

__all__ = ["build_parser", "loop_factory", "main"]

log = logging.getLogger("arbord.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arbord",
        description="arbord: a supervision tree of servers, run as a daemon.",
        epilog="Exit codes: 0 clean stop, 1 failure, 2 usage, 70 the tree gave up, 78 configuration error.",
    )
    parser.add_argument("--version", action="version", version=f"arbord {daemon.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="run the daemon in the foreground (the default)")
    run.add_argument("--config", type=Path, metavar="PATH", help="TOML file (default: embedded defaults)")
    check = commands.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("path", type=Path, metavar="PATH")
    commands.add_parser("version", help="print the version and exit")
    return parser


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop factory for ``[daemon] loop``."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def _print_problems(error: ConfigError) -> None:
    print("arbord: configuration refused:", file=sys.stderr)
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)


def _check_config(path: Path, environ: Mapping[str, str]) -> int:
    try:
        settings = load_settings(path, environ)
        paths = resolve_paths(settings, environ)
    except ConfigError as error:
        _print_problems(error)
        return ExitCode.CONFIG
    print(f"{path}: OK (control socket: {paths.control_socket})")
    return ExitCode.OK


async def _serve(settings: SettingsBase, config_path: Path | None, environ: Mapping[str, str]) -> int:
    runner = Daemon(settings, config_path=config_path, environ=environ, owns_process=True)
    code = await runner.run()
    # The tree has stopped (or given up). Whatever is left on the loop (a task that ignored its
    # cancellation, an executor thread stuck in a read) would make closing it wait for ever, with the
    # stop signals' handlers gone: the process ends here (docs/operations.md, "Stop and reload
    # guarantees"; test_lifecycle.py::test_a_child_abandoned_deep_in_the_tree_makes_the_stop_exit_70).
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run(config_path: Path | None, environ: Mapping[str, str]) -> int:
    # A stalled loop is killed by the watchdog with SIGABRT: faulthandler prints every thread's stack
    # to stderr first, so the journal says where it was stuck, whether or not the environment has
    # PYTHONFAULTHANDLER=1 (tests/faults/test_unit_faults.py::test_f7_...).
    if not faulthandler.is_enabled():
        faulthandler.enable()
    try:
        settings = load_settings(config_path, environ)
        configure_logging(settings.daemon.log_level, environ, log_format=settings.daemon.log_format)
        with asyncio.Runner(loop_factory=loop_factory(settings.daemon.loop)) as runner:
            return runner.run(_serve(settings, config_path, environ))
    except ConfigError as error:
        _print_problems(error)
        return ExitCode.CONFIG


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``arbord`` console script and ``python -m daemon``."""
    args = build_parser().parse_args(argv)
    environ = os.environ
    if args.command == "version":
        print(f"arbord {daemon.__version__}")
        return ExitCode.OK
    if args.command == "check-config":
        return _check_config(args.path, environ)
    return _run(getattr(args, "config", None), environ)
