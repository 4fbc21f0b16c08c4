"""The span facility's telemetry events, and their metadata (``docs/spans.md``, "Telemetry events").

Each is built only when a handler listens (``supervisor.telemetry.active_events``): with nobody
listening a span costs no dict and no ``FinishedSpan``. Measurements are integer nanoseconds:
``timestamp`` (wall clock), ``monotonic_time``, ``duration``.

===========================================  ================================================
event                                        metadata (besides the span's own attributes)
===========================================  ================================================
``("arbord", "span", "start")``              span_id, span_name, parent_id, trace_id
``("arbord", "span", "stop")``               + status, span (a ``FinishedSpan``), error
``("arbord", "span", "attributes")``         span_id, span_name, trace_id
``("arbord", "span", "event")``              span_id, span_name, trace_id, event_name
``("arbord", "span", "link")``               span_id, trace_id, linked_trace_id, linked_span_id
``("arbord", "span", "orphan_end")``         span_id, trace_id, reason (no attributes)
===========================================  ================================================
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Final

from daemon.spans.record import LiveSpan, SpanLink
from supervisor import telemetry

__all__ = ["ATTRIBUTES", "EVENT", "LINK", "ORPHAN_END", "START", "STOP", "emit_start", "emit_stop"]

START: Final = ("arbord", "span", "start")
"""Emitted when a span starts."""
STOP: Final = ("arbord", "span", "stop")
"""Emitted when a span ends, with its status and the ``FinishedSpan``."""
ATTRIBUTES: Final = ("arbord", "span", "attributes")
"""Emitted when attributes are set on an open span."""
EVENT: Final = ("arbord", "span", "event")
"""Emitted when an event is added to an open span."""
LINK: Final = ("arbord", "span", "link")
"""Emitted when a link to another span is added to an open span."""
ORPHAN_END: Final = ("arbord", "span", "orphan_end")
"""Emitted when ``end_span`` is given a span that is not open (unknown, or already ended)."""

_active: Final = telemetry.active_events
_execute: Final = telemetry.execute


def emit_start(live: LiveSpan) -> None:
    """The start event of ``live``, if anyone listens."""
    if START in _active:
        ref = live.ref
        metadata = {
            **live.attributes,
            "span_id": ref.span_id,
            "span_name": live.name,
            "parent_id": live.parent_id,
            "trace_id": ref.trace_id,
        }
        _execute(START, {"timestamp": live.start_time_ns, "monotonic_time": live.start_ns}, metadata)


def emit_stop(
    live: LiveSpan, status: str, error: str | None = None, extra: Mapping[str, object] | None = None
) -> None:
    """The stop event of ``live`` (already marked ended), if anyone listens."""
    if STOP in _active:
        end = time.perf_counter_ns()
        finished = live.finish(status, end, error)
        ref = live.ref
        metadata: dict[str, object] = {**live.attributes}
        if extra:
            metadata.update(extra)
        metadata.update(
            span_id=ref.span_id,
            span_name=live.name,
            parent_id=live.parent_id,
            trace_id=ref.trace_id,
            status=status,
            span=finished,
        )
        if error is not None:
            metadata["error"] = error
        measurements = {
            "duration": finished.duration_ns,
            "timestamp": finished.end_time_ns,
            "monotonic_time": end,
        }
        _execute(STOP, measurements, metadata)


def emit_attributes(live: LiveSpan, attributes: Mapping[str, object]) -> None:
    if ATTRIBUTES in _active:
        ref = live.ref
        metadata = {**attributes, "span_id": ref.span_id, "span_name": live.name, "trace_id": ref.trace_id}
        _execute(ATTRIBUTES, {"timestamp": time.time_ns()}, metadata)


def emit_event(live: LiveSpan, name: str, time_ns: int, attributes: Mapping[str, object]) -> None:
    if EVENT in _active:
        ref = live.ref
        metadata = {
            **attributes,
            "span_id": ref.span_id,
            "span_name": live.name,
            "trace_id": ref.trace_id,
            "event_name": name,
        }
        _execute(EVENT, {"timestamp": time_ns}, metadata)


def emit_link(live: LiveSpan, link: SpanLink) -> None:
    if LINK in _active:
        ref = live.ref
        metadata = {
            **link.attributes,
            "span_id": ref.span_id,
            "trace_id": ref.trace_id,
            "linked_trace_id": link.trace_id,
            "linked_span_id": link.span_id,
        }
        _execute(LINK, {"timestamp": time.time_ns()}, metadata)


def emit_orphan_end(span_id: object, trace_id: object, reason: str) -> None:
    if ORPHAN_END in _active:
        metadata = {"span_id": span_id, "trace_id": trace_id, "reason": reason}
        _execute(ORPHAN_END, {"timestamp": time.time_ns()}, metadata)
