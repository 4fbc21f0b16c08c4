"""Faults of the daemon as a process, seen through systemd's rules (the ``Unit`` harness of
tests/faults/unit.py applies the unit's ``Restart=``, ``RestartPreventExitStatus=``,
``StartLimitBurst=``, ``TimeoutStopSec=`` and ``WatchdogSec=`` to a real daemon subprocess).

F3 a restart storm escalates to exit 70, restarted until the start limit fails the unit; F5 a child
that will not stop ends the process with 70 within ``TimeoutStopSec``; F7 a stalled loop is killed
by the watchdog with SIGABRT, leaves a faulthandler traceback and restarts with its flags; F11 a bad
configuration and F13 a corrupt flags database exit 78 and are not restarted; F14 SIGTERM under load
drains, flushes the pending telemetry batches, ends the open spans and exits 0 within the stop budget.
The matrix: docs/testing.md, "The fault suite".
"""

from __future__ import annotations

import contextlib
import json
import re
import resource
import signal
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.app import ExitCode
from tests.daemon.test_process import request
from tests.faults.unit import UnitRules, UnitState, running_unit

DECLARED = '[flags.beta]\nowner = "payments"\ndescription = "the new path"\n'


def servers(name: str, start: str, extra: str = "") -> str:
    return f'[servers.{name}]\nstart = "{start}"\n{extra}'


# --- F3: a restart storm up to escalation, then systemd's start limit ------------------------------

# The leaf supervisor allows 2 restarts (the 3rd crash escalates); the root allows none: the first
# escalation reaching it makes the daemon give up with 70.
STORM = "[tree.root]\nintensity = 0\n[tree.servers]\nintensity = 2\nperiod = 60.0\n" + servers(
    "crasher", "tests.daemon.test_process:Crasher"
)


def test_f3_a_restart_storm_exits_70_and_the_start_limit_fails_the_unit() -> None:
    with running_unit(STORM) as unit:
        assert unit.run_until_settled() is UnitState.FAILED
        burst = unit.rules.start_limit_burst
        assert unit.exits == [ExitCode.SOFTWARE] * burst  # Restart=on-failure restarted each 70 ...
        assert len(unit.starts) == burst  # ... until StartLimitBurst starts: the unit is failed
        assert unit.current is not None
        stderr = unit.current.stderr()
        # The budget on paper: 2 restarts of the crasher, the 3rd crash escalates, the root gives up.
        restarts = re.findall(
            r"child 'crasher' of supervisor \S+ exited: .*restarting it \(restart (\d)\)", stderr
        )
        assert restarts == ["1", "2"]
        assert len(re.findall(r"reached max restart intensity \(2 in 60 s\)", stderr)) == 1
        assert "gave up" in stderr


# --- F5: a child that will not stop ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "budget", "extra", "said"),
    [
        ("Deaf", 8.0, "shutdown = 0.1\n", "children that would not stop were abandoned: arbord.servers/deaf"),
        ("BlocksTheLoop", 0.5, "shutdown = 5.0\n", "the stop overran [daemon] shutdown_timeout; exiting 70"),
    ],
    ids=["swallows-cancellation", "blocks-in-sync-code"],
)
def test_f5_a_child_that_will_not_stop_exits_70_within_timeout_stop_sec(
    cls: str, budget: float, extra: str, said: str
) -> None:
    # The deaf child: the daemon's budget (8 s) leaves the servers supervisor room to abandon it
    # itself (after its 0.1 s and the kill grace). The loop blocker: the exit deadline's thread ends
    # the process once the daemon's budget (0.5 s) has passed.
    config = f"[daemon]\nshutdown_timeout = {budget}\n" + servers(
        "deaf", f"tests.daemon.lifecycle_servers:{cls}", extra
    )
    with running_unit(config) as unit:
        unit.start()
        unit.wait_ready()
        assert unit.stop() == ExitCode.SOFTWARE
        assert not unit.stop_timed_out  # 70 well before systemd's SIGKILL
        assert unit.current is not None
        assert said in unit.current.stderr()


# --- F7: an event-loop stall past the watchdog -----------------------------------------------------


@pytest.fixture
def no_core_dumps() -> Iterator[None]:
    """SIGABRT dumps core where the limit allows it (the checkout): not for these aborts."""
    limits = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, limits[1]))
    yield
    resource.setrlimit(resource.RLIMIT_CORE, limits)


