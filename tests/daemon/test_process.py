"""End to end: the real daemon as a subprocess, seen by a fake service manager and the control socket.

Each test starts ``python -m daemon run --config <file>`` in its own short runtime directory with
``NOTIFY_SOCKET`` pointing at a ``NotifyReceiver`` (tests/daemon/conftest.py).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from daemon.app import ExitCode
from supervisor import Exit, Server
from tests.daemon.conftest import ROOT, RunningDaemon, StartArbord, daemon_environ, spawn_arbord, wait_ready


class Stubborn(Server):
    """A user server whose terminate never returns (with ``shutdown = "infinity"``)."""

    async def terminate(self, reason: Exit) -> None:
        import asyncio

        await asyncio.Event().wait()


class Crasher(Server):
    """A user server that crashes as soon as it has started, so its supervisors exhaust their intensity."""

    async def init(self) -> None:
        self.continue_with("crash")

    async def handle_continue(self, arg: Any) -> None:
        raise RuntimeError("crashing on purpose")


def request(path: Path, method: str, params: dict[str, Any] | None = None, timeout: float = 10) -> Any:
    """One request on a fresh connection; the reply's ``result`` (or AssertionError with the error)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(json.dumps({"id": 1, "method": method, "params": params or {}}).encode() + b"\n")
        with sock.makefile("rb") as stream:
            reply = json.loads(stream.readline())
    if "error" in reply:
        raise AssertionError(f"{method}: {reply['error']}")
    return reply["result"]


# --- start -----------------------------------------------------------------------------------------


def test_ready_and_status_are_sent_once_the_tree_is_up(arbord_daemon: RunningDaemon) -> None:
    ready = arbord_daemon.notify.wait_for("READY", "1")
    assert ready["STATUS"] == f"running; control socket {arbord_daemon.control_socket}"
    assert f"control socket: {arbord_daemon.control_socket}" in arbord_daemon.stderr()
    assert arbord_daemon.runtime_dir.stat().st_mode & 0o777 == 0o700
    status = request(arbord_daemon.control_socket, "status")
    assert status["state"] == "running"
    assert status["pid"] == arbord_daemon.pid
    assert status["loop"] == "uvloop"


def test_the_loop_setting_selects_the_standard_loop(start_arbord: StartArbord) -> None:
    running = start_arbord('[daemon]\nloop = "asyncio"\n')
    assert request(running.control_socket, "status")["loop"] == "asyncio"
    assert running.stop() == ExitCode.OK


def test_without_config_it_runs_on_the_defaults_in_runtime_directory(short_tmp: Path) -> None:
    runtime = short_tmp / "systemd-made"
    running = spawn_arbord(short_tmp, None, env={"RUNTIME_DIRECTORY": str(runtime)})
    try:
        wait_ready(running)
        assert (runtime / "control.sock").exists()
        assert request(runtime / "control.sock", "config.show")["daemon"]["log_level"] == "info"
        assert running.stop() == ExitCode.OK
    finally:
        running.notify.close()


def test_xdg_runtime_dir_is_used_when_systemd_gives_none(short_tmp: Path) -> None:
    running = spawn_arbord(short_tmp, None, env={"XDG_RUNTIME_DIR": str(short_tmp)})
    try:
        wait_ready(running)
        assert request(short_tmp / "arbord" / "control.sock", "ping") == {"pong": True}
        assert running.stop() == ExitCode.OK
    finally:
        running.notify.close()


def test_the_watchdog_is_pinged_when_systemd_asks(start_arbord: StartArbord) -> None:
    running = start_arbord("", env={"WATCHDOG_USEC": "200000"})
    running.notify.wait_for("WATCHDOG", "1")
    count = len(running.notify.messages)
    running.notify.wait_for("WATCHDOG", "1", after=count)
    assert running.stop() == ExitCode.OK


def test_a_second_instance_on_the_same_socket_refuses_to_start(
    arbord_daemon: RunningDaemon, short_tmp: Path
) -> None:
    workdir = short_tmp / "second"
    workdir.mkdir()
    second = spawn_arbord(workdir, "", runtime_dir=arbord_daemon.runtime_dir)
    try:
        assert second.wait() == ExitCode.FAILURE
        assert "the supervision tree failed to start" in second.stderr()
        assert "Traceback" not in second.stderr()
    finally:
        second.notify.close()
    assert request(arbord_daemon.control_socket, "ping") == {"pong": True}


