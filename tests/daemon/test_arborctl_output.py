"""What ``arborctl`` prints (issue 11, items 10 and 12): tables for listings, units on every time, a
stored ``null`` as ``null``, an empty listing said so; errors once, and as JSON with ``--json``;
``--version`` on both commands."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys

import pytest

from daemon.ctl.arborctl import main
from daemon.verbs.render import format_duration, render_result
from supervisor import Access, Table
from tests.daemon.conftest import ROOT
from tests.daemon.test_arborctl import arborctl
from tests.daemon.test_control_helpers import running_control, short_tmpdir

# --- rendering ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "-"),
        (0.25, "250ms"),
        (2.0, "2s"),
        (2.5, "2.5s"),
        (29.6, "30s"),
        (252.4, "4m12s"),
        (299.87, "5m00s"),  # a TTL read just after it was set: rounded, not truncated
        (3725.5, "1h02m"),
        (float("inf"), "never"),
    ],
)
def test_times_carry_their_unit_and_are_rounded(seconds: float | None, shown: str) -> None:
    assert format_duration(seconds) == shown


def test_status_and_config_show_are_aligned_lines_with_units() -> None:
    status = {"state": "running", "uptime": 252.4, "control": {"socket": "/run/c.sock", "busy": 0}}
    assert render_result("status", status).splitlines() == [
        "state:   running",
        "uptime:  4m12s",
        "control: socket=/run/c.sock busy=0",
    ]
    config = {"daemon": {"lag_warning": 0.25, "loop": "uvloop"}, "cache": {"caches": {"a": {"ttl": 60.0}}}}
    assert render_result("config.show", config).splitlines() == [
        "daemon.lag_warning: 250ms",
        "daemon.loop:        uvloop",
        "cache.caches.a.ttl: 1m00s",
    ]


def test_a_stored_null_is_shown_as_null() -> None:
    assert render_result("cache.get", {"key": "k", "value": None}) == "key:   k\nvalue: null"
    assert render_result("cache.get", {"key": "k", "value": "x"}) == "key:   k\nvalue: x"


def test_registry_and_cache_listings_are_tables() -> None:
    entries = {"entries": [{"key": "web-1", "owner": "task c-1", "metadata": {"node": "a"}}], "total": 3}
    assert render_result("registry.list", entries).splitlines() == [
        "KEY    OWNER     METADATA",
        'web-1  task c-1  {"node":"a"}',
        "(1 of 3 entries)",
    ]
    assert render_result("registry.find", {"entries": [], "total": 0}) == "no entries"
    keys = {"keys": [{"key": "a", "ttl": 29.6}, {"key": "b", "ttl": None}], "total": 2}
    assert render_result("cache.list", keys).splitlines() == ["KEY  TTL", "a    30s", "b    never"]
    stats = {"default": {"hits": 3, "misses": 1, "size": 1, "hit_rate": 0.75}}
    assert render_result("cache.stats", stats).splitlines() == [
        "CACHE    HITS  MISSES  SIZE  HIT_RATE",
        "default  3     1       1     75%",
    ]


def test_an_empty_listing_says_so() -> None:
    assert render_result("tables.list", {"tables": [], "total": 0, "next": None}) == "no tables"
    assert render_result("cache.list", {"keys": [], "total": 0}) == "no keys"
    assert render_result("which_children", {"children": [], "total": 0, "next": None}) == "(none)"


# --- against a control server ------------------------------------------------------------------------


async def test_tables_list_shows_unnamed_tables_and_their_owner() -> None:
    async with running_control() as h:
        table = Table(access=Access.PUBLIC)  # unnamed, owned by this test's task
        try:
            table.insert([(1, "a")])
            code, out, _ = await arborctl("--socket", h.path, "tables", "list")
            assert code == 0
            lines = out.splitlines()
            assert lines[0].split() == ["NAME", "OWNER", "TYPE", "ACCESS", "SIZE"]
            mine = [line for line in lines if re.fullmatch(r"-\s+task \S+\s+set\s+public\s+1", line)]
            assert len(mine) == 1, out
        finally:
            table.delete_table()


async def test_with_json_errors_are_json_on_stderr_too() -> None:
    async with running_control() as h:
        code, out, err = await arborctl("--socket", h.path, "--json", "tables", "info", "nope")
        assert (code, out) == (1, "")
        error = json.loads(err)["error"]
        assert len(error.pop("correlation_id")) == 32  # every error reply has one (docs/context.md)
        assert error == {"code": "not_found", "message": "no named table 'nope'", "name": "nope"}
        code, out, err = await arborctl("--socket", h.path, "--json", "tables", "dump", "name=x", "chunk=0")
        assert (code, out) == (2, "")
        error = json.loads(err)["error"]
        assert (error["code"], [e["loc"] for e in error["errors"]]) == ("invalid_params", [["chunk"]])
        code, _, err = await arborctl("--socket", h.path, "--json", "frobnicate")
        assert (code, json.loads(err)["error"]["code"]) == (2, "usage")
    code, out, err = await arborctl("--json", "--timeout", "soon", "ping")
    assert (code, out) == (2, "")
    assert json.loads(err) == {
        "error": {"code": "usage", "message": "argument --timeout: invalid float value: 'soon'"}
    }
    with short_tmpdir() as tmp:
        code, _, err = await arborctl("--socket", tmp / "none.sock", "--json", "ping")
        assert (code, json.loads(err)["error"]["code"]) == (3, "not_running")


async def test_a_refused_command_prints_each_problem_once() -> None:
    async with running_control() as h:
        h.daemon.reload_result = {"ok": False, "errors": ["daemon.loop: 'tokio' is not a loop"]}
        code, out, err = await arborctl("--socket", h.path, "reload")
        assert code == 1
        assert "tokio" not in out
        assert err == "arborctl: daemon.loop: 'tokio' is not a loop\n"
        code, out, err = await arborctl("--socket", h.path, "--json", "reload")
        assert (code, err) == (1, "")
        assert json.loads(out)["errors"] == ["daemon.loop: 'tokio' is not a loop"]


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


async def test_a_closed_stdout_is_not_a_failed_connection() -> None:
    async with running_control() as h:
        err = io.StringIO()
        code = await _in_thread(["--socket", str(h.path), "tree"], _ClosedPipe(), err)
        assert (code, err.getvalue()) == (1, "")


async def _in_thread(argv: list[str], out: io.StringIO, err: io.StringIO) -> int:
    return await asyncio.to_thread(main, argv, out=out, err=err)


@pytest.mark.parametrize(("module", "name"), [("daemon.ctl", "arborctl"), ("daemon", "arbord")])
def test_both_commands_print_their_version(module: str, name: str) -> None:
    from importlib.metadata import version

    result = subprocess.run(
        [sys.executable, "-m", module, "--version"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{name} {version('arbord')}\n", "")
