"""Stops and reloads always finish: the real daemon against children that hang (issue 12, items 3, 4
and 8; docs/operations.md, "Stop and reload guarantees").

Every test here hung for ever, or lost state, before its fix. Waits are bounded by the fixtures'
timeouts (a hang fails the test); nothing is timed.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from daemon.app import ExitCode
from daemon.ctl.client import ControlReplyError, open_control_client
from tests.daemon.conftest import StartArbord
from tests.daemon.test_process import request


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


# --- reload ----------------------------------------------------------------------------------------

BASE = "[cache.caches.sessions]\nttl = 30.0\n"
# Applied in component order: the cache is restarted, servers.a started, then servers.never fails.
BAD = (
    "[cache.caches.sessions]\nttl = 5.0\n"
    + '[servers.a]\nstart = "supervisor:Server"\n'
    + server("never", "NeverStarts", "start_timeout = 0.5\n")
)


def servers_running(path: Path) -> list[str]:
    return [child["id"] for child in request(path, "which_children", {"path": "root/servers"})["children"]]


def test_a_reload_whose_server_never_starts_is_rolled_back_whole(start_arbord: StartArbord) -> None:
    running = start_arbord(BASE)
    sock = running.control_socket
    before = request(sock, "config.show")
    running.write_config(BAD)
    for _ in range(2):  # the second reload diffs against what runs, not against settings never swapped
        reply = request(sock, "reload")
        assert reply["ok"] is False
        assert reply["changed"] == ["cache", "servers"]
        assert reply["restarted"] == ["cache", "servers.a", "servers.never"]
        assert reply["rolled_back"] == ["servers.a", "cache"]
        assert reply["errors"][0].startswith("servers.never: failed to start with the new configuration")
        assert "did not start within 0.5 s" in reply["errors"][0]
        assert request(sock, "config.show") == before
        assert servers_running(sock) == []
    # The tree still answers management calls, and a good file applies.
    assert request(sock, "tree")["children"]
    running.write_config(BAD.split("[servers.never]")[0])
    reply = request(sock, "reload")
    assert (reply["ok"], reply["restarted"], reply["rolled_back"]) == (True, ["cache", "servers.a"], [])
    assert servers_running(sock) == ["a"]


def test_a_sighup_reload_whose_server_never_starts_ends_ready(start_arbord: StartArbord) -> None:
    running = start_arbord(BASE)
    running.write_config(BAD)
    seen = len(running.notify.messages)
    running.signal(signal.SIGHUP)
    ready = running.notify.wait_for("READY", "1", after=seen)
    assert ready["STATUS"].startswith("running; reload failed: servers.never: failed to start")
    assert request(running.control_socket, "status")["state"] == "running"
    assert running.stop() == ExitCode.OK


def test_a_reload_outliving_its_request_still_finishes(start_arbord: StartArbord) -> None:
    # The reload request times out (request_timeout) while servers.never is starting; the reload goes
    # on to its end and rolls back, instead of being cut short half-applied.
    running = start_arbord("[control]\nrequest_timeout = 0.3\n" + BASE)
    sock = running.control_socket
    before = request(sock, "config.show")
    running.write_config("[control]\nrequest_timeout = 0.3\n" + BAD.replace("0.5", "2.0"))
    seen = len(running.notify.messages)
    with pytest.raises(AssertionError, match="timeout"):
        request(sock, "reload")
    ready = running.notify.wait_for("READY", "1", after=seen)
    assert ready["STATUS"].startswith("running; reload failed: servers.never")
    assert request(sock, "config.show") == before
    assert servers_running(sock) == []


# --- reload of [control] ---------------------------------------------------------------------------


async def test_a_reload_of_control_limits_keeps_the_connections_and_their_entries(
    start_arbord: StartArbord,
) -> None:
    running = start_arbord("")
    async with (
        open_control_client(running.control_socket) as holder,
        open_control_client(running.control_socket) as operator,
    ):
        await holder.call("registry.register", {"key": "job-1", "metadata": {}})
        running.write_config("[control]\nidle_timeout = 120.0\nrequest_timeout = 20.0\nmax_connections = 2\n")
        reply = await operator.call("reload")
        assert (reply["ok"], reply["changed"], reply["restarted"]) == (True, ["control"], [])
        # The holder's connection is the same one, and its entry is still there.
        assert await holder.call("ping") == {"pong": True}
        assert (await operator.call("registry.lookup", {"key": "job-1"}))["key"] == "job-1"
        shown = await operator.call("config.show")
        assert (shown["control"]["idle_timeout"], shown["control"]["max_connections"]) == (120.0, 2)
        # The new limit is in force at once: a third connection is turned away busy.
        async with open_control_client(running.control_socket) as third:
            with pytest.raises((ControlReplyError, ConnectionError)) as busy:
                await third.call("ping")
        if isinstance(busy.value, ControlReplyError):
            assert busy.value.code == "busy"


def test_a_start_child_that_never_starts_fails_and_the_supervisor_answers(start_arbord: StartArbord) -> None:
    running = start_arbord("")
    sock = running.control_socket
    spec = {"id": "never", "start": "tests.daemon.lifecycle_servers:NeverStarts", "start_timeout": 0.3}
    with pytest.raises(AssertionError, match=r"did not start within 0\.3 s"):
        request(sock, "start_child", {"path": "root/servers", "spec": spec})
    assert servers_running(sock) == []
    assert request(sock, "terminate_child", {"path": "root/cache"}) is not None
    assert request(sock, "restart_child", {"path": "root/cache"}) is not None
