"""sd_notify and loop health: messages as systemd reads them, the watchdog gate, the lag monitor."""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.app_logging import configure_logging, stderr_is_journal
from daemon.notify import Notifier, format_message, monotonic_usec
from daemon.watchdog import (
    LAG_EVENT,
    LAG_WARNING_EVERY,
    MIN_LAG_INTERVAL,
    MIN_WATCHDOG_INTERVAL,
    monitor_lag,
    ping_watchdog,
    watchdog_interval,
)
from supervisor import telemetry
from supervisor._clock import ManualClock
from tests.daemon.conftest import NotifyReceiver


@pytest.fixture
def receiver(short_tmp: Path) -> Iterator[NotifyReceiver]:
    receiver = NotifyReceiver.bind(short_tmp / "notify")
    yield receiver
    receiver.close()


# --- the protocol ----------------------------------------------------------------------------------


def test_messages_arrive_as_newline_separated_fields(receiver: NotifyReceiver) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": str(receiver.path)})
    assert notifier.ready(status="up and running")
    assert notifier.stopping()
    assert notifier.watchdog()
    assert notifier.status("line one\nline two")
    receiver.wait_for("STATUS", "line one; line two")
    assert receiver.messages == [
        {"READY": "1", "STATUS": "up and running"},
        {"STOPPING": "1"},
        {"WATCHDOG": "1"},
        {"STATUS": "line one; line two"},
    ]


def test_reloading_carries_the_monotonic_clock_in_microseconds(receiver: NotifyReceiver) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": str(receiver.path)})
    before = monotonic_usec()
    assert notifier.reloading()
    message = receiver.wait_for("RELOADING", "1")
    assert before <= int(message["MONOTONIC_USEC"]) <= monotonic_usec()


def test_an_abstract_address_is_reached_through_the_abstract_namespace() -> None:
    name = f"arbord-test-notify-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(10)
        assert Notifier.from_environ({"NOTIFY_SOCKET": "@" + name}).ready()
        assert sock.recv(100) == b"READY=1"


