"""Benchmarks of the daemon process: start to READY with the default tree, and SIGTERM to exit when idle.

Each run starts ``python -m daemon run`` with a fresh runtime directory and a fake ``NOTIFY_SOCKET``
(a datagram socket), times the spawn until ``READY=1`` arrives, then times SIGTERM until the process
has exited. The start is compared with the smallest program that does the same job, measured in the
same run, in alternating turns: a ``python -c`` that imports asyncio, runs an event loop of the same
kind (uvloop's on the uvloop row) and sends ``READY=1`` to the same socket (``MINIMAL_READY``); the
absolute start time moves by tens of percent with the machine's load, the ratio far less. The stop
keeps its absolute budget (100 ms); a bare ``python -c pass`` start is printed for scale.

On Linux the start is also compared in CPU time, read from ``/proc`` when ``READY=1`` arrives (every
thread's ``schedstat``; the minimal program waits for its stdin to close so that it can be read): what
the start costs, without the time other processes took from it, which on a shared machine is most of
the wall-clock figure's spread.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import Row

ROOT = Path(__file__).resolve().parent.parent
RUNS = 7
STOP_BUDGET = 0.100

# The floor of "start -> READY=1": an interpreter, asyncio, a loop of the daemon's kind, one datagram.
MINIMAL_READY = """
import asyncio, os, socket, sys

async def main() -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])

if sys.argv[1] == "uvloop":
    import uvloop
    uvloop.run(main())
else:
    asyncio.run(main())
sys.stdin.read()  # until the benchmark has read its CPU time
"""


def _cpu_seconds(pid: int) -> float | None:
    """CPU time of every thread of ``pid`` so far (Linux' ``schedstat``), or None where unavailable."""
    total = 0
    for path in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
    return total / 1e9 if total else None


def _environ(notify: Path, pycache: Path) -> dict[str, str]:
    """The environment of both programs: their bytecode cached, as installed code is.

    The test environment sets ``PYTHONDONTWRITEBYTECODE``, which made every start compile each of its
    modules from source (about half of the daemon's start); a pycache prefix of the bench's own, filled
    by the first run (not measured), is used instead.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ARBORD_", "WATCHDOG_", "NOTIFY_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(NOTIFY_SOCKET=str(notify), PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(pycache))
    return env


def _minimal_ready(workdir: Path, loop: str, pycache: Path) -> tuple[float, float | None]:
    """Seconds from spawn to READY=1 of ``MINIMAL_READY``, and its CPU seconds then."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(workdir / "notify-minimal"))
        notify.settimeout(30)
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", MINIMAL_READY, loop],
            cwd=ROOT,
            env=_environ(workdir / "notify-minimal", pycache),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while b"READY=1" not in notify.recv(65536).split(b"\n"):
                pass
            ready = time.perf_counter() - start
            cpu = _cpu_seconds(process.pid)
        finally:
            assert process.stdin is not None
            process.stdin.close()
            if process.wait() != 0:
                raise RuntimeError(f"the minimal READY program exited {process.returncode}")
    return ready, cpu


def _one_run(workdir: Path, loop: str, pycache: Path) -> tuple[float, float | None, float]:
    """Seconds from spawn to READY=1, CPU seconds then, and seconds from SIGTERM to exit."""
    config = workdir / "arbord.toml"
    config.write_text(f'[daemon]\nloop = "{loop}"\nruntime_dir = "{workdir / "run"}"\n')
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(workdir / "notify"))
        notify.settimeout(30)
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run", "--config", str(config)],
            cwd=ROOT,
            env=_environ(workdir / "notify", pycache),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while b"READY=1" not in notify.recv(65536).split(b"\n"):
                pass
            ready = time.perf_counter() - start
            cpu = _cpu_seconds(process.pid)
            stop_start = time.perf_counter()
            process.send_signal(signal.SIGTERM)
            # wait() without a timeout blocks in waitpid; with one it polls with sleeps of up to 50 ms,
            # which would be measured too. The daemon's own stop budget bounds the wait.
            code = process.wait()
            stopped = time.perf_counter() - stop_start
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    if code != 0:
        raise RuntimeError(f"arbord exited {code}")
    return ready, cpu, stopped


def _bare_interpreter() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def run(loop_name: str) -> list[Row]:
    readies, minimal, stops, bare = [], [], [], []
    cpu_ratios: list[float] = []
    pycache = Path(tempfile.mkdtemp(prefix="arb-bench-pycache-", dir="/tmp"))
    for number in range(RUNS):
        workdir = Path(tempfile.mkdtemp(prefix="arb-bench-", dir="/tmp"))
        try:
            floor, floor_cpu = _minimal_ready(workdir, loop_name, pycache)
            ready, ready_cpu, stopped = _one_run(workdir, loop_name, pycache)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if number:  # the first run warms the page cache and the .pyc files
            minimal.append(floor)
            readies.append(ready)
            stops.append(stopped)
            bare.append(_bare_interpreter())
            if floor_cpu and ready_cpu:
                cpu_ratios.append(ready_cpu / floor_cpu)
    shutil.rmtree(pycache, ignore_errors=True)
    ready_ms = statistics.median(readies) * 1e3
    cpu_rows = []
    if cpu_ratios:  # the median of the paired ratios, as a row over a baseline of 1
        cpu_rows.append(
            Row(
                "daemon",
                "start -> READY=1 CPU time vs minimal asyncio READY (paired)",
                loop_name,
                statistics.median(cpu_ratios),
                1.0,
                "x",
                2.5,
            )
        )
    return [
        Row(
            "daemon",
            "start -> READY=1, default tree vs minimal asyncio READY",
            loop_name,
            ready_ms,
            statistics.median(minimal) * 1e3,
            "ms",
            2.5,
        ),
        *cpu_rows,
        Row(
            "daemon",
            "SIGTERM -> exit, idle (vs 100 ms budget)",
            loop_name,
            statistics.median(stops) * 1e3,
            STOP_BUDGET * 1e3,
            "ms",
            1.0,
        ),
        Row(
            "daemon",
            "bare `python -c pass` start (vs start -> READY)",
            loop_name,
            statistics.median(bare) * 1e3,
            ready_ms,
            "ms",
            1.0,
        ),
    ]
