"""A small process supervisor: systemd's rules for ``systemd/arbord.service``, applied to a daemon run
as a subprocess, so the fault suite sees what systemd would do with each exit.

``UnitRules.from_unit()`` reads the rules the unit sets (``Restart=``, ``RestartPreventExitStatus=``,
``StartLimitBurst=``, ``StartLimitIntervalSec=``, ``TimeoutStopSec=``, ``WatchdogSec=``); a test may
shorten a time (``rules.with_times(watchdog=2.0)``) but never changes a rule. ``Unit`` starts the
daemon, and after each exit decides as systemd does: restart (``Restart=on-failure``: an exit code
other than 0, or a signal other than the clean ones, unless ``RestartPreventExitStatus=`` lists the
code), or give up once ``StartLimitBurst`` starts fell within ``StartLimitIntervalSec`` (the unit is
then *failed*). ``RestartSec=`` is not waited: the harness compresses time, the order is the same.

The watchdog is systemd's: the daemon is given ``WATCHDOG_USEC``, and if no ``WATCHDOG=1`` (or the
first ``READY=1``) arrives within ``WatchdogSec`` the harness sends it SIGABRT. Every start gets a
work directory of its own (its stderr, its notify socket) and shares the runtime directory (the
control socket) and the state directory (the flags' database) with the others, as a unit's restarts
do.

>>> rules = UnitRules.from_unit()
>>> rules.restarts_after(70), rules.restarts_after(78), rules.restarts_after(0), rules.restarts_after(-6)
(True, False, False, True)
>>> rules.start_limit_burst
5
"""

from __future__ import annotations

import enum
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from tests.daemon.conftest import ROOT, RunningDaemon, spawn_arbord

__all__ = ["UNIT_FILE", "Unit", "UnitRules", "UnitState", "running_unit"]

UNIT_FILE = ROOT / "systemd" / "arbord.service"

# Signals systemd counts as a clean exit for Restart=on-failure (systemd.service(5), "SuccessExitStatus").
_CLEAN_SIGNALS = frozenset({signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE})


def _seconds(value: str) -> float:
    """A systemd time span as the unit writes them: ``30s``, ``5min``, ``2s``."""
    for suffix, scale in (("min", 60.0), ("ms", 0.001), ("s", 1.0)):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * scale
    return float(value)