@pytest.mark.usefixtures("no_core_dumps")
def test_f7_a_stalled_loop_is_aborted_by_the_watchdog_with_a_traceback_and_restarts_with_its_flags() -> None:
    # WatchdogSec is 30 s in the unit; 3 s here (pings every 1.5 s). PYTHONFAULTHANDLER is cleared:
    # the daemon turns faulthandler on itself (it did not before this test).
    rules = UnitRules.from_unit().with_times(watchdog=3.0)
    with running_unit("", rules=rules, env={"PYTHONFAULTHANDLER": ""}) as unit:
        trigger = unit.base / "stall"
        unit.config = DECLARED + servers("staller", "tests.faults.servers:Staller", f'args = ["{trigger}"]\n')
        unit.start()
        first = unit.wait_ready()
        assert request(first.control_socket, "flags.enable", {"flag": "beta"})["revision"] == 1
        trigger.touch()
        second = unit.restart_after_exit()
        assert unit.exits == [-signal.SIGABRT]
        assert unit.watchdog_aborts == 1
        stderr = first.stderr()
        assert "Fatal Python error: Aborted" in stderr
        # The stuck stack, innermost first: the blocking call, in the server's callback.
        stack = stderr[stderr.index("Fatal Python error: Aborted") :]
        assert re.search(r'File ".*tests/faults/servers.py", line \d+ in stall_the_loop', stack)
        assert re.search(r'File ".*tests/faults/servers.py", line \d+ in handle_info', stack)
        assert request(second.control_socket, "flags.get", {"flag": "beta"})["gates"]["boolean"] is True
        assert unit.stop() == ExitCode.OK


# --- F11: a bad configuration at start -------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("[daemon\n", "TOML syntax error: "),
        ("[daemon]\nshutdown_timeout = 'soon'\n", "daemon.shutdown_timeout: expected a valid number"),
        ("[control]\nmax_conections = 3\n", "control.max_conections: unknown key; expected one of:"),
    ],
    ids=["syntax", "type", "unknown-key"],
)
def test_f11_a_bad_configuration_exits_78_and_is_not_restarted(config: str, expected: str) -> None:
    with running_unit(config) as unit:
        assert unit.run_until_settled() is UnitState.INACTIVE
        assert unit.exits == [ExitCode.CONFIG]
        assert len(unit.starts) == 1  # RestartPreventExitStatus=78
        assert unit.current is not None
        stderr = unit.current.stderr()
        assert "arbord: configuration refused:" in stderr
        assert expected in stderr
        assert "Traceback" not in stderr


# --- F13: a corrupt flags database at start --------------------------------------------------------


def _garbage(database: Path) -> None:
    database.write_bytes(b"this is not a SQLite database, whatever its name says" * 100)


def _a_real_database(database: Path) -> None:
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("CREATE TABLE changes (revision INTEGER PRIMARY KEY, flag TEXT NOT NULL, record TEXT)")
        db.execute("CREATE TABLE flags (name TEXT PRIMARY KEY, state TEXT NOT NULL)")
        db.executemany("INSERT INTO flags VALUES (?, ?)", [(f"f{n}", "{}" + " " * 500) for n in range(200)])
        db.execute("PRAGMA user_version=1")
        db.commit()


