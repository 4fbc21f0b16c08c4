"""A hostile place to start in: rows X9 (a socket path past ``sun_path``) and X10 (``NOTIFY_SOCKET``
unreachable, ``WATCHDOG_USEC`` garbage), with the real daemon.

X8 (a stale socket is replaced, a live instance makes the second one refuse) is proven end to end in
``tests/daemon/test_control_daemon.py``
(``test_a_stale_socket_is_replaced_and_a_second_instance_refuses``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.daemon.conftest import START_TIMEOUT, RunningDaemon, StartArbord, spawn_arbord
from tests.inputs.wire import error_lines, ping_answers


def test_a_socket_path_past_sun_path_is_a_startup_error_naming_it(short_tmp: Path) -> None:
    runtime_dir = short_tmp / ("d" * 110)
    daemon = spawn_arbord(short_tmp, "", runtime_dir=runtime_dir)
    try:
        assert daemon.wait(START_TIMEOUT) == 78  # a configuration error: systemd does not retry
    finally:
        daemon.notify.close()
    stderr = daemon.stderr()
    assert f"control socket path '{runtime_dir / 'control.sock'}' is 141 bytes long" in stderr
    assert "Traceback" not in stderr


def _answers_eventually(daemon: RunningDaemon) -> None:
    """Without a service manager to hear READY, ask the socket until it answers (or the daemon dies)."""
    deadline = time.monotonic() + START_TIMEOUT
    while not ping_answers(daemon):
        assert daemon.process.poll() is None, daemon.stderr()
        assert time.monotonic() < deadline, daemon.stderr()
        time.sleep(0.05)  # polling the socket for readiness, not waiting out a race


@pytest.mark.parametrize(
    ("notify", "watchdog", "warned"),
    [
        ("/nonexistent/notify.sock", "soon", ["cannot notify", "WATCHDOG_USEC='soon'"]),
        ("@arbord-nobody-listens-here", "-5", ["cannot notify"]),
        ("vsock:2:1234", "99999999999999999999999999", ["not a Unix socket address"]),
        ("/nonexistent/notify.sock", "1e6", ["cannot notify", "WATCHDOG_USEC='1e6'"]),
    ],
    ids=["missing-path-word", "abstract-negative", "vsock-huge", "missing-path-float"],
)
def test_a_hostile_service_manager_environment_is_warned_about_and_survived(
    start_arbord: StartArbord, notify: str, watchdog: str, warned: list[str]
) -> None:
    daemon = start_arbord("", env={"NOTIFY_SOCKET": notify, "WATCHDOG_USEC": watchdog}, wait=False)
    _answers_eventually(daemon)
    assert daemon.stop() == 0  # and it stops cleanly too (STOPPING=1 goes nowhere, quietly)
    stderr = daemon.stderr()
    for text in warned:
        assert text in stderr
    assert error_lines(stderr) == []
    assert stderr.count("cannot notify") <= 1  # logged once, not per message
