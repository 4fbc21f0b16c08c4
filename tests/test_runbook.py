"""docs/runbook.md cannot drift from the code: every message logged at warning or above in
``daemon`` and ``supervisor``, and every exit code of ``arbord`` and ``arborctl``, is in it.

The messages are found in the source, not at run time: each call ``log.warning(FORMAT, ...)``,
``log.error``, ``log.critical`` or ``log.exception`` on a logger (a name ``log``, ``_log``,
``logger``) whose format is a string literal, and the supervisor's reports (``_report(LEVEL,
FORMAT, ...)`` in supervisor/_children.py, at error or warning). A format built at run time (an
f-string) could not be looked up in the runbook, so it is refused here: pass the values as
arguments, as logging intends.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from daemon.app import ExitCode
from daemon.ctl import arborctl

ROOT = Path(__file__).resolve().parent.parent
RUNBOOK = ROOT / "docs" / "runbook.md"
LEVELS = frozenset({"warning", "error", "critical", "exception"})
LOGGERS = frozenset({"log", "_log", "logger", "_logger"})
REPORTS = ROOT / "supervisor" / "_children.py"


def _format_of(node: ast.Call, path: Path) -> ast.expr | None:
    """The format argument of a warning-or-above log call, or None when ``node`` is none:
    ``log.warning(FORMAT, ...)`` (and ``error``, ``critical``, ``exception``) on a logger, and the
    supervisor's reports, ``_report(LEVEL, FORMAT, ...)``, whose level is error or warning."""
    func = node.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr in LEVELS
        and isinstance(func.value, ast.Name)
        and func.value.id in LOGGERS
    ):
        return node.args[0] if node.args else node.func
    if path == REPORTS and isinstance(func, ast.Name) and func.id == "_report" and len(node.args) > 1:
        return node.args[1]
    return None


def logged_formats(*packages: str) -> dict[str, list[str]]:
    """Each warning-or-above format string in ``packages`` -> where it is logged (``path:line``)."""
    found: dict[str, list[str]] = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call) or (first := _format_of(node, path)) is None:
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                assert isinstance(first, ast.Constant), (
                    f"{where}: log a literal format, not {ast.unparse(first)}"
                )
                assert isinstance(first.value, str), where
                found.setdefault(first.value, []).append(where)
    return found


def test_the_extraction_finds_the_messages() -> None:
    formats = logged_formats("daemon", "supervisor")
    assert "the root supervisor gave up (%r); exiting" in formats  # critical, daemon/app.py
    assert "event loop lag %.3f s (over %.3f s): something blocked the loop" in formats  # a warning
    assert "console command %r failed" in formats  # log.exception
    assert "%s %s reached max restart intensity (%d in %g s); shutting down" in formats  # supervisor
    assert "child %r of supervisor %s exited: %r; restarting it (restart %d)" in formats  # a report
    assert len(formats) > 50


def test_every_warning_and_above_message_is_in_the_runbook() -> None:
    runbook = RUNBOOK.read_text()
    missing = {f: w for f, w in logged_formats("daemon", "supervisor").items() if f"`{f}`" not in runbook}
    assert missing == {}, "add these to docs/runbook.md, 'Log messages', with what to do"


def test_every_exit_code_is_in_the_runbook() -> None:
    daemon_codes = {int(code) for code in ExitCode} | {2}  # 2: argparse's usage error
    ctl_codes = {value for name, value in vars(arborctl).items() if name.startswith("EXIT_")}
    text = RUNBOOK.read_text()
    daemon_table = text[
        text.index("The daemon (`daemon.app.ExitCode`") : text.index("`arborctl` (`daemon.ctl.arborctl`)")
    ]
    ctl_table = text[text.index("`arborctl` (`daemon.ctl.arborctl`)") : text.index("## Alerts")]
    row = re.compile(r"^\| (\d+) \|", re.MULTILINE)
    assert {int(m) for m in row.findall(daemon_table)} == daemon_codes
    assert {int(m) for m in row.findall(ctl_table)} == ctl_codes