def _truncated(database: Path) -> None:
    _a_real_database(database)
    with database.open("r+b") as file:
        file.truncate(database.stat().st_size // 2)


def _other_schema(database: Path) -> None:
    _a_real_database(database)
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("PRAGMA user_version=7")
        db.commit()


@pytest.mark.parametrize(
    "damage", [_garbage, _truncated, _other_schema], ids=["garbage", "truncated", "schema"]
)
def test_f13_a_corrupt_flags_database_exits_78_naming_it_and_is_not_restarted(damage: object) -> None:
    with running_unit("") as unit:
        unit.state_dir.mkdir()
        database = unit.state_dir / "flags.db"
        assert callable(damage)
        damage(database)
        before = database.read_bytes()
        assert unit.run_until_settled() is UnitState.INACTIVE
        assert unit.exits == [ExitCode.CONFIG]
        assert len(unit.starts) == 1
        assert unit.current is not None
        assert str(database) in unit.current.stderr()
        assert database.read_bytes() == before  # refused, not "repaired" into an empty store


# --- F14: SIGTERM under full load ------------------------------------------------------------------


def test_f14_sigterm_under_load_drains_flushes_and_exits_0_within_the_stop_budget(tmp_path: Path) -> None:
    # Clients ping and write flags in a loop (each request also emits telemetry and opens a span);
    # each request is answered, or refused as shutting down, or its connection closed between frames.
    # A user server batches an item every 2 ms (only a stop flushes them) and holds spans open; its
    # telemetry handler records every flushed batch and every span start and stop, to a file.
    outcomes: list[str] = []
    acknowledged: list[list[int]] = []  # per writer: the revisions of its acknowledged writes
    record = tmp_path / "busy.jsonl"
    busy = servers("busy", "tests.faults.servers:BusyAtStop", f'kwargs = {{ record = "{record}" }}\n')
    with running_unit(DECLARED + busy) as unit:
        unit.start()
        running = unit.wait_ready()
        started = threading.Barrier(5)

        def client(writer: bool) -> None:
            mine: list[int] = []
            acknowledged.append(mine)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock, sock.makefile("rb") as stream:
                sock.settimeout(30)
                sock.connect(str(running.control_socket))
                for number in range(1, 100_000):
                    if number == 5:
                        started.wait()
                    method, params = (
                        "flags.percentage",
                        {"flag": "beta", "of": "time", "value": number % 100},
                    )
                    if not writer:
                        method, params = "ping", {}
                    try:
                        sock.sendall(
                            json.dumps({"id": number, "method": method, "params": params}).encode() + b"\n"
                        )
                        line = stream.readline()
                    except OSError:
                        outcomes.append("closed")
                        return
                    if not line:
                        outcomes.append("closed")
                        return
                    reply = json.loads(line)
                    assert reply["id"] == number
                    if "error" in reply:
                        outcomes.append(reply["error"]["code"])
                        return
                    if writer:
                        mine.append(reply["result"]["revision"])

        threads = [threading.Thread(target=client, args=(n % 2 == 0,)) for n in range(4)]
        for thread in threads:
            thread.start()
        started.wait()
        assert unit.stop() == ExitCode.OK
        for thread in threads:
            thread.join(30)
        assert not unit.stop_timed_out
        assert len(outcomes) == 4
        assert set(outcomes) <= {"closed", "shutting_down"}
        assert any(m.get("STOPPING") == "1" for m in running.notify.messages)
        stderr = running.stderr()
        assert " ERROR " not in stderr  # a clean stop logs no error
        assert "Traceback" not in stderr
    # Each writer's writes were committed in its order, each under a revision of its own (F9
    # checks that what was acknowledged survives a kill).
    assert all(revisions == sorted(revisions) for revisions in acknowledged)
    every = [revision for revisions in acknowledged for revision in revisions]
    assert len(every) == len(set(every))
    # The stop flushed every pending batch item, once, and ended every span it found open (the busy
    # server's, the requests'), each once and with a status: nothing was still pending at the exit.
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    (totals,) = [line for line in lines if "batched" in line]
    flushed = sorted(n for line in lines if "batch" in line for n in line["batch"])
    assert flushed == list(range(totals["batched"]))
    begun = [line["start"] for line in lines if "start" in line]
    stopped = [line["stop"] for line in lines if "stop" in line]
    assert len(stopped) == len(set(stopped))
    assert set(begun) <= set(stopped), f"{len(set(begun) - set(stopped))} spans never ended"
    held = {line["start"] for line in lines if line.get("name") == "busy at stop"}
    assert len(held) == totals["opened"] > 0
    statuses = {line["stop"]: line["status"] for line in lines if "stop" in line}
    assert {statuses[span] for span in held} == {"abandoned"}  # ended by the stop, as abandoned


# --- F12: a bad configuration on reload ------------------------------------------------------------


def test_f12_a_bad_configuration_on_reload_keeps_the_old_one_in_force() -> None:
    with running_unit("[registry]\nmax_entries_per_owner = 9\n") as unit:
        unit.start()
        running = unit.wait_ready()
        bad = {
            "syntax": "[registry\n",
            "type": "[registry]\nmax_entries_per_owner = 'many'\n",
            "unknown-key": "[registry]\nmax_entries_per_owners = 3\n",
        }
        for problem, text in bad.items():
            running.write_config(text)
            seen = len(running.notify.messages)
            running.signal(signal.SIGHUP)  # ExecReload's signal
            ready = running.notify.wait_for("READY", "1", after=seen)
            assert ready["STATUS"].startswith("running; reload failed: "), (problem, ready)
            reply = request(running.control_socket, "reload")  # ExecReload's arborctl reload
            assert reply["ok"] is False
            assert reply["errors"]
            assert reply["changed"] == []
            assert request(running.control_socket, "config.show")["registry"]["max_entries_per_owner"] == 9
        assert running.process.poll() is None  # never crashed
        assert unit.stop() == ExitCode.OK
        assert unit.exits == [ExitCode.OK]
