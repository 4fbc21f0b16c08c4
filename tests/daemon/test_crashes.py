"""Crash records: one per crash a supervisor handles, in a bounded table owned by ``arbord.crashes``,
with the exception chain and notes, the context at the failure, the open spans, the restart decision
and the intensity left; the crash's log line carries its id; ``arborctl crashes`` and ``crashes show``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from daemon.context import ContextFilter, operation, with_context
from daemon.crashes import CRASHES_NAME, CrashLog
from daemon.crashes.component import CRASHES_ID, CRASHES_KEEPER
from daemon.crashes.flags_in_force import MAX_ACTORS, flags_in_force
from daemon.crashes.open_spans import spans_left_open
from daemon.crashes.server import KEEPER_NAME
from daemon.flags import FLAGS_NAME, Flags, MemoryStore
from daemon.log_json import JsonFormatter
from daemon.registry.keeper import TableKeeper
from daemon.spans import SPANS_NAME, SpanServer, start_span
from supervisor import Caller, ChildSpec, Server, ServerExited, Supervisor, call, crash, telemetry, whereis
from supervisor.testing import wait_until
from tests.daemon.conftest import ROOT, RunningDaemon, StartArbord


class Worker(Server):
    """Crashes on the cast ``("crash", message)``, inside a context block."""

    async def handle_cast(self, message: Any) -> None:
        _, text = message
        with with_context(job="import", api_token="t0k3n"), operation("tests.worker", "work", batch=7):
            try:
                raise KeyError("row 12")
            except KeyError as error:
                raise ValueError(text) from error

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return "ok"


@pytest.fixture
async def crash_log() -> AsyncIterator[CrashLog]:
    log = await CrashLog.start(capacity=3, name=CRASHES_NAME, open_spans=lambda md: [{"name": "held"}])
    yield log
    await log.stop()


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The supervisor's reports as JSON lines, through ContextFilter (as the daemon logs them)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("supervisor")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


async def _crash(sup: Supervisor, child: str, text: str) -> None:
    """Crash ``child`` and wait until its supervisor has handled it (the exit event)."""
    (info,) = [c for c in await sup.which_children() if c.id == child]
    assert isinstance(info.server, Server)
    with telemetry.capture(("supervisor", "child", "exit")) as seen:
        info.server.cast(("crash", text))
        await seen.wait(("supervisor", "child", "exit"))


async def _records(log: CrashLog, limit: int = 10) -> dict[str, Any]:
    result: dict[str, Any] = await call(log, ("list", limit))
    return result


async def test_a_crash_is_recorded_with_its_chain_context_decision_and_spans(
    crash_log: CrashLog, json_lines: io.StringIO
) -> None:
    async with Supervisor([ChildSpec("w", Worker)], intensity=3, period=60, name="test.sup") as sup:
        await _crash(sup, "w", "bad batch")
        listing = await _records(crash_log)
        (summary,) = listing["crashes"]
        assert summary["decision"] == "restart"
        assert summary["intensity_left"] == 2
        assert summary["error"] == "ValueError: bad batch"
        record = await call(crash_log, ("show", summary["id"]))
    assert (record["supervisor"], record["child"]) == ("test.sup", "w")
    assert [link["type"] for link in record["chain"]] == ["ValueError", "KeyError"]
    notes = record["chain"][0]["notes"]
    assert notes[0].startswith("arbord context: correlation_id=")
    assert notes[1] == f"arbord crash id: {summary['id']} (arborctl crashes show {summary['id']})"
    context = record["context"]
    assert context["fields"] == {"job": "import", "api_token": "[redacted]"}
    assert context["redacted"] == ["api_token"]
    assert [b["function"] for b in context["operation"]["breadcrumbs"]] == ["work"]
    assert record["open_spans"] == [{"name": "held"}]
    assert "raise ValueError(text) from error" in record["traceback"]
    # The supervisor's report of this crash carries the crash's id and the child's context.
    (report,) = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert report["crash_id"] == summary["id"]
    assert report["context"] == {"job": "import", "api_token": "[redacted]"}
    assert f"arbord crash id: {summary['id']}" in report["exception"]


async def test_the_table_is_bounded_oldest_dropped_and_counted(crash_log: CrashLog) -> None:
    async with Supervisor([ChildSpec("w", Worker)], intensity=10, period=60, name="test.sup") as sup:
        for n in range(5):
            await _crash(sup, "w", f"crash {n}")
        listing = await _records(crash_log, limit=2)
        assert [c["error"] for c in listing["crashes"]] == ["ValueError: crash 4", "ValueError: crash 3"]
        assert (listing["total"], listing["dropped"], listing["capacity"]) == (3, 2, 3)
        assert await call(crash_log, ("show", listing["crashes"][0]["id"] - 3)) is None  # dropped


async def test_a_crash_past_the_intensity_is_recorded_as_giving_up(crash_log: CrashLog) -> None:
    sup = await Supervisor.start([ChildSpec("w", Worker)], intensity=0, period=60, name="test.fragile")
    with telemetry.capture(("supervisor", "escalate")) as seen:
        (info,) = await sup.which_children()
        assert isinstance(info.server, Server)
        info.server.cast(("crash", "last straw"))
        await seen.wait(("supervisor", "escalate"))
    (summary,) = (await _records(crash_log))["crashes"]
    assert (summary["decision"], summary["intensity_left"]) == ("give up", 0)


async def test_normal_exits_make_no_record(crash_log: CrashLog) -> None:
    async with Supervisor([ChildSpec("w", Worker)], name="test.sup") as sup:
        await sup.terminate_child("w")
        await sup.restart_child("w")
    assert (await _records(crash_log))["crashes"] == []


async def test_a_killed_crash_log_leaves_the_bus() -> None:
    log = await CrashLog.start()
    assert any(h.id.startswith(CRASHES_NAME) for h in telemetry.list_handlers(("supervisor",)))
    log.kill()  # no terminate: the handler stays attached until the next event
    await log.wait()
    async with Supervisor([ChildSpec("w", Worker)], name="test.sup") as sup:
        await _crash(sup, "w", "after the log died")
    assert not any(h.id.startswith(CRASHES_NAME) for h in telemetry.list_handlers(("supervisor",)))


# --- the records outlive the crash log: its tables pass to its keeper ------------------------------


def _log_tree(capacity: int = 3) -> list[ChildSpec]:
    """The crash log's part of the daemon's root: its keeper, then the crash log."""
    (keeper,) = CRASHES_KEEPER.child_specs(None, _NO_CONTEXT)
    log = ChildSpec(
        CRASHES_ID, CrashLog, kwargs={"capacity": capacity, "keeper": KEEPER_NAME}, name=CRASHES_NAME
    )
    return [keeper, log]


_NO_CONTEXT: Any = None  # the keeper's specs read nothing from the component context


async def _crash_the_log(root: Supervisor) -> CrashLog:
    """Crash ``arbord.crashes`` for real (a request it does not understand raises in its
    ``handle_call``), wait until the root has restarted it, and return the new incarnation."""
    old = whereis(CRASHES_NAME)
    assert isinstance(old, CrashLog)
    with pytest.raises(ServerExited):
        await call(old, ("not a request",))
    await old.wait()
    assert old.exit_reason is not None
    assert old.exit_reason.is_abnormal
    await root.which_children()  # a call: the exit and the restart are handled before it
    new = whereis(CRASHES_NAME)
    assert isinstance(new, CrashLog)
    assert new is not old
    return new


async def test_the_records_survive_a_crash_of_the_crash_log() -> None:
    async with (
        Supervisor(_log_tree(), name="test.root") as root,
        Supervisor([ChildSpec("w", Worker)], intensity=10, period=60, name="test.sup") as sup,
    ):
        for n in range(4):
            await _crash(sup, "w", f"crash {n}")
        log = whereis(CRASHES_NAME)
        assert isinstance(log, CrashLog)
        before = await _records(log)
        shown = await call(log, ("show", 4))
        log = await _crash_the_log(root)
        assert await _records(log) == before  # records, decisions, total and drop count
        assert (before["total"], before["dropped"]) == (3, 1)
        assert await call(log, ("show", 4)) == shown
        await _crash(sup, "w", "after the restart")  # the numbering goes on
        (newest, *_) = (await _records(log))["crashes"]
        assert (newest["id"], newest["error"], newest["decision"]) == (
            5,
            "ValueError: after the restart",
            "restart",
        )


async def test_a_restarted_keeper_is_made_heir_again() -> None:
    async with (
        Supervisor(_log_tree(), name="test.root") as root,
        Supervisor([ChildSpec("w", Worker)], intensity=10, period=60, name="test.sup") as sup,
    ):
        await _crash(sup, "w", "kept")
        keeper = whereis(KEEPER_NAME)
        assert isinstance(keeper, TableKeeper)
        keeper.kill()
        await keeper.wait()
        await root.which_children()  # the keeper is restarted and has sent KeeperUp
        log = whereis(CRASHES_NAME)
        assert isinstance(log, CrashLog)
        await _records(log)  # a call: the KeeperUp before it is handled
        log = await _crash_the_log(root)
        # The keeper's kill is a crash too (no exception): both records came back.
        assert [c["error"] for c in (await _records(log))["crashes"]] == [None, "ValueError: kept"]


async def test_a_smaller_capacity_drops_the_oldest_records_counted() -> None:
    keeper = await TableKeeper.start(name=KEEPER_NAME)
    log = await CrashLog.start(capacity=3, keeper=KEEPER_NAME, name=CRASHES_NAME)
    try:
        async with Supervisor([ChildSpec("w", Worker)], intensity=10, period=60, name="test.sup") as sup:
            for n in range(3):
                await _crash(sup, "w", f"crash {n}")
        await _records(log)  # the last decision is in
        await log.stop()  # as a reload of [crashes] stops it: the tables pass to the keeper
        log = await CrashLog.start(capacity=1, keeper=KEEPER_NAME, name=CRASHES_NAME)
        listing = await _records(log)
        assert [c["error"] for c in listing["crashes"]] == ["ValueError: crash 2"]
        assert (listing["total"], listing["dropped"], listing["capacity"]) == (1, 2, 1)
    finally:
        await log.stop()
        await keeper.stop()


def test_the_crash_log_keeps_its_records_when_it_crashes_in_the_daemon(
    start_arbord: StartArbord, short_tmp: Path
) -> None:
    # Issue 14: the crash records were the crash log's own state, lost when arbord.crashes restarted.
    marker = short_tmp / "crashed"
    config = (
        "[servers.once]\n"
        'start = "tests.daemon.crashing_servers:CrashOnceThenBreakTheLog"\n'
        f'args = ["{marker}"]\n'
    )
    running = start_arbord(config)
    broke = marker.with_name(marker.name + ".broke")
    wait_until(broke.exists, 20, what="the crash log crashed under a bad request")

    def listed() -> dict[str, Any]:
        reply = _request(running.control_socket, "crashes", {})
        result: dict[str, Any] = reply.get("result") or {}  # an error (busy) while it restarts
        return result

    listing = wait_until(listed, 20, what="the restarted crash log answers")
    (crash,) = listing["crashes"]
    listed_by_arborctl = _arborctl(running, "crashes")
    stderr = running.stderr()
    assert running.stop() == 0
    assert (crash["id"], crash["decision"]) == (1, "restart"), stderr
    assert "RuntimeError: crashing once on purpose" in crash["error"]
    assert listed_by_arborctl.returncode == 0, listed_by_arborctl.stderr
    assert "RuntimeError: crashing once on purpose" in listed_by_arborctl.stdout
    assert "not a request" in stderr  # the crash log's own crash, reported by the root


# --- end to end: arborctl against a real daemon ------------------------------------------------------


def _request(path: Path, method: str, params: Mapping[str, Any]) -> Any:
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(json.dumps({"id": 1, "method": method, "params": dict(params)}).encode() + b"\n")
        with sock.makefile("rb") as stream:
            return json.loads(stream.readline())


def _arborctl(daemon: RunningDaemon, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon.ctl", "--socket", str(daemon.control_socket), *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )


def _wait_for_crash(daemon: RunningDaemon, timeout: float = 20) -> Sequence[Mapping[str, Any]]:
    """Ask ``crashes`` until a record with its restart decision is there (or fail at ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crashes = _request(daemon.control_socket, "crashes", {})["result"]["crashes"]
        if crashes and crashes[0]["decision"] == "restart":
            return list(crashes)
    raise AssertionError(f"no crash record within {timeout} s:\n{daemon.stderr()}")


def test_arborctl_lists_and_shows_a_crash_of_a_user_server(
    start_arbord: StartArbord, short_tmp: Path
) -> None:
    marker = short_tmp / "crashed"
    config = (
        '[daemon]\nlog_format = "json"\n'
        f'[servers.once]\nstart = "tests.daemon.crashing_servers:CrashOnce"\nargs = ["{marker}"]\n'
    )
    running = start_arbord(config)
    (crash,) = _wait_for_crash(running)
    listing = _arborctl(running, "crashes")
    shown = _arborctl(running, "crashes", "show", str(crash["id"]))
    missing = _arborctl(running, "crashes", "show", "999")
    assert running.stop() == 0
    assert listing.returncode == 0, listing.stderr
    header, row = listing.stdout.splitlines()[:2]
    assert header.split() == ["ID", "TIME_UTC", "CHILD", "ERROR", "DECISION", "LEFT"]
    assert "arbord.servers/once" in row
    assert "RuntimeError: crashing once on purpose" in row
    assert shown.returncode == 0, shown.stderr
    assert "decision:       restart" in shown.stdout
    assert "hunter2" not in shown.stdout
    assert '"db_password":"[redacted]"' in shown.stdout
    assert "note: arbord context: correlation_id=" in shown.stdout
    assert 'raise RuntimeError("crashing once on purpose")' in shown.stdout
    assert (missing.returncode, "no crash 999" in missing.stderr) == (1, True)
    # The daemon's log line of that crash carries its id.
    lines = [json.loads(line) for line in running.stderr().splitlines() if line.startswith("{")]
    (report,) = [line for line in lines if line.get("crash_id") == crash["id"]]
    assert report["logger"].startswith("supervisor")
    assert report["child_id"] == "once"


class SpanningWorker(Server):
    """Crashes on the cast ``("crash", message)`` with two spans open (a span stays open when the
    exception leaves its block only once its task ends: ``start_span`` is never ended here)."""

    async def handle_cast(self, message: Any) -> None:
        start_span("import batch", {"batch": 7})
        start_span("parse row")
        raise ValueError(message[1])

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        return "ok"


async def test_a_crash_record_lists_the_spans_the_crash_left_open() -> None:
    # The crashes component wires the span server in (daemon/crashes/open_spans.py).
    spans = await SpanServer.start(name=SPANS_NAME)
    log = await CrashLog.start(capacity=3, name=CRASHES_NAME, open_spans=spans_left_open)
    try:
        async with Supervisor(
            [ChildSpec("w", SpanningWorker)], intensity=3, period=60, name="test.sup"
        ) as sup:
            await _crash(sup, "w", "bad row")
            (summary,) = (await _records(log))["crashes"]
            record = await call(log, ("show", summary["id"]))
        left = record["open_spans"]
        assert [s["name"] for s in left] == ["import batch", "parse row"]
        assert left[0]["attributes"] == {"batch": 7}
        assert left[1]["parent_id"] == left[0]["span_id"]
        assert left[0]["trace_id"] == left[1]["trace_id"]
    finally:
        await log.stop()
        await spans.stop()


def test_without_a_span_server_a_crash_records_no_open_spans() -> None:
    assert spans_left_open({"reason": crash(ValueError("x"))}) == ()


async def test_a_crash_record_keeps_the_flags_in_force() -> None:
    # Issue 14: "the flag values that were in force" at the crash (daemon/crashes/flags_in_force.py).
    flags = await Flags.start(store=MemoryStore(), name=FLAGS_NAME)
    log = await CrashLog.start(capacity=3, name=CRASHES_NAME, flags=flags_in_force)
    try:
        await flags.enable("beta", actor="test", create=True)
        many = [f"user-{n}" for n in range(MAX_ACTORS + 1)]
        for actor in many:
            await flags.enable("pilot", for_actor=actor, actor="test", create=True)
        async with Supervisor([ChildSpec("w", Worker)], intensity=3, period=60, name="test.sup") as sup:
            await _crash(sup, "w", "bad batch")
            (summary,) = (await _records(log))["crashes"]
            record = await call(log, ("show", summary["id"]))
        in_force = record["flags"]
        assert in_force["revision"] == flags.revision
        assert in_force["flags"]["beta"] == {"name": "beta", "boolean": True}
        assert in_force["flags"]["pilot"]["actors"] == {"count": len(many)}  # bounded, counted
        assert in_force["left_out"] == 0
    finally:
        await log.stop()
        await flags.stop()


def test_without_a_flags_server_a_crash_records_no_flags() -> None:
    assert flags_in_force() is None