def test_an_unsafe_runtime_directory_exits_78_so_systemd_does_not_retry(short_tmp: Path) -> None:
    workdir = short_tmp / "unsafe"
    runtime_dir = workdir / "run"
    runtime_dir.mkdir(parents=True)
    os.chmod(runtime_dir, 0o777)  # anyone could replace the socket
    refused = spawn_arbord(workdir, "", runtime_dir=runtime_dir)
    try:
        assert refused.wait() == ExitCode.CONFIG
        assert "lets others replace the socket" in refused.stderr()
        assert "Traceback" not in refused.stderr()
    finally:
        refused.notify.close()


def test_a_runtime_directory_that_is_a_symbolic_link_exits_78(short_tmp: Path) -> None:
    # Issue 12: a link in a sticky directory was accepted (stat follows it) and re-pointed later by
    # its owner. The daemon lstat-s its runtime directory and refuses a link, whoever owns it.
    workdir = short_tmp / "linked"
    target = workdir / "real"
    target.mkdir(parents=True, mode=0o700)
    runtime_dir = workdir / "run"
    runtime_dir.symlink_to(target)
    refused = spawn_arbord(workdir, "", runtime_dir=runtime_dir)
    try:
        assert refused.wait() == ExitCode.CONFIG
        assert "symbolic link" in refused.stderr()
        assert "Traceback" not in refused.stderr()
        assert not (target / "control.sock").exists()
    finally:
        refused.notify.close()


# --- configuration errors: exit 78, one message per problem, no traceback ---------------------------


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        ("[daemon\n", {}, "TOML syntax error: "),
        ("[daemon]\nshutdown_timeout = 'soon'\n", {}, "daemon.shutdown_timeout: expected a valid number"),
        ("[control]\nmax_conections = 3\n", {}, "control.max_conections: unknown key; expected one of:"),
        (
            "",
            {"ARBORD_CONTROL__MAX_CONNECTIONS": "lots"},
            "environment variable ARBORD_CONTROL__MAX_CONNECTIONS",
        ),
        ("", {"ARBORD_BOGUS": "1"}, "bogus: unknown section"),
        ("", {"ARBORD_CONTROL__SOCKET": "/tmp/" + "d" * 110}, "AF_UNIX allows at most 107"),
    ],
    ids=["syntax", "type", "unknown-key", "env-type", "env-unknown", "sun-path"],
)
def test_a_bad_configuration_exits_78_with_the_problem(
    start_arbord: StartArbord, config: str, env: dict[str, str], expected: str
) -> None:
    running = start_arbord(config, env=env, wait=False)
    assert running.wait() == ExitCode.CONFIG
    stderr = running.stderr()
    assert "arbord: configuration refused:" in stderr
    assert expected in stderr
    assert "Traceback" not in stderr


def test_a_missing_config_file_exits_78(short_tmp: Path) -> None:
    missing = short_tmp / "missing.toml"
    running = spawn_arbord(short_tmp, None, args=("--config", str(missing)))
    try:
        assert running.wait() == ExitCode.CONFIG
        assert f"{missing}: configuration file not found" in running.stderr()
    finally:
        running.notify.close()


# --- signals and exit codes ------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_sends_stopping_and_exits_0(arbord_daemon: RunningDaemon, sig: signal.Signals) -> None:
    arbord_daemon.signal(sig)
    assert arbord_daemon.wait() == ExitCode.OK
    assert arbord_daemon.notify.wait_for("STOPPING", "1")["STATUS"] == "stopping"
    assert not arbord_daemon.control_socket.exists()


def test_the_shutdown_method_stops_like_sigterm(arbord_daemon: RunningDaemon) -> None:
    request(arbord_daemon.control_socket, "shutdown")
    assert arbord_daemon.wait() == ExitCode.OK
    arbord_daemon.notify.wait_for("STOPPING", "1")


STUBBORN = '[servers.stubborn]\nstart = "tests.daemon.test_process:Stubborn"\nshutdown = "infinity"\n'


def test_a_second_signal_forces_the_exit(start_arbord: StartArbord) -> None:
    running = start_arbord("[daemon]\nshutdown_timeout = 50.0\n" + STUBBORN)
    running.signal(signal.SIGTERM)
    running.notify.wait_for("STOPPING", "1")
    running.signal(signal.SIGTERM)
    assert running.wait() == ExitCode.FAILURE
    assert "second SIGTERM while stopping: forcing the exit" in running.stderr()


def test_a_stop_over_budget_exits_70(start_arbord: StartArbord) -> None:
    running = start_arbord("[daemon]\nshutdown_timeout = 0.3\n" + STUBBORN)
    running.signal(signal.SIGTERM)
    assert running.wait() == ExitCode.SOFTWARE
    assert "did not stop within 0.3 s" in running.stderr()


def test_the_root_giving_up_exits_70(start_arbord: StartArbord) -> None:
    config = "[tree.root]\nintensity = 0\n[tree.servers]\nintensity = 0\n"
    crasher = '[servers.crasher]\nstart = "tests.daemon.test_process:Crasher"\n'
    running = start_arbord(config + crasher, wait=False)
    assert running.wait() == ExitCode.SOFTWARE
    assert "gave up" in running.stderr()


