"""``python -m supervisor.lint PATH...``: exit 0 when clean, 1 on findings, 2 on a usage error.

Findings go to standard output as ``file:line:col CODE message``, sorted; errors about the invocation
go to standard error. The configuration is the nearest ``pyproject.toml`` above the working directory,
or the file given with ``--config``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from supervisor.lint.checker import check_paths
from supervisor.lint.config import load_config
from supervisor.lint.errors import LintError
from supervisor.lint.rules import RULES

__all__ = ["main"]

EXIT_CLEAN: Final = 0
EXIT_FINDINGS: Final = 1
EXIT_USAGE: Final = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m supervisor.lint",
        description="arbord's hidden-state check: state lives in servers, owned tables or explicit "
        "parameters, never in module globals, closures, thread-locals or caches (docs/hidden-state.md).",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or directories to check")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PYPROJECT",
        help="the pyproject.toml to read [tool.arbord.hidden-state] from (default: the nearest one "
        "above the working directory)",
    )
    parser.add_argument(
        "--list-rules", action="store_true", help="print every code and what it flags, then exit"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check as the command line does; returns the exit status."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.list_rules:
        for rule in RULES.values():
            print(f"{rule.code} {rule.title}: {rule.advice}")
        return EXIT_CLEAN
    if not arguments.paths:
        parser.error("give at least one PATH to check")
    try:
        config = load_config(arguments.config)
        findings = check_paths(arguments.paths, config)
    except LintError as error:
        print(f"python -m supervisor.lint: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    for finding in sorted(findings):
        print(finding.format())
    sys.stdout.flush()
    if findings:
        files = len({finding.path for finding in findings})
        print(f"{len(findings)} hidden-state finding(s) in {files} file(s)", file=sys.stderr)
        return EXIT_FINDINGS
    return EXIT_CLEAN
