"""Sampled events' legacy path: module-global dedup and batch dicts. DELIBERATE HIDDEN STATE, kept
only so that the move to the telemetry server's tables (``daemon.telemetry.events``) can be staged
and rolled back (docs/migrations.md); nothing but ``daemon.telemetry.switched_events`` uses it.

This is what ``emit_once_per`` and ``batch`` look like before they are migrated (Foundation's
SampledEvents keeping its state where the caller is, docs/otp-conformance.md#sampled-events): two
dicts at module level, ``_WINDOWS`` (dedup key → when it last went out) and ``_BATCHES`` (event →
its pending items), written by whoever calls.

It keeps the supervised path's contract where the two must agree behind the switch: the dedup key
(``daemon.telemetry.keys``), the fixed window, the batch event (``summarize_batch`` as measurements,
``{"batch_size": n}`` as metadata), a flush when a batch reaches its size. What it lacks: sampling,
the accounting of ``arborctl metrics`` (nothing here is counted), the ``max_pending`` bound, and a
server: a batch's timeout is an event-loop timer armed here (and checked again at the next add, as
Foundation did), on the loop's clock.

>>> from supervisor import telemetry
>>> seen = []
>>> telemetry.attach("doc", ("doc", "boot"), lambda e, m, md, c: seen.append(md))
>>> [emit_once_per(("doc", "boot"), 60.0, None, {"disk": "sda"}, now=t) for t in (0.0, 1.0, 61.0)]
[True, False, True]
>>> telemetry.detach("doc")
>>> clear()
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Hashable, Mapping
from typing import Any

from daemon.telemetry.hub import check_event
from daemon.telemetry.keys import dedup_key
from daemon.telemetry.summary import summarize_batch
from supervisor import telemetry

__all__ = [
    "batch",
    "clear",
    "emit_once_per",
    "flush",
    "flush_all",
    "has_pending",
    "pending",
    "pending_events",
    "put_window",
    "take_window",
    "windows",
]


class _Pending:
    """One event's open batch: its items, when it was opened, its size and timeout, its timer."""

    __slots__ = ("items", "opened", "size", "timeout", "timer")

    def __init__(self, opened: float, size: int, timeout: float) -> None:
        self.items: list[Any] = []
        self.opened = opened
        self.size = size
        self.timeout = timeout
        self.timer: asyncio.TimerHandle | None = None


_WINDOWS: dict[Hashable, float] = {}
"""Hidden state: dedup key → when that key last went out (the caller's clock)."""
_BATCHES: dict[tuple[str, ...], _Pending] = {}
"""Hidden state: event → its pending batch."""


def _check_seconds(what: str, value: object) -> None:
    if value.__class__ not in (int, float):
        raise TypeError(f"{what} must be a number of seconds, got {value!r}")
    if not value > 0:
        raise ValueError(f"{what} must be a positive number of seconds, got {value!r}")


def _now() -> float:
    return time.monotonic()  # the event loop's clock too (asyncio's default loop.time)


def windows() -> int:
    """How many dedup windows are kept here."""
    return len(_WINDOWS)


def take_window(key: Hashable) -> float | None:
    """Remove and return the last emission time of ``key`` (handing it to the other path)."""
    return _WINDOWS.pop(key, None)


def put_window(key: Hashable, last: float) -> None:
    """Set the last emission time of ``key`` (taking it over from the other path)."""
    _WINDOWS[key] = last


def emit_once_per(
    event: tuple[str, ...],
    interval: float,
    measurements: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    *,
    now: float | None = None,
) -> bool:
    """Emit ``event`` unless the same ``(event, metadata)`` went out less than ``interval`` seconds
    before ``now`` (default: ``time.monotonic()``); True if it went out."""
    _check_seconds("emit_once_per's interval", interval)
    check_event(event)
    key = dedup_key(event, metadata)
    at = _now() if now is None else now
    last = _WINDOWS.get(key)
    if last is not None and at - last < interval:
        return False
    _WINDOWS[key] = at
    telemetry.execute(event, measurements, metadata)
    return True


def batch(event: tuple[str, ...], item: Any, size: int, timeout: float, *, now: float | None = None) -> None:
    """Add ``item`` to the batch of ``event``; it goes out when it holds ``size`` items, when an add
    finds it older than ``timeout`` seconds, or when its loop timer fires."""
    if size.__class__ is not int or size < 1:
        raise (TypeError if size.__class__ is not int else ValueError)(
            f"a batch size must be an int >= 1, got {size!r}"
        )
    _check_seconds("a batch timeout", timeout)
    if timeout == math.inf:
        raise ValueError(f"a batch timeout must be a positive finite number of seconds, got {timeout!r}")
    check_event(event)
    at = _now() if now is None else now
    pending = _BATCHES.get(event)
    if pending is None:
        pending = _BATCHES[event] = _Pending(at, size, timeout)
    pending.size, pending.timeout = size, timeout
    if not pending.items:
        pending.opened = at
        _arm(event, pending)
    pending.items.append(item)
    if len(pending.items) >= size or at - pending.opened >= timeout:
        flush(event)


def _arm(event: tuple[str, ...], pending: _Pending) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop: only a full batch (or an explicit flush) goes out
        return
    pending.timer = loop.call_later(pending.timeout, flush, event)


def flush(event: tuple[str, ...]) -> int:
    """Emit the pending batch of ``event`` now; returns how many items it held."""
    pending = _BATCHES.pop(event, None)
    if pending is None:
        return 0
    if pending.timer is not None:
        pending.timer.cancel()
    items = pending.items
    if items:
        telemetry.execute(event, summarize_batch(items), {"batch_size": len(items)})
    return len(items)


def pending(event: tuple[str, ...]) -> int:
    """How many items wait in the batch of ``event`` here."""
    found = _BATCHES.get(event)
    return 0 if found is None else len(found.items)


def has_pending() -> bool:
    """Is any batch pending here? (The switch's cheap test before a second look.)"""
    return bool(_BATCHES)


def pending_events() -> list[tuple[str, ...]]:
    """The events with a batch pending here."""
    return [event for event, found in _BATCHES.items() if found.items]


def flush_all() -> int:
    """Emit every pending batch; returns how many items went out."""
    return sum(flush(event) for event in list(_BATCHES))


def clear() -> None:
    """Forget every window and pending batch (without emitting): for tests."""
    for found in _BATCHES.values():
        if found.timer is not None:
            found.timer.cancel()
    _BATCHES.clear()
    _WINDOWS.clear()