# SIGTERM under load (draining, exit 0 within the stop budget) is the fault suite's F14:
# tests/faults/test_unit_faults.py::test_f14_sigterm_under_load_drains_and_exits_0_within_the_stop_budget.


# --- reload ----------------------------------------------------------------------------------------


def test_sighup_reloads_with_reloading_then_ready(arbord_daemon: RunningDaemon) -> None:
    arbord_daemon.write_config("[registry]\nmax_entries_per_owner = 9\n")
    seen = len(arbord_daemon.notify.messages)
    arbord_daemon.signal(signal.SIGHUP)
    reloading = arbord_daemon.notify.wait_for("RELOADING", "1", after=seen)
    assert int(reloading["MONOTONIC_USEC"]) > 0
    arbord_daemon.notify.wait_for("READY", "1", after=seen)
    shown = request(arbord_daemon.control_socket, "config.show")
    assert shown["registry"]["max_entries_per_owner"] == 9


def test_a_reload_with_a_bad_file_keeps_the_old_configuration(arbord_daemon: RunningDaemon) -> None:
    before = request(arbord_daemon.control_socket, "config.show")
    arbord_daemon.write_config("[registry]\nmax_entries_per_owner = 'many'\n")
    seen = len(arbord_daemon.notify.messages)
    arbord_daemon.signal(signal.SIGHUP)
    ready = arbord_daemon.notify.wait_for("READY", "1", after=seen)
    assert ready["STATUS"].startswith("running; reload failed: registry.max_entries_per_owner")
    assert request(arbord_daemon.control_socket, "config.show") == before
    reply = request(arbord_daemon.control_socket, "reload")
    assert reply["ok"] is False
    assert reply["errors"][0].startswith("registry.max_entries_per_owner: expected a valid integer")
    assert "reload: registry.max_entries_per_owner" in arbord_daemon.stderr()
    assert arbord_daemon.process.poll() is None


def test_the_reload_method_waits_for_the_result(arbord_daemon: RunningDaemon) -> None:
    arbord_daemon.write_config("[cache.caches.sessions]\nttl = 5.0\n")
    reply = request(arbord_daemon.control_socket, "reload")
    assert reply == {
        "ok": True,
        "errors": [],
        "changed": ["cache"],
        "restarted": ["cache"],
        "needs_restart": [],
        "rolled_back": [],
    }


def test_a_reload_that_moves_the_control_socket_answers_then_replaces_the_server(
    arbord_daemon: RunningDaemon,
) -> None:
    arbord_daemon.write_config('[control]\nsocket = "control.sock"\nmax_connections = 7\n')
    seen = len(arbord_daemon.notify.messages)
    reply = request(arbord_daemon.control_socket, "reload")
    assert reply["ok"] is True
    assert reply["restarted"] == ["control"]
    # The replacement runs after the reply, and says so in a STATUS line.
    restarted = f"running; control server restarted; control socket {arbord_daemon.control_socket}"
    arbord_daemon.notify.wait_for("STATUS", restarted, after=seen)
    assert request(arbord_daemon.control_socket, "ping") == {"pong": True}
    assert request(arbord_daemon.control_socket, "config.show")["control"]["max_connections"] == 7


def test_the_console_when_enabled_listens_on_an_owner_only_socket(start_arbord: StartArbord) -> None:
    running = start_arbord("[console]\nenabled = true\n")
    console = running.runtime_dir / "console.sock"
    assert console.stat().st_mode & 0o777 == 0o600
    assert running.stop() == ExitCode.OK


def arborctl(running: RunningDaemon, *verb: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon.ctl", "--socket", str(running.control_socket), *verb],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=daemon_environ(None),
        timeout=30,
        check=False,
    )


def test_arborctl_reload_is_what_execreload_runs(arbord_daemon: RunningDaemon) -> None:
    # systemctl reload succeeds or fails with arborctl's exit code, once the daemon has finished.
    arbord_daemon.write_config("[cache.caches.sessions]\nttl = 5.0\n")
    done = arborctl(arbord_daemon, "reload")
    assert done.returncode == 0, done.stdout + done.stderr
    arbord_daemon.write_config("[cache.caches.sessions]\nttl = -5.0\n")
    refused = arborctl(arbord_daemon, "reload")
    assert refused.returncode == 1
    assert "cache.caches.sessions.ttl: expected a value greater than 0" in refused.stdout + refused.stderr
    assert request(arbord_daemon.control_socket, "config.show")["cache"]["caches"]["sessions"]["ttl"] == 5.0
