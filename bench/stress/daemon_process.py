"""The daemon under load: its configuration, its process, and what the process costs (RSS, fds).

``StressDaemon.start`` writes a configuration (the stress cache, the load server under
``[servers.stress]``, the crash victim under ``[servers.victim]``, the lag sampled every 50 ms,
``max_connections`` above the clients' count), spawns ``python -m daemon run`` in a short directory
under /tmp (``sun_path``), waits for ``READY=1`` on a notify socket of its own, and pins the daemon
to one CPU when asked, so that the load processes cannot take its core. ``stop`` sends SIGTERM and
returns the exit code; the directory is removed by ``close``.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench.stress.clients import STRESS_CACHE
from bench.stress.tiers import Rates

__all__ = ["CACHE_MAX_SIZE", "WATCHDOG_SEC", "StressDaemon", "proc_cpu", "proc_fds", "proc_rss"]

ROOT: Final = Path(__file__).resolve().parents[2]
CACHE_MAX_SIZE: Final = 10_000
FLUSH: Final = 0.1
"""Seconds: the timeout of the load server's batches (the matrix's "flush interval")."""
START_TIMEOUT: Final = 60.0
WATCHDOG_SEC: Final = 30.0
"""The unit's ``WatchdogSec=`` (systemd/arbord.service): the daemon pings every half of it."""

CONFIG: Final = """\
[daemon]
runtime_dir = "{run}"
lag_interval = 0.05
log_level = "warning"

[control]
max_connections = {max_connections}

[cache.caches.{cache}]
ttl = 1.0
max_size = {max_size}
janitor_interval = 1.0

[flags]
path = "{state}/flags.db"

[servers.stress]
start = "bench.stress.load_server:LoadServer"
kwargs = {{ status = "{status}", go = "{go}", events = {events}, spans = {spans}, \
duration = {duration}, flush = {flush} }}

[servers.victim]
start = "bench.stress.faults:Victim"
"""


def proc_rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) ``pid`` has used so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_fds(pid: int) -> int:
    """Open file descriptors of ``pid`` (0 if it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


@dataclass
class StressDaemon:
    """A running daemon and the paths the harness talks to it through."""

    process: subprocess.Popen[bytes]
    workdir: Path
    control_socket: Path
    status: Path
    go: Path
    stderr: Path
    notify: socket.socket
    watchdog_pings: list[float] = field(default_factory=list)
    """When each ``WATCHDOG=1`` was read (``time.monotonic``), by ``read_notify``."""
    notices: list[str] = field(default_factory=list)
    """Every other line ``read_notify`` read (``STOPPING=1``, ``STATUS=...``), in order."""

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(cls, rates: Rates, duration: float, *, cpu: int | None = None, extra: str = "") -> StressDaemon:
        """Configure and spawn the daemon, and wait for its ``READY=1``; ``extra`` is TOML appended
        to the configuration (a test's own servers: tests/faults' F14 under T1 load)."""
        workdir = Path(tempfile.mkdtemp(prefix="arb-stress-", dir="/tmp"))
        run, state = workdir / "run", workdir / "state"
        state.mkdir()
        status, go = workdir / "load.json", workdir / "go"
        config = CONFIG.format(
            run=run,
            state=state,
            status=status,
            go=go,
            cache=STRESS_CACHE,
            max_size=CACHE_MAX_SIZE,
            max_connections=rates.control_clients + 64,
            events=rates.events,
            spans=rates.spans,
            duration=duration,
            flush=FLUSH,
        )
        (workdir / "arbord.toml").write_text(config + extra)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ARBORD_", "NOTIFY_", "WATCHDOG_"))}
        env.update(PYTHONPATH=str(ROOT), PYTHONFAULTHANDLER="1", STATE_DIRECTORY=str(state))
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(workdir / "notify"))
        env["NOTIFY_SOCKET"] = str(workdir / "notify")
        env["WATCHDOG_USEC"] = str(int(WATCHDOG_SEC * 1e6))
        stderr = workdir / "stderr.log"
        with stderr.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "daemon", "run", "--config", str(workdir / "arbord.toml")],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(process.pid, {cpu})
        daemon = cls(process, workdir, run / "control.sock", status, go, stderr, notify)
        try:
            daemon._wait_ready()
        except BaseException:
            daemon.stop()
            daemon.close()
            raise
        return daemon

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        self.notify.settimeout(0.2)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"arbord exited {self.process.returncode}:\n{self.stderr.read_text()}")
            try:
                data = self.notify.recv(65536)
            except TimeoutError:
                continue
            lines = data.split(b"\n")
            if b"WATCHDOG=1" in lines:
                self.watchdog_pings.append(time.monotonic())
            if b"READY=1" in lines:
                return
        raise RuntimeError(f"arbord sent no READY=1 within {START_TIMEOUT} s")

    def read_notify(self) -> None:
        """Record the ``WATCHDOG=1`` pings that have arrived, without waiting."""
        self.notify.setblocking(False)
        while True:
            try:
                data = self.notify.recv(65536)
            except (BlockingIOError, OSError):
                return
            for line in data.split(b"\n"):
                if line == b"WATCHDOG=1":
                    self.watchdog_pings.append(time.monotonic())
                elif line:
                    self.notices.append(line.decode(errors="replace"))

    def watchdog_gap(self, start: float, end: float) -> float:
        """The longest time without a ping in ``[start, end]`` (counting from the last one before)."""
        before = [t for t in self.watchdog_pings if t <= start]
        times = [before[-1] if before else start, *(t for t in self.watchdog_pings if start < t <= end), end]
        return max(b - a for a, b in itertools.pairwise(times))

    def load_account(self) -> dict[str, Any] | None:
        """The load server's last account (bench/stress/load_server.py), or None before its first."""
        try:
            data = json.loads(self.status.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def rss(self) -> int:
        return proc_rss(self.pid)

    def fds(self) -> int:
        return proc_fds(self.pid)

    def cpu(self) -> float:
        return proc_cpu(self.pid)

    def hangup(self) -> None:
        self.process.send_signal(signal.SIGHUP)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, and the exit code (killed after ``timeout``: then -9)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def close(self) -> None:
        self.notify.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
