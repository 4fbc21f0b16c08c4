"""Sampled events behind the migration flag: ``emit_once_per`` and ``batch`` on the telemetry server's
tables or on their legacy twin, chosen per call by ``use_ets_sampled_events`` (docs/migrations.md,
"arbord's own migrated components").

The same signatures, results and events as ``daemon.telemetry.emit_once_per`` and ``batch``; on each
call ``daemon.flags.migration.backend.use_supervised`` says which path serves it: the telemetry
server's tables (``daemon.telemetry.events``: sampled, counted in ``arborctl metrics``) or the
module-global dicts of ``daemon.legacy.sampled_events`` (neither sampled nor counted). The flag is
read for no actor: an event's window and batch must stay in one place, so this flag is turned on or
off as a whole, not rolled out by percentage.

**Nothing is lost or repeated on a flip.** The call after a flip takes the state of its key over
from the other path:

- ``emit_once_per`` moves the key's dedup window across (the last emission time, on the telemetry
  server's clock, which both paths use while it runs), so an event that went out just before the
  flip is not sent again inside its window;
- ``batch`` first flushes the event's batch pending in the other path (one batch event with those
  items), then adds the item where the flag says. A batch that nobody adds to after the flip goes
  out on its own timer (the server's, or the legacy path's loop timer).

No await inside a call: a flip lands between two calls, never inside one.

>>> from supervisor import telemetry
>>> seen = []
>>> telemetry.attach("doc", ("doc", "work"), lambda e, m, md, c: seen.append(md["batch_size"]))
>>> for n in range(3):
...     batch(("doc", "work"), n, 3, 60.0)       # no server: each item goes out alone
>>> seen, backend()
([1, 1, 1], 'supervised')
>>> telemetry.detach("doc")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

from daemon.flags.migration.backend import use_supervised
from daemon.legacy import sampled_events as legacy
from daemon.telemetry import events
from daemon.telemetry.hub import Hub, Window, current_hub
from daemon.telemetry.keys import dedup_key

__all__ = [
    "SAMPLED_EVENTS_FLAG",
    "Backend",
    "backend",
    "batch",
    "emit_once_per",
    "flush_legacy",
    "legacy_state",
]

SAMPLED_EVENTS_FLAG: Final = "use_ets_sampled_events"
"""The ``otp_cleanup`` flag that sends sampled events to the telemetry server's tables (binding name)."""

Backend = Literal["supervised", "legacy"]


def backend() -> Backend:
    """The path the flag sends sampled events to now."""
    return "supervised" if use_supervised(SAMPLED_EVENTS_FLAG) else "legacy"


def legacy_state() -> dict[str, int]:
    """What the legacy path still keeps: dedup ``windows`` and ``pending`` batch items."""
    return {
        "windows": legacy.windows(),
        "pending": sum(legacy.pending(event) for event in legacy.pending_events()),
    }


def flush_legacy() -> int:
    """Emit every batch pending in the legacy path now; returns how many items went out."""
    return legacy.flush_all()


def emit_once_per(
    event: tuple[str, ...],
    interval: float,
    measurements: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> bool:
    """``daemon.telemetry.emit_once_per`` on the path in force (see the module docstring)."""
    if use_supervised(SAMPLED_EVENTS_FLAG):
        if legacy.windows():
            _window_to_tables(event, metadata)
        return events.emit_once_per(event, interval, measurements, metadata)
    hub = current_hub()
    if hub is None:
        return legacy.emit_once_per(event, interval, measurements, metadata)
    _window_to_legacy(hub, event, metadata)
    return legacy.emit_once_per(event, interval, measurements, metadata, now=hub.clock())


def _window_to_tables(event: tuple[str, ...], metadata: Mapping[str, Any] | None) -> None:
    """Move the legacy window of ``(event, metadata)`` into the server's dedup table."""
    hub = current_hub()
    if hub is None:
        return
    try:
        key = dedup_key(event, metadata)
        last = legacy.take_window(key)
    except TypeError:  # an unhashable event: the supervised path says so
        return
    if last is not None:
        hub.dedup.insert((key, Window(last, hub.stats(event))))


def _window_to_legacy(hub: Hub, event: tuple[str, ...], metadata: Mapping[str, Any] | None) -> None:
    """Move the server's window of ``(event, metadata)`` into the legacy dict."""
    try:
        key = dedup_key(event, metadata)
        row = hub.dedup_get(key)
    except TypeError:  # an unhashable event: the legacy path says so
        return
    if row is not None:
        hub.dedup.delete(key)
        legacy.put_window(key, row[1].last)


def batch(event: tuple[str, ...], item: Any, size: int, timeout: float) -> None:
    """``daemon.telemetry.batch`` on the path in force, after flushing the event's batch pending in
    the other path (see the module docstring)."""
    if use_supervised(SAMPLED_EVENTS_FLAG):
        if legacy.has_pending() and legacy.pending(event):
            legacy.flush(event)
        events.batch(event, item, size, timeout)
        return
    hub = current_hub()
    if hub is None:
        legacy.batch(event, item, size, timeout)
        return
    try:
        row = hub.batches_get(event)
    except TypeError:  # an unhashable event: the legacy path says so
        row = None
    if row is not None and row[1].items:
        events.flush_batch(hub, event, row[1])
    legacy.batch(event, item, size, timeout, now=hub.clock())
