"""Loop health: the systemd watchdog pinger and the event-loop lag monitor.

Both are coroutines run as tasks **on the daemon's own loop**. That is the point of the watchdog: if
the loop stalls (a blocking call, a busy callback), no ping is sent and systemd kills the process
with SIGABRT (faulthandler, which ``arbord run`` turns on, then prints the stuck stack). A ping from a
thread would keep a stuck daemon "alive". Each ping is also gated on the tree answering a call, so a
loop that runs but whose root supervisor is wedged is not reported healthy either.

Sleeping and time are injected (``sleep``, ``clock``) so the tests drive them without real waiting:

>>> watchdog_interval({"WATCHDOG_USEC": "30000000"}, pid=42)
15.0
>>> watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, pid=42) is None
True

Both are bounded whatever they are given: pings are never closer than ``MIN_WATCHDOG_INTERVAL``
(``WATCHDOG_USEC=1`` comes from the service manager's environment, not from our settings, and
asked for a ping every half microsecond), lag samples never closer than ``MIN_LAG_INTERVAL``, and a
loop that lags on every sample logs one warning per ``LAG_WARNING_EVERY`` seconds, with the count
and the worst lag of the ones it held back:

>>> watchdog_interval({"WATCHDOG_USEC": "1"}, pid=42) == MIN_WATCHDOG_INTERVAL
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

__all__ = [
    "LAG_EVENT",
    "LAG_WARNING_EVERY",
    "MIN_LAG_INTERVAL",
    "MIN_WATCHDOG_INTERVAL",
    "Sleep",
    "monitor_lag",
    "ping_watchdog",
    "watchdog_interval",
]

log = logging.getLogger("arbord.watchdog")

LAG_EVENT: Final = ("arbord", "loop", "lag")
"""Telemetry event of each lag sample: measurements ``lag`` and ``interval`` in integer nanoseconds."""

MIN_WATCHDOG_INTERVAL: Final = 0.1
"""The shortest pause between two watchdog pings, in seconds (ten a second at most): a watchdog
timeout under 0.2 s cannot be honoured by a Python daemon anyway, and is reported once."""
MIN_LAG_INTERVAL: Final = 0.01
"""The shortest pause between two lag samples, in seconds (each is a telemetry event)."""
LAG_WARNING_EVERY: Final = 10.0
"""At most one lag warning in this many seconds; the others are counted into the next one."""

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
        log.warning(
            "WATCHDOG_USEC=%d asks for a ping every %.6f s; pinging every %.1f s instead",
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
    """Send ``WATCHDOG=1`` every ``interval`` seconds (at least ``MIN_WATCHDOG_INTERVAL``) while
    ``healthy()`` says so; runs until cancelled."""
    interval = max(interval, MIN_WATCHDOG_INTERVAL)
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
    *,
    warn_every: float = LAG_WARNING_EVERY,
) -> NoReturn:
    """Sample how late the loop wakes us: ``lag = elapsed - interval``; emit ``LAG_EVENT`` each time.

    ``interval`` is at least ``MIN_LAG_INTERVAL``. A lag over ``warn_over`` is logged, at most once
    per ``warn_every`` seconds: the next warning says how many were held back and the worst of them
    (a tiny interval on a busy loop flooded the log; test_lag_warnings_are_rate_limited)."""
    interval = max(interval, MIN_LAG_INTERVAL)
    interval_ns = round(interval * 1e9)
    last_warning: float | None = None
    held_back, worst = 0, 0.0
    while True:
        started = clock.monotonic()
        await sleep(interval)
        now = clock.monotonic()
        lag = max(0.0, now - started - interval)
        telemetry.execute(LAG_EVENT, {"lag": round(lag * 1e9), "interval": interval_ns}, {})
        if lag <= warn_over:
            continue
        if last_warning is not None and now - last_warning < warn_every:
            held_back, worst = held_back + 1, max(worst, lag)
            continue
        if held_back:
            log.warning(
                "event loop lag %.3f s (over %.3f s): something blocked the loop "
                "(and %d more times in %.0f s, the worst %.3f s)",
                lag,
                warn_over,
                held_back,
                now - last_warning if last_warning is not None else 0.0,
                worst,
            )
        else:
            log.warning("event loop lag %.3f s (over %.3f s): something blocked the loop", lag, warn_over)
        last_warning, held_back, worst = now, 0, 0.0
