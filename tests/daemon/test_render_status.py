"""``arborctl status`` for a person: uptime with its unit, restart counts, the last crash."""

from __future__ import annotations

from daemon.verbs.render import render_result, render_status

# 2026-12-03 10:15:02 UTC, and the moment the status is read: 4 minutes 12 seconds later.
CRASHED_AT = 1796292902.0
NOW = CRASHED_AT + 252.0


def a_status(**changes: object) -> dict[str, object]:
    status: dict[str, object] = {
        "state": "running",
        "pid": 4242,
        "uptime": 3725.5,
        "version": "0.1.0",
        "restarts": {"total": 3, "children": {"root/servers": 1, "root/servers/echo": 2}},
        "last_crash": {
            "time": CRASHED_AT,
            "child": "root/servers/echo",
            "reason": "crash: RuntimeError('boom')",
        },
        "control": {"socket": "/run/arbord/control.sock", "connections": 1},
    }
    status.update(changes)
    return status


def test_status_shows_uptime_with_units_restarts_per_child_and_the_last_crash() -> None:
    assert render_status(a_status(), now=NOW).splitlines() == [
        "state:      running",
        "pid:        4242",
        "uptime:     1h02m",
        "version:    0.1.0",
        "restarts:   3 (root/servers/echo 2, root/servers 1)",
        "last crash: root/servers/echo 4m12s ago (2026-12-03 10:15:02 UTC): crash: RuntimeError('boom')",
        "control:    socket=/run/arbord/control.sock connections=1",
    ]


def test_a_daemon_that_never_restarted_anything_says_so() -> None:
    shown = render_status(a_status(restarts={"total": 0, "children": {}}, last_crash=None), now=NOW)
    assert "restarts:   0" in shown.splitlines()
    assert "last crash: none" in shown.splitlines()


def test_render_result_renders_status_with_render_status() -> None:
    assert "uptime:     1h02m" in render_result("status", a_status()).splitlines()
