"""F14 at T1: SIGTERM while the stress harness's calibrated load (every tier) runs against the daemon.

The matrix row F14 says a stop *under full load* drains, flushes and exits 0 within the stop budget.
``test_unit_faults.py`` checks it with four clients; this variant (marked ``slow``: ``make
test-slow``) reuses the pieces of ``make stress`` (bench/stress/): the daemon configured by
``StressDaemon`` with its in-daemon load server (events, batches, spans), the load processes at the
rates of bench/stress/calibration.json (control, cache, flag writes over the control socket, each
connection counting one reply per request, in order), plus the ``BusyAtStop`` server of
tests/faults/servers.py, whose telemetry handler records every batch flushed and every span start and
stop (the load server's, the control requests', its own) to a file, up to the process's exit.

After ``LOAD`` seconds of load the test sends SIGTERM and holds the daemon to: exit 0 within the
unit's ``TimeoutStopSec``; ``STOPPING=1`` on the notify socket; each request answered exactly once,
or refused ``shutting_down``, or its connection closed with it unanswered (never a second reply, an
out-of-order one or a wrong answer); every flag a writer saw acknowledged present in the flags
database the next start would open; every batched item flushed once and every span ended once.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any, Final

import pytest

from bench.stress.calibrate import DEFAULT_FILE, load_calibration
from bench.stress.clients import run_clients
from bench.stress.daemon_process import StressDaemon
from bench.stress.run import _cpus, _finals, _plans
from bench.stress.tiers import T1
from bench.stress.wire import Counts
from tests.faults.unit import UnitRules

pytestmark = pytest.mark.slow

LOAD: Final = 12.0
"""Seconds of load before the SIGTERM."""
READY_TIMEOUT: Final = 60.0
ALLOWED: Final = {"connection reset", "send on a closed connection"}
"""Problems a connection may count at a stop (besides a ``shutting_down`` refusal): not a lost or
duplicated reply, the daemon closing the connection."""


def test_f14_t1_sigterm_under_the_calibrated_stress_load_drains_flushes_and_exits_0(tmp_path: Path) -> None:
    calibrated = load_calibration(DEFAULT_FILE, T1)
    rates = calibrated[0] if calibrated is not None else T1
    budget = UnitRules.from_unit().timeout_stop
    record = tmp_path / "busy.jsonl"
    busy = '\n[servers.busy]\nstart = "tests.faults.servers:BusyAtStop"\n'
    busy += f'kwargs = {{ record = "{record}" }}\n'
    daemon_cpu, load_cpu = _cpus(True)
    # duration 0: the in-daemon load runs until the stop; the clients until told to stop.
    daemon = StressDaemon.start(rates, 0.0, cpu=daemon_cpu, extra=busy)
    context = multiprocessing.get_context("spawn")
    go, stop = context.Event(), context.Event()
    results: Any = context.Queue()
    plans = _plans(rates, str(daemon.control_socket), 0.0, 0.0, load_cpu)
    readies = [context.Event() for _ in plans]
    processes = [
        context.Process(target=run_clients, args=(plan, ready, go, stop, results), daemon=True)
        for plan, ready in zip(plans, readies, strict=True)
    ]
    try:
        for process in processes:
            process.start()
        for ready in readies:
            assert ready.wait(READY_TIMEOUT), "a load process did not connect in time"
        daemon.go.touch()
        go.set()
        started = time.monotonic()
        while time.monotonic() - started < LOAD:  # the load's length, not a synchronisation
            time.sleep(0.5)
            daemon.read_notify()
        account = daemon.load_account() or {}
        assert account.get("running"), f"the in-daemon load is not running: {account}"
        sigterm = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        try:
            code = daemon.process.wait(budget)
        except subprocess.TimeoutExpired:
            daemon.process.kill()
            daemon.process.wait()
            pytest.fail(f"no exit within TimeoutStopSec ({budget} s): systemd would SIGKILL it")
        stopped_in = time.monotonic() - sigterm
        stop.set()
        finals = _finals(results, len(plans))
        daemon.read_notify()
        stderr = daemon.stderr.read_text(errors="replace")
        with contextlib.closing(sqlite3.connect(daemon.workdir / "state" / "flags.db")) as db:
            stored = {row[0] for row in db.execute("SELECT name FROM flags")}
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
        results.close()
        results.join_thread()
        daemon.stop()
        daemon.close()

    assert code == 0, f"exit {code} after {stopped_in:.1f} s:\n{stderr[-4000:]}"
    assert "STOPPING=1" in daemon.notices
    assert "Traceback" not in stderr
    assert " ERROR " not in stderr  # a clean stop logs no error
    # The harness's wire accounting: one reply per request or the connection closed on it.
    for final in finals:
        assert "failed" not in final, final
        counts = Counts.from_json(final["counts"])
        assert counts.ok > 0, f"{final['kind']} {final['index']}: nothing answered before the stop"
        assert counts.replies + counts.unanswered == counts.sent, (final["kind"], final["counts"])
        assert counts.wrong_answers == 0, counts.problems
        unexpected = {p for p in counts.problems if p not in ALLOWED and not p.endswith(": shutting_down")}
        assert not unexpected, counts.problems  # no second reply, none out of order, none not JSON
    acked = {flag for final in finals for flag in final.get("acked", {})}
    assert acked, "no flag write was acknowledged"
    assert acked <= stored, f"acknowledged but not stored: {sorted(acked - stored)[:5]}"
    # Telemetry: every batched item flushed exactly once, every span ended exactly once.
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    (totals,) = [line for line in lines if "batched" in line]
    flushed = sorted(n for line in lines if "batch" in line for n in line["batch"])
    assert flushed == list(range(totals["batched"]))
    begun = [line["start"] for line in lines if "start" in line]
    ended = [line["stop"] for line in lines if "stop" in line]
    assert len(ended) == len(set(ended)), "a span ended twice"
    assert set(begun) <= set(ended), f"{len(set(begun) - set(ended))} spans never ended"
    names = {line["name"] for line in lines if "name" in line}
    assert any(name.startswith("stress.") for name in names), names  # the load server's spans were seen