def _settings(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found[key.strip()] = value.strip()  # the last setting of a key wins, as in systemd
    return found


@dataclass(frozen=True)
class UnitRules:
    """What the unit tells systemd to do with the daemon's exits."""

    restart: str
    prevent_exit_status: frozenset[int]
    start_limit_burst: int
    start_limit_interval: float
    timeout_stop: float
    watchdog: float

    @classmethod
    def from_unit(cls, path: Path = UNIT_FILE) -> UnitRules:
        unit = _settings(path)
        return cls(
            restart=unit["Restart"],
            prevent_exit_status=frozenset(int(code) for code in unit["RestartPreventExitStatus"].split()),
            start_limit_burst=int(unit["StartLimitBurst"]),
            start_limit_interval=_seconds(unit["StartLimitIntervalSec"]),
            timeout_stop=_seconds(unit["TimeoutStopSec"]),
            watchdog=_seconds(unit["WatchdogSec"]),
        )

    def with_times(
        self,
        *,
        watchdog: float | None = None,
        timeout_stop: float | None = None,
        start_limit_interval: float | None = None,
    ) -> UnitRules:
        """The same rules on another clock (a test cannot wait 30 s for a watchdog); a
        ``start_limit_interval`` of 0 lifts the start limit, as ``StartLimitIntervalSec=0`` does."""
        return replace(
            self,
            watchdog=self.watchdog if watchdog is None else watchdog,
            timeout_stop=self.timeout_stop if timeout_stop is None else timeout_stop,
            start_limit_interval=(
                self.start_limit_interval if start_limit_interval is None else start_limit_interval
            ),
        )

    def restarts_after(self, returncode: int) -> bool:
        """Whether ``Restart=`` restarts after this exit (``returncode`` as ``Popen`` gives it)."""
        assert self.restart == "on-failure", f"the harness knows Restart=on-failure, not {self.restart}"
        if returncode == 0 or returncode in self.prevent_exit_status:
            return False
        return returncode > 0 or signal.Signals(-returncode) not in _CLEAN_SIGNALS


class UnitState(enum.Enum):
    ACTIVE = "active"
    INACTIVE = "inactive"  # stopped cleanly, or exited in a way Restart= leaves alone
    FAILED = "failed"  # start limit hit: systemd gives up


@dataclass
class Unit:
    """One unit's life: starts, exits, and the restarts systemd's rules call for."""

    rules: UnitRules
    config: str
    base: Path
    env: Mapping[str, str] = field(default_factory=dict)
    starts: list[float] = field(default_factory=list)
    exits: list[int] = field(default_factory=list)
    stop_timed_out: bool = False
    watchdog_aborts: int = 0
    state: UnitState = UnitState.INACTIVE
    current: RunningDaemon | None = None
    _last_ping: float = 0.0

    @property
    def runtime_dir(self) -> Path:
        return self.base / "run"

    @property
    def state_dir(self) -> Path:
        return self.base / "state"

    def start(self) -> RunningDaemon | None:
        """Start the daemon, unless the start limit is hit (then the unit is failed and None)."""
        now = time.monotonic()
        recent = [t for t in self.starts if now - t < self.rules.start_limit_interval]
        if self.rules.start_limit_interval > 0 and len(recent) >= self.rules.start_limit_burst:
            self.state = UnitState.FAILED
            return None
        self.starts.append(now)
        workdir = self.base / f"start-{len(self.starts)}"
        workdir.mkdir()
        env = {
            "STATE_DIRECTORY": str(self.state_dir),
            "WATCHDOG_USEC": str(round(self.rules.watchdog * 1_000_000)),
            **self.env,
        }
        self.current = spawn_arbord(workdir, self.config, env=env, runtime_dir=self.runtime_dir)
        self.state = UnitState.ACTIVE
        self._last_ping = 0.0  # armed by the first READY=1
        return self.current

    def _watch(self, running: RunningDaemon, timeout: float) -> int | None:
        """Read notify messages for up to ``timeout`` s, enforcing the watchdog; the exit code if the
        daemon exited meanwhile."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if (code := running.process.poll()) is not None:
                return code
            message = running.notify._receive(min(left, 0.05))
            now = time.monotonic()
            if message is not None and (message.get("WATCHDOG") == "1" or message.get("READY") == "1"):
                self._last_ping = now
            if self._last_ping and now - self._last_ping > self.rules.watchdog:
                running.signal(signal.SIGABRT)  # what systemd does to a daemon that stopped pinging
                self.watchdog_aborts += 1
                self._last_ping = 0.0
        return running.process.poll()

    def wait_ready(self, timeout: float = 30.0) -> RunningDaemon:
        """The running daemon once it sent ``READY=1`` (fails with its stderr if it exits first)."""
        running = self.current
        assert running is not None, "the unit is not running"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self._watch(running, 0.05)
            if code is not None:
                raise AssertionError(f"arbord exited {code} before READY=1:\n{running.stderr()}")
            if any(m.get("READY") == "1" for m in running.notify.messages):
                return running
        raise AssertionError(f"no READY=1 within {timeout} s:\n{running.stderr()}")

    def wait_exit(self, timeout: float = 30.0) -> int:
        """Wait for the running daemon to exit (watchdog enforced meanwhile); record its code."""
        running = self.current
        assert running is not None, "the unit is not running"
        code = self._watch(running, timeout)
        if code is None:
            raise AssertionError(f"arbord did not exit within {timeout} s:\n{running.stderr()}")
        self.exits.append(code)
        running.notify.drain()
        running.notify.close()
        self.state = UnitState.INACTIVE
        return code

    def run_until_settled(self, *, timeout: float = 30.0) -> UnitState:
        """Start the daemon and apply ``Restart=`` to each exit until systemd would stop: the unit
        left inactive (a clean exit, or one ``RestartPreventExitStatus=`` names) or failed (the
        start limit). For daemons that exit on their own."""
        while self.start() is not None:
            code = self.wait_exit(timeout)
            if not self.rules.restarts_after(code):
                return self.state
        return self.state

    def restart_after_exit(self, timeout: float = 30.0) -> RunningDaemon:
        """Wait for the current daemon to exit, check that ``Restart=`` restarts it, start it again
        and wait for ``READY=1``."""
        code = self.wait_exit(timeout)
        assert self.rules.restarts_after(code), f"Restart= would leave exit {code} alone"
        started = self.start()
        assert started is not None, "the start limit was hit"
        return self.wait_ready()

    def stop(self) -> int:
        """``systemctl stop``: SIGTERM, then SIGKILL after ``TimeoutStopSec``; the exit code."""
        running = self.current
        assert running is not None
        if running.process.poll() is None:
            running.signal(signal.SIGTERM)
        try:
            code = running.process.wait(self.rules.timeout_stop)
        except subprocess.TimeoutExpired:
            self.stop_timed_out = True
            running.process.kill()
            code = running.process.wait()
        self.exits.append(code)
        running.notify.drain()
        running.notify.close()
        self.state = UnitState.INACTIVE
        return code


@contextmanager
def running_unit(
    config: str, *, rules: UnitRules | None = None, env: Mapping[str, str] | None = None
) -> Iterator[Unit]:
    """A ``Unit`` in a short temporary directory (``sun_path`` is 108 bytes); whatever still runs at
    the end is killed, and the directory removed."""
    base = Path(tempfile.mkdtemp(prefix="arb-", dir="/tmp"))
    unit = Unit(rules or UnitRules.from_unit(), config, base, dict(env or {}))
    try:
        yield unit
    finally:
        running = unit.current
        if running is not None and running.process.poll() is None:
            running.process.kill()
            running.process.wait()
        if running is not None:
            running.notify.close()
        shutil.rmtree(base, ignore_errors=True)
