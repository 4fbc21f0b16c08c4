"""The supervisor report: every restart a supervisor performs is logged once, with the supervisor, the
child, the exit reason and the restart count (docs/otp-conformance.md#restart-reports).

A restart after ``shutdown`` is reported as well as one after a crash: a sub-supervisor that gives up
exits with ``shutdown``, and its parent's restart of it used to leave nothing in the log but the
sub-supervisor's "reached max restart intensity; shutting down", which read as if it stayed down.
"""

from __future__ import annotations

import gc
import logging
import traceback
import weakref

import pytest

from supervisor import NORMAL, SHUTDOWN, ChildSpec, ChildType, Exit, ExitKind, Restart, Supervisor
from tests.supervisor.test_supervisor_support import EventLog, crash_child, server_of, worker


def restart_reports(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, Exit, int]]:
    """(supervisor, child, reason, restart count) of each restart report, in order."""
    return [
        (r.supervisor, r.child_id, r.reason, r.restart_count)  # type: ignore[attr-defined]
        for r in caplog.records
        if "restarting it" in r.getMessage()
    ]


async def test_every_restart_is_reported_with_supervisor_child_reason_and_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log)], intensity=5, name="reporting-sup") as sup:
        for _ in range(2):
            await crash_child(await server_of(sup, "a"))
            await sup.count_children()
    reports = restart_reports(caplog)
    assert [(s, c, n) for s, c, _, n in reports] == [("reporting-sup", "a", 1), ("reporting-sup", "a", 2)]
    assert all(reason.kind is ExitKind.CRASH for _, _, reason, _ in reports)
    (record, _) = [r for r in caplog.records if "restarting it" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None  # the crash's traceback travels with its report


async def test_a_permanent_child_restarted_after_a_normal_exit_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # OTP reports any exit of a permanent child: it is restarted, so somebody should know why.
    log: EventLog = []
    async with Supervisor([worker("a", log)], name="normal-sup") as sup:
        await crash_child(await server_of(sup, "a"), NORMAL)
        await sup.count_children()
    assert restart_reports(caplog) == [("normal-sup", "a", NORMAL, 1)]
    (record,) = [r for r in caplog.records if "restarting it" in r.getMessage()]
    assert record.levelno == logging.WARNING  # a restart, but no crash


async def test_a_transient_child_exiting_normally_is_neither_restarted_nor_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: EventLog = []
    async with Supervisor([worker("a", log, restart=Restart.TRANSIENT)]) as sup:
        await crash_child(await server_of(sup, "a"), NORMAL)
        await sup.count_children()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_the_root_restarting_a_sub_supervisor_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    log: EventLog = []
    inner = ChildSpec(
        "inner",
        Supervisor,
        args=([worker("x", log)],),
        kwargs={"intensity": 0},
        type=ChildType.SUPERVISOR,
        name="inner-sup",
    )
    async with Supervisor([inner], name="root-sup") as root:
        sub = await server_of(root, "inner")
        await crash_child(await server_of(sub, "x"))
        assert await sub.wait() == SHUTDOWN
        await root.count_children()
        assert (await server_of(root, "inner")) is not sub
    messages = [r.getMessage() for r in caplog.records]
    # The order an operator reads: the crash, the sub-supervisor giving up, the root restarting it.
    assert [m.split(":")[0] for m in messages if "inner-sup" in m or "root-sup" in m] == [
        "child 'x' of supervisor inner-sup exited",
        "supervisor inner-sup reached max restart intensity (0 in 5 s); shutting down",
        "child 'inner' of supervisor root-sup exited",
    ]
    assert restart_reports(caplog) == [("root-sup", "inner", SHUTDOWN, 1)]


async def test_a_restarted_crash_leaves_no_garbage_cycle() -> None:
    # The crashed incarnation is freed by reference counting once its supervisor has reported it: a
    # cycle through its traceback's frames made every few dozen restarts pay for a collection.
    log: EventLog = []
    async with Supervisor([worker("a", log)], intensity=5) as sup:
        gc.collect()
        gc.disable()
        try:
            old = await server_of(sup, "a")
            reason = await crash_child(old)
            await sup.count_children()
            gone = weakref.ref(old)
            del old
            assert gone() is None
            # The traceback still says where the crash came from.
            assert reason.exception is not None
            assert "handle_cast" in "".join(traceback.format_exception(reason.exception))
        finally:
            gc.enable()
