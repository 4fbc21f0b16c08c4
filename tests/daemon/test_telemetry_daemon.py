"""End to end: the telemetry server in the real daemon (docs/telemetry.md#sampled-events). Events
emitted by user servers show in ``arborctl telemetry stats`` and ``events``; sampling changes at run
time; a tap streams over the control socket and goes away with its client; pending batches are
flushed on SIGTERM. Waits are bounded by timeouts; nothing is timed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from daemon.app import ExitCode
from tests.daemon.conftest import ROOT, RunningDaemon, StartArbord
from tests.daemon.test_control_daemon import RawClient
from tests.daemon.test_process import request


def server(name: str, cls: str, kwargs: str = "") -> str:
    return f'[servers.{name}]\nstart = "tests.daemon.telemetry_servers:{cls}"\n{kwargs}'


def arborctl(daemon: RunningDaemon, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon.ctl", "--socket", str(daemon.control_socket), *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )


def by_event(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["event"]: row for row in stats["events"]}


def test_stats_events_and_a_flush_on_sigterm(start_arbord: StartArbord, short_tmp: Path) -> None:
    record = short_tmp / "flushed.jsonl"
    running = start_arbord(server("batcher", "Batcher", f'kwargs = {{ record = "{record}", items = 3 }}\n'))
    done = arborctl(running, "--json", "telemetry", "stats", "user")
    assert done.returncode == 0, done.stderr
    rows = by_event(json.loads(done.stdout))
    assert (rows["user.work"]["received"], rows["user.work"]["pending"]) == (3, 3)
    assert (rows["user.boot"]["emitted"], rows["user.boot"]["deduplicated"]) == (1, 1)
    human = arborctl(running, "telemetry", "events", "user")
    assert human.returncode == 0, human.stderr
    assert "user.work" in human.stdout
    running.signal(signal.SIGTERM)
    assert running.wait() == ExitCode.OK
    (line,) = record.read_text().splitlines()
    flushed = json.loads(line)
    assert flushed["metadata"] == {"batch_size": 3}
    assert flushed["measurements"] == {"n": 3, "ids": [0, 1, 2]}


def test_sampling_set_and_get_at_run_time(start_arbord: StartArbord) -> None:
    running = start_arbord('[telemetry.sampling]\n"user" = "random(0.5)"\n')
    assert json.loads(arborctl(running, "--json", "telemetry", "sampling", "get").stdout) == {
        "user": "random(0.5)"
    }
    done = arborctl(running, "--json", "telemetry", "sampling", "set", "user.db", "rate_limited(5)")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"user": "random(0.5)", "user.db": "rate_limited(5)"}
    bad = arborctl(running, "--json", "telemetry", "sampling", "set", "user", "random(2)")
    assert bad.returncode == 2
    assert "'code': 'invalid_params'" in bad.stderr or '"code": "invalid_params"' in bad.stderr
    assert "random(2)" in bad.stderr


def test_a_bad_sampling_strategy_exits_78_naming_the_key(start_arbord: StartArbord) -> None:
    running = start_arbord('[telemetry.sampling]\n"user" = "sometimes"\n', wait=False)
    assert running.wait() == ExitCode.CONFIG
    stderr = running.stderr()
    assert "telemetry.sampling.user" in stderr
    assert "sometimes" in stderr


def test_a_tap_streams_and_is_removed_when_its_client_leaves(start_arbord: StartArbord) -> None:
    running = start_arbord(server("ticker", "Ticker"))
    limited = RawClient(running.control_socket)
    try:
        params = {"prefix": "user", "rate": "1000/s", "limit": 3}
        limited.send(json.dumps({"id": 1, "method": "telemetry.tap", "params": params}).encode() + b"\n")
        items = [limited.reply() for _ in range(4)]
    finally:
        limited.close()
    assert [item.get("more") for item in items] == [True, True, True, None]
    assert {item["result"]["event"] for item in items[:3]} == {"user.tick"}
    assert items[0]["result"]["metadata"] == {"who": "ticker"}

    # arborctl's --rate is the tap's rate param; a limit ends the stream
    tapped = arborctl(running, "--json", "--rate", "500/s", "telemetry", "tap", "user", "limit=2")
    assert tapped.returncode == 0, tapped.stderr
    assert [json.loads(line)["event"] for line in tapped.stdout.splitlines()] == ["user.tick", "user.tick"]

    endless = RawClient(running.control_socket)
    endless.send(
        json.dumps({"id": 1, "method": "telemetry.tap", "params": {"prefix": "user"}}).encode() + b"\n"
    )
    assert endless.reply()["more"] is True
    assert request(running.control_socket, "telemetry.stats")["taps"] == 1
    endless.close()  # the client leaves mid-stream
    deadline = time.monotonic() + 10
    while request(running.control_socket, "telemetry.stats")["taps"] != 0:
        assert time.monotonic() < deadline, "the tap outlived its client"
    assert running.stop() == ExitCode.OK


def test_a_reload_of_telemetry_flushes_keeps_the_counters_and_applies_the_sampling(
    start_arbord: StartArbord, short_tmp: Path
) -> None:
    record = short_tmp / "reloaded.jsonl"
    batcher = server("batcher", "Batcher", f'kwargs = {{ record = "{record}", items = 2 }}\n')
    running = start_arbord(batcher)
    sock = running.control_socket
    before = request(sock, "telemetry.stats")
    running.write_config(batcher + '[telemetry.sampling]\n"user" = "never"\n')
    reply = request(sock, "reload")
    assert reply["ok"] is True, reply
    assert "telemetry" in reply["changed"]
    restarted = reply["restarted"]
    assert restarted.index("telemetry_keeper") < restarted.index("telemetry")
    after = request(sock, "telemetry.stats")
    assert after["generation"] == before["generation"]
    assert after["incarnation"] == before["incarnation"] + 1
    rows = by_event(after)
    assert (rows["user.work"]["received"], rows["user.work"]["flushed"], rows["user.work"]["pending"]) == (
        2,
        2,
        0,
    )
    assert request(sock, "telemetry.sampling.get") == {"user": "never"}
    (line,) = record.read_text().splitlines()  # the pending batch went out as the old server stopped
    assert json.loads(line)["metadata"] == {"batch_size": 2}
    assert running.stop() == ExitCode.OK
