"""Loop health: the systemd watchdog pinger and the event-loop lag monitor.

Both are coroutines run as tasks **on the daemon's own loop**. That is the point of the watchdog: if
the loop stalls (a blocking call, a busy callback), no ping is sent and systemd kills the process
with SIGABRT (``PYTHONFAULTHANDLER=1`` in the unit then prints the stuck stack). A ping from a
thread would keep a stuck daemon "alive". Each ping is also gated on the tree answering a call, so a
loop that runs but whose root supervisor is wedged is not reported healthy either.

Sleeping and time are injected (``sleep``, ``clock``) so the tests drive them without real waiting:

>>> watchdog_interval({"WATCHDOG_USEC": "30000000"}, pid=42)
15.0
>>> watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, pid=42) is None
True
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, NoReturn

from daemon.notify import Notifier
from supervisor import telemetry
from supervisor.lowlevel import Clock

__all__ = ["LAG_EVENT", "MIN_WATCHDOG_INTERVAL", "Sleep", "monitor_lag", "ping_watchdog", "watchdog_interval"]

log = logging.getLogger("arbord.watchdog")

LAG_EVENT: Final = ("arbord", "loop", "lag")
"""Telemetry event of each lag sample: measurements ``lag`` and ``interval`` in integer nanoseconds."""

MIN_WATCHDOG_INTERVAL: Final = 0.05
"""The shortest pause between two pings: a tiny ``WatchdogSec=`` must not flood systemd's notify socket."""

Sleep = Callable[[float], Awaitable[None]]


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between pings (half of ``WATCHDOG_USEC``, at least ``MIN_WATCHDOG_INTERVAL``), or None
    if systemd asked no pings of us.

    ``WATCHDOG_PID``, when set, must be our pid: the variables may be inherited by a child process.
    """
    raw = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    if not raw:
        return None
    if owner and owner != str(pid):
        return None
    try:
        usec = int(raw)
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not an integer; not pinging the watchdog", raw)
        return None
    if usec <= 0:
        return None
    interval = usec / 2_000_000
    if interval < MIN_WATCHDOG_INTERVAL:
        # (test_a_tiny_watchdog_interval_is_floored) systemd will find the pings late: say so once.
        log.warning(
            "WATCHDOG_USEC=%d asks for a ping every %.6fs; pinging every %ss (raise WatchdogSec=)",
            usec,
            interval,
            MIN_WATCHDOG_INTERVAL,
        )
        return MIN_WATCHDOG_INTERVAL
    return interval


async def ping_watchdog(
    notifier: Notifier,
    interval: float,
    healthy: Callable[[], Awaitable[bool]],
    sleep: Sleep = asyncio.sleep,
) -> NoReturn:
    """Send ``WATCHDOG=1`` every ``interval`` seconds while ``healthy()`` says so; runs until cancelled."""
    was_healthy = True
    while True:
        ok = await healthy()
        if ok:
            notifier.watchdog()
            if not was_healthy:
                log.warning("the supervision tree answers again; watchdog pings resumed")
        elif was_healthy:
            log.error("the supervision tree does not answer; withholding watchdog pings")
        was_healthy = ok
        await sleep(interval)


async def monitor_lag(
    interval: float,
    warn_over: float,
    clock: Clock,
    sleep: Sleep = asyncio.sleep,
) -> NoReturn:
    """Sample how late the loop wakes us: ``lag = elapsed - interval``; emit ``LAG_EVENT`` each time."""
    interval_ns = round(interval * 1e9)
    while True:
        started = clock.monotonic()
        await sleep(interval)
        lag = max(0.0, clock.monotonic() - started - interval)
        telemetry.execute(LAG_EVENT, {"lag": round(lag * 1e9), "interval": interval_ns}, {})
        if lag > warn_over:
            log.warning("event loop lag %.3f s (over %.3f s): something blocked the loop", lag, warn_over)
