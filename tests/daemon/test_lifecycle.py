"""Stops and reloads always finish: the real daemon against children that hang (issue 12, items 3, 4
and 8; docs/operations.md, "Stop and reload guarantees").

Every test here hung for ever, or lost state, before its fix. Waits are bounded by the fixtures'
timeouts (a hang fails the test); nothing is timed.
"""

from __future__ import annotations

import signal

from daemon.app import ExitCode
from tests.daemon.conftest import StartArbord


def server(name: str, cls: str, extra: str = "") -> str:
    return f'[servers.{name}]\nstart = "tests.daemon.lifecycle_servers:{cls}"\n{extra}'


# --- stop ------------------------------------------------------------------------------------------


def test_a_child_abandoned_deep_in_the_tree_makes_the_stop_exit_70(start_arbord: StartArbord) -> None:
    # The user server sits under the servers supervisor, which abandons it; the root saw a clean stop.
    running = start_arbord("[daemon]\nshutdown_timeout = 8.0\n" + server("deaf", "Deaf", "shutdown = 0.1\n"))
    running.signal(signal.SIGTERM)
    assert running.wait() == ExitCode.SOFTWARE
    stderr = running.stderr()
    assert "children that would not stop were abandoned: arbord.servers/deaf" in stderr
    assert "stopped\n" not in stderr


def test_a_stop_that_blocks_the_event_loop_still_exits_70(start_arbord: StartArbord) -> None:
    running = start_arbord(
        "[daemon]\nshutdown_timeout = 0.5\n" + server("blocker", "BlocksTheLoop", "shutdown = 5.0\n")
    )
    running.signal(signal.SIGTERM)
    assert running.wait() == ExitCode.SOFTWARE
    assert "the stop overran [daemon] shutdown_timeout; exiting 70" in running.stderr()
