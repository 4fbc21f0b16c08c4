"""A span as arbord keeps it: the live record in the span table, and the frozen views it gives out.

``LiveSpan`` is the mutable row a task's open span is (only the span server's table and the task
that opened it hold it). ``OpenSpan`` is a snapshot of one for readers (``current_span``, ``arborctl
spans``); ``FinishedSpan`` is what a stop hands to listeners and exporters (the OTel bridge).

>>> from daemon.context import SpanRef
>>> live = LiveSpan("load", SpanRef("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", True),
...                 None, {"rows": 3}, None)
>>> view = live.view(live.start_ns)
>>> view.name, view.parent_id, dict(view.attributes), view.age
('load', None, {'rows': 3}, 0.0)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from daemon.context import SpanRef

__all__ = ["FinishedSpan", "LiveSpan", "OpenSpan", "SpanEvent", "SpanLink"]

_time_ns: Final = time.time_ns
_perf_counter_ns: Final = time.perf_counter_ns


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """Something that happened during a span (``record_event``): a name, a wall time, attributes."""

    name: str
    time_ns: int
    attributes: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class SpanLink:
    """A link from a span to another span, of this trace or another (``link_span``)."""

    trace_id: str
    span_id: str
    attributes: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class OpenSpan:
    """A snapshot of an open span: what ``current_span`` returns and ``arborctl spans`` lists."""

    name: str
    trace_id: str
    span_id: str
    parent_id: str | None
    sampled: bool
    start_time_ns: int
    """Wall clock (``time.time_ns``) at the start."""
    age: float
    """Seconds since the start, when the snapshot was taken."""
    attributes: Mapping[str, object]
    task: str
    """The name of the task that opened it (the span is keyed by that task)."""

    @property
    def ref(self) -> SpanRef:
        return SpanRef(self.trace_id, self.span_id, self.sampled)


@dataclass(frozen=True, slots=True)
class FinishedSpan:
    """An ended span, complete: what the stop event carries (``metadata["span"]``) for exporters."""

    name: str
    trace_id: str
    span_id: str
    parent_id: str | None
    sampled: bool
    start_time_ns: int
    end_time_ns: int
    duration_ns: int
    status: str
    """``ok``, ``error``, ``cancelled`` or ``abandoned``."""
    attributes: Mapping[str, object]
    events: tuple[SpanEvent, ...]
    links: tuple[SpanLink, ...]
    error: str | None
    """``Type: message`` of the exception that ended it with ``error``, else None."""
    remote_parent: bool
    """True when the parent came from another process (a ``traceparent``)."""


class LiveSpan:
    """An open span. ``parent_live`` is the parent's own record when it was open in the same table
    at the start (so ending this span can skip ancestors already ended); ``parent_ref`` is the
    parent's ids, possibly remote."""

    __slots__ = (
        "attributes",
        "ended",
        "events",
        "links",
        "name",
        "parent_live",
        "ref",
        "start_ns",
        "start_time_ns",
        "task",
    )

    def __init__(
        self,
        name: str,
        ref: SpanRef,
        parent_live: LiveSpan | None,
        attributes: dict[str, object],
        task: Any,
    ) -> None:
        self.name = name
        self.ref = ref
        self.parent_live = parent_live
        self.attributes = attributes
        self.events: list[SpanEvent] | None = None
        self.links: list[SpanLink] | None = None
        self.task = task
        self.ended = False
        self.start_time_ns = _time_ns()
        self.start_ns = _perf_counter_ns()

    @property
    def parent_ref(self) -> SpanRef | None:
        return self.ref.parent

    @property
    def parent_id(self) -> str | None:
        parent = self.ref.parent
        return None if parent is None else parent.span_id

    @property
    def remote_parent(self) -> bool:
        parent = self.ref.parent
        return parent is not None and parent.remote

    def restore_to(self) -> SpanRef | None:
        """The span that becomes current when this one ends while current: its nearest ancestor
        still open (spans ended out of order are skipped: test_ending_the_top_after_its_parent...)."""
        ref = self.ref.parent
        parent = self.parent_live
        while parent is not None and parent.ended:
            ref = parent.ref.parent
            parent = parent.parent_live
        return ref

    def view(self, now_ns: int) -> OpenSpan:
        """A snapshot, aged at ``now_ns`` (``time.perf_counter_ns``)."""
        ref = self.ref
        task = self.task
        get_name = getattr(task, "get_name", None)
        return OpenSpan(
            self.name,
            ref.trace_id,
            ref.span_id,
            self.parent_id,
            ref.sampled,
            self.start_time_ns,
            max(0, now_ns - self.start_ns) / 1e9,
            MappingProxyType(dict(self.attributes)),
            get_name() if get_name is not None else repr(task),
        )

    def finish(self, status: str, end_ns: int, error: str | None) -> FinishedSpan:
        """The finished span (the caller has marked this record ended)."""
        ref = self.ref
        duration = max(0, end_ns - self.start_ns)
        return FinishedSpan(
            self.name,
            ref.trace_id,
            ref.span_id,
            self.parent_id,
            ref.sampled,
            self.start_time_ns,
            self.start_time_ns + duration,
            duration,
            status,
            MappingProxyType(self.attributes),
            tuple(self.events or ()),
            tuple(self.links or ()),
            error,
            self.remote_parent,
        )
