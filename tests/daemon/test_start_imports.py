"""What the daemon's start imports (issue 11, item 15): nothing that READY does not need.

Start is mostly imports (docs/performance.md, "The daemon"), so a package that only an optional part
of the daemon uses is imported when that part is configured or first used, never on the way to READY
with the defaults. The check reads the interpreter's own import trace (``PYTHONPROFILEIMPORTTIME``,
one line per module on stderr) as it stands when ``READY=1`` arrives.
"""

from __future__ import annotations

from daemon.app import ExitCode
from tests.daemon.conftest import StartArbord

# Imported only when configured or first used: the Prometheus exposition (the first scrape or
# `metrics.prometheus`), the OTel bridge ([spans] export), the shared flags store (store = "redis"),
# the OpenFeature provider, the console (aiomonitor), the hidden-state checker (enforcement); and
# pydantic-settings, which arbord's settings no longer use (daemon/sections.py).
OPTIONAL = (
    "prometheus_client",
    "opentelemetry",
    "redis",
    "openfeature",
    "aiomonitor",
    "supervisor.lint",
    "pydantic_settings",
)


def imported(trace: str) -> set[str]:
    """The modules named by the import-time trace in ``trace`` (the lines ``import time: a | b | name``)."""
    return {
        line.split("|")[2].strip()
        for line in trace.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


def test_a_daemon_started_on_the_defaults_imports_no_optional_package(start_arbord: StartArbord) -> None:
    running = start_arbord("", env={"PYTHONPROFILEIMPORTTIME": "1"})
    modules = imported(running.stderr())
    assert "daemon.tree" in modules  # the trace is there
    assert sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in OPTIONAL)) == []
    assert running.stop() == ExitCode.OK