def test_without_notify_socket_every_send_is_a_quiet_no_op(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    assert not notifier.ready()
    assert not notifier.watchdog()
    assert caplog.records == []


def test_an_unknown_address_scheme_is_ignored() -> None:
    assert not Notifier.from_environ({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled


def test_a_broken_notify_socket_is_logged_once_and_never_raises(
    short_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": str(short_tmp / "nobody-listens")})
    with caplog.at_level(logging.WARNING, logger="arbord.notify"):
        results = [notifier.ready(), notifier.watchdog(), notifier.watchdog(), notifier.stopping()]
    assert results == [False, False, False, False]
    assert len(caplog.records) == 1
    assert "cannot notify the service manager" in caplog.records[0].getMessage()


def test_a_field_with_a_newline_is_refused() -> None:
    with pytest.raises(ValueError, match="newline"):
        format_message({"STATUS": "a\nREADY=1"})


# --- the watchdog ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "10000000"}, 5.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "123"}, 5.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "124"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
    ],
)
def test_watchdog_interval_is_half_the_timeout_and_only_for_our_pid(
    environ: dict[str, str], expected: float | None
) -> None:
    assert watchdog_interval(environ, pid=123) == expected


class Stopped(Exception):
    """Raised by the fake sleep to end an endless loop after enough rounds."""


async def test_the_watchdog_pings_only_while_the_tree_is_healthy(
    receiver: NotifyReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": str(receiver.path)})
    health = iter([True, False, False, True])
    intervals: list[float] = []

    async def healthy() -> bool:
        return next(health)

    async def sleep(seconds: float) -> None:
        intervals.append(seconds)
        if len(intervals) == 4:
            raise Stopped

    with caplog.at_level(logging.WARNING, logger="arbord.watchdog"), pytest.raises(Stopped):
        await ping_watchdog(notifier, 7.5, healthy, sleep)
    receiver.wait_for("WATCHDOG", after=1)
    receiver.drain()
    assert receiver.messages == [{"WATCHDOG": "1"}, {"WATCHDOG": "1"}]
    assert intervals == [7.5] * 4
    assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING"]  # withheld once, resumed once


@pytest.mark.parametrize("usec", ["1", "1000", str(int(MIN_WATCHDOG_INTERVAL * 2e6) - 1)])
def test_a_tiny_watchdog_timeout_is_floored_and_reported(usec: str, caplog: pytest.LogCaptureFixture) -> None:
    # WATCHDOG_USEC comes from the service manager, not from our settings: WATCHDOG_USEC=1 asked for
    # a ping every half microsecond, a notify flood. The floor holds, with one warning.
    with caplog.at_level(logging.WARNING, logger="arbord.watchdog"):
        assert watchdog_interval({"WATCHDOG_USEC": usec}, pid=1) == MIN_WATCHDOG_INTERVAL
    assert len(caplog.records) == 1
    assert f"WATCHDOG_USEC={usec}" in caplog.records[0].getMessage()


async def test_the_watchdog_never_pings_faster_than_the_floor(receiver: NotifyReceiver) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": str(receiver.path)})
    intervals: list[float] = []

    async def healthy() -> bool:
        return True

    async def sleep(seconds: float) -> None:
        intervals.append(seconds)
        if len(intervals) == 3:
            raise Stopped

    with pytest.raises(Stopped):
        await ping_watchdog(notifier, 1e-6, healthy, sleep)
    assert intervals == [MIN_WATCHDOG_INTERVAL] * 3


# --- the lag monitor --------------------------------------------------------------------------------


async def test_the_lag_monitor_reports_how_late_the_loop_woke_it(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    lateness = iter([0.0, 0.01, 0.5])

    async def sleep(seconds: float) -> None:
        extra = next(lateness, None)
        if extra is None:
            raise Stopped
        clock.advance(seconds + extra)

    with (
        telemetry.capture(LAG_EVENT) as seen,
        caplog.at_level(logging.WARNING, logger="arbord.watchdog"),
        pytest.raises(Stopped),
    ):
        await monitor_lag(0.5, 0.25, clock, sleep)
    assert [c.measurements for c in seen] == [
        {"lag": 0, "interval": 500_000_000},
        {"lag": 10_000_000, "interval": 500_000_000},
        {"lag": 500_000_000, "interval": 500_000_000},
    ]
    assert len(caplog.records) == 1
    assert "event loop lag 0.500 s" in caplog.records[0].getMessage()


async def test_lag_warnings_are_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    # A tiny lag_interval on a loop that lags every time flooded the log: one warning per
    # LAG_WARNING_EVERY seconds now, the next one counting what was held back. Every sample is
    # still a telemetry event.
    clock = ManualClock()
    slept: list[float] = []
    samples = 200

    async def sleep(seconds: float) -> None:
        if len(slept) == samples:
            raise Stopped
        slept.append(seconds)
        clock.advance(seconds + 0.5)  # every sample 0.5 s late

    with (
        telemetry.capture(LAG_EVENT) as seen,
        caplog.at_level(logging.WARNING, logger="arbord.watchdog"),
        pytest.raises(Stopped),
    ):
        await monitor_lag(1e-9, 0.25, clock, sleep)
    assert len(list(seen)) == samples
    assert set(slept) == {MIN_LAG_INTERVAL}
    elapsed = samples * (MIN_LAG_INTERVAL + 0.5)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) <= elapsed / LAG_WARNING_EVERY + 1
    assert "event loop lag 0.500 s" in messages[0]
    held_back = [int(m.split("(and ")[1].split(" more")[0]) for m in messages[1:]]
    assert held_back
    assert all(count > 0 for count in held_back)
    assert sum(held_back) + len(messages) <= samples  # the last window's are still held back


# --- logs under journald ---------------------------------------------------------------------------


@pytest.mark.usefixtures("restore_logging")
def test_lines_carry_their_syslog_priority_when_stderr_is_the_journal(tmp_path: Path) -> None:
    log_path = tmp_path / "stderr"
    with log_path.open("w") as stream:
        info = os.fstat(stream.fileno())
        environ = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        assert stderr_is_journal(environ, stream)
        configure_logging("info", environ, stream)
        logging.getLogger("arbord.test").warning("two\nlines")
        logging.getLogger("arbord.test").debug("hidden at info")
    assert log_path.read_text() == "<4>arbord.test: two\n<4>lines\n"


@pytest.mark.usefixtures("restore_logging")
def test_elsewhere_lines_carry_a_timestamp(tmp_path: Path) -> None:
    with (tmp_path / "stderr").open("w") as stream:
        assert not stderr_is_journal({"JOURNAL_STREAM": "1:2"}, stream)
        assert not stderr_is_journal({}, stream)
        configure_logging("debug", {}, stream)
        logging.getLogger("arbord.test").debug("shown at debug")
    assert (tmp_path / "stderr").read_text().endswith(" DEBUG arbord.test: shown at debug\n")


@pytest.mark.usefixtures("restore_logging")
def test_configuring_again_replaces_the_handler() -> None:
    configure_logging("info", {}, sys.stderr)
    configure_logging("warning", {}, sys.stderr)
    names = [h.get_name() for h in logging.getLogger().handlers]
    assert names.count("arbord-stderr") == 1
    assert logging.getLogger("arbord").level == logging.WARNING
