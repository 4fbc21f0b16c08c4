"""What the daemon's start imports (issue 11, item 15): nothing that READY does not need.

Start is mostly imports (docs/performance.md, "The daemon"), so a package that only an optional part
of the daemon uses is imported when that part is configured or first used, never on the way to READY
with the defaults. The check reads the interpreter's own import trace (``PYTHONPROFILEIMPORTTIME``,
one line per module on stderr) as it stands when ``READY=1`` arrives.
"""

from __future__ import annotations

from daemon.app import ExitCode
from daemon.verbs.codes import ErrorCode
from daemon.verbs.core import CORE_ERROR_MAP, core_methods
from daemon.verbs.method import VerbTable, methods_by_name
from supervisor import NoProc
from tests.daemon.conftest import StartArbord
from tests.daemon.test_process import request

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
    "daemon.flags.ofrep",  # [flags] ofrep: OFREP's routes
)

# Imported by the first request, when the daemon builds its verb table (``VerbTable.deferred``): each
# component's verb module (a params model and a handler per method), the renderer and arborctl's
# words, and the redis store (only when ``[flags] store = "redis"``).
VERB_MODULES = (
    "daemon.verbs.daemon_verbs",
    "daemon.verbs.tree_verbs",
    "daemon.verbs.table_verbs",
    "daemon.verbs.render",
    "daemon.verbs.words",
    "daemon.cache.methods",
    "daemon.registry.methods",
    "daemon.spans.methods",
    "daemon.crashes.verbs",
    "daemon.telemetry.verbs",
    "daemon.telemetry.metrics_verbs",
    "daemon.flags.methods",
    "daemon.flags.fleet_methods",
    "daemon.flags.migration.verbs",
    "daemon.flags.experiments.verbs",
    "daemon.flags.redis_store",
    "daemon.ctl.client",
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


def test_the_verb_modules_are_imported_by_the_first_request_not_at_start(start_arbord: StartArbord) -> None:
    running = start_arbord("", env={"PYTHONPROFILEIMPORTTIME": "1"})
    at_ready = imported(running.stderr())
    assert "daemon.verbs.method" in at_ready  # the trace is there
    assert sorted(m for m in VERB_MODULES if m in at_ready) == []
    # The first request builds the table: the verbs are all there, served as before.
    assert request(running.control_socket, "ping") == {"pong": True}
    assert {"ping", "status", "cache.stats", "registry.list", "flags.list"} <= {
        m["name"] for m in request(running.control_socket, "methods")
    }
    assert "daemon.cache.methods" in imported(running.stderr())
    assert running.stop() == ExitCode.OK


def test_a_deferred_verb_table_is_built_once_by_its_first_read() -> None:
    built: list[int] = []

    def build() -> VerbTable:
        built.append(1)
        return VerbTable(methods_by_name(core_methods()), CORE_ERROR_MAP)

    table = VerbTable.deferred(build)
    assert built == []
    assert "ping" in table.methods
    assert table.error_for(NoProc("x"))[0] is ErrorCode.SERVER_DOWN
    assert table.methods is table.methods
    assert built == [1]
