"""Exit reasons and which of them are logged (docs/otp-conformance.md#exit-reasons).

Groups: the reasons (normal, shutdown, ``{shutdown, Term}``, killed, noproc, crash) and
``is_abnormal``; the crash log of an unsupervised server: once, as an error, only for abnormal reasons.
"""

from __future__ import annotations

import logging

import pytest

from supervisor._exits import KILLED, NOPROC, NORMAL, SHUTDOWN, Exit, ExitKind, crash, shutdown
from supervisor._server import Server, Stop
from supervisor.errors import StartFailed

SERVER_LOG = "supervisor.server"

# --- the reasons -----------------------------------------------------------------------------------


def test_the_named_reasons_have_their_kinds() -> None:
    assert NORMAL.kind is ExitKind.NORMAL
    assert SHUTDOWN.kind is ExitKind.SHUTDOWN
    assert KILLED.kind is ExitKind.KILLED
    assert NOPROC.kind is ExitKind.NOPROC
    assert all(r.term is None and r.exception is None for r in (NORMAL, SHUTDOWN, KILLED, NOPROC))


def test_shutdown_without_a_term_is_plain_shutdown() -> None:
    assert shutdown() is SHUTDOWN


def test_shutdown_with_a_term_carries_it() -> None:
    reason = shutdown({"why": "maintenance"})
    assert reason.kind is ExitKind.SHUTDOWN
    assert reason.term == {"why": "maintenance"}
    assert reason == shutdown({"why": "maintenance"})
    assert reason != SHUTDOWN


def test_a_crash_carries_its_exception() -> None:
    error = ValueError("boom")
    reason = crash(error)
    assert reason.kind is ExitKind.CRASH
    assert reason.exception is error
    assert reason != crash(ValueError("boom"))  # a different exception is a different crash


@pytest.mark.parametrize(
    ("reason", "abnormal"),
    [
        (NORMAL, False),
        (SHUTDOWN, False),
        (shutdown("term"), False),
        (KILLED, True),
        (NOPROC, True),
        (crash(RuntimeError("x")), True),
    ],
    ids=["normal", "shutdown", "shutdown-term", "killed", "noproc", "crash"],
)
def test_only_normal_and_shutdown_are_not_abnormal(reason: Exit, abnormal: bool) -> None:
    assert reason.is_abnormal is abnormal


def test_reasons_are_immutable_and_hashable() -> None:
    with pytest.raises(AttributeError):
        NORMAL.kind = ExitKind.CRASH  # type: ignore[misc]
    assert len({NORMAL, SHUTDOWN, shutdown("a"), shutdown("a"), KILLED}) == 4


def test_reasons_read_well() -> None:
    assert repr(NORMAL) == "Exit(normal)"
    assert repr(shutdown("maintenance")) == "Exit(shutdown: 'maintenance')"
    assert repr(KILLED) == "Exit(killed)"
    assert repr(crash(ValueError("boom"))) == "Exit(crash: ValueError('boom'))"


# --- what is logged --------------------------------------------------------------------------------


class Boom(Exception):
    """The crash the test servers raise on purpose."""


class Crashy(Server):
    """A cast of an ``Exit`` stops with it; the cast ``"raise"`` crashes with ``Boom``."""

    async def handle_cast(self, message: object) -> None:
        if isinstance(message, Exit):
            raise Stop(message)
        raise Boom("callback crashed")


class Quiet(Crashy):
    log_crashes = False


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == SERVER_LOG and r.levelno >= logging.ERROR]


async def test_a_crash_of_an_unsupervised_server_is_logged_once_as_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = await Crashy.start(name="test_exits.crashy")
    server.cast("raise")
    reason = await server.wait()
    [record] = errors(caplog)
    assert record.exc_info is not None
    assert record.exc_info[1] is reason.exception
    assert getattr(record, "server", None) == "test_exits.crashy"
    assert getattr(record, "reason", None) == reason


@pytest.mark.parametrize(
    "reason", [NORMAL, SHUTDOWN, shutdown("maintenance")], ids=["normal", "shutdown", "shutdown-term"]
)
async def test_normal_and_shutdown_exits_are_not_logged_as_errors(
    caplog: pytest.LogCaptureFixture, reason: Exit
) -> None:
    server = await Crashy.start()
    server.cast(reason)
    assert await server.wait() == reason
    stopped = await Crashy.start()
    assert await stopped.stop(reason) == reason
    assert errors(caplog) == []


@pytest.mark.parametrize("reason", [KILLED, crash(Boom("by Stop"))], ids=["stop-killed", "stop-crash"])
async def test_any_other_reason_is_logged_as_an_error(caplog: pytest.LogCaptureFixture, reason: Exit) -> None:
    server = await Crashy.start()
    server.cast(reason)
    assert await server.wait() == reason
    [record] = errors(caplog)
    assert getattr(record, "reason", None) == reason


async def test_a_killed_server_is_logged_once_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    server = await Crashy.start()
    server.kill()
    assert await server.wait() == KILLED
    assert len(errors(caplog)) == 1


class BadTerminate(Crashy):
    async def terminate(self, reason: Exit) -> None:
        raise Boom("terminate crashed")


async def test_a_terminate_that_raises_on_a_normal_stop_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = await BadTerminate.start()
    reason = await server.stop()
    [record] = errors(caplog)
    assert record.exc_info is not None
    assert record.exc_info[1] is reason.exception


async def test_a_terminate_that_raises_after_a_crash_logs_both_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = await BadTerminate.start()
    server.cast("raise")
    reason = await server.wait()
    assert str(reason.exception) == "callback crashed"  # the exit reason stays the first crash
    logged = [r.exc_info[1] for r in errors(caplog) if r.exc_info is not None]
    assert sorted(str(e) for e in logged) == ["callback crashed", "terminate crashed"]


async def test_log_crashes_false_silences_the_crash_log(caplog: pytest.LogCaptureFixture) -> None:
    server = await Quiet.start()
    server.cast("raise")
    assert (await server.wait()).kind is ExitKind.CRASH
    assert errors(caplog) == []


async def test_a_crash_in_init_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    class FailingInit(Server):
        async def init(self) -> None:
            raise Boom("init crashed")

    with pytest.raises(StartFailed):
        await FailingInit.start()
    assert len(errors(caplog)) == 1
