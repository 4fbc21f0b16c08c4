"""The OpenTelemetry bridge (extra ``[otel]``): arbord's finished spans through any OTel
``SpanExporter``, and arbord spans nested in an application's OTel spans.

``install_otel_bridge(exporter)`` does two things while the span server runs:

- **export**: a handler of ``("arbord", "span", "stop")`` turns each finished span (the event's
  ``FinishedSpan``) into an OTel ``ReadableSpan`` — same name, trace id, span id, parent, times,
  attributes, events, links; status ``OK`` for ``ok``, ``ERROR`` otherwise with the reason, and the
  arbord status as the attribute ``arbord.status`` — and hands it to a span processor: OTel's own
  ``BatchSpanProcessor`` over ``exporter`` by default (OTLP, console, in-memory: any exporter), so
  the export runs in the processor's thread, never in the span's task;
- **parenting**: a span started while no arbord span is current but an OTel span is becomes that
  OTel span's child (its trace id and parent taken from OTel's current context), so arbord's spans
  nest inside an application already instrumented with OTel.

``OTelBridge.close()`` detaches both, flushes and shuts the processor down. Only this module imports
``opentelemetry``: the rest of ``daemon.spans`` works without the extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, Status, StatusCode, TraceFlags

from daemon.context import SpanRef
from daemon.spans.events import STOP
from daemon.spans.record import FinishedSpan
from daemon.spans.server import SPANS_NAME, SpanServer
from supervisor import telemetry, whereis

__all__ = ["OTelBridge", "install_otel_bridge", "to_readable_span"]

_SCOPE = InstrumentationScope("arbord")


def _context(trace_id: str, span_id: str, sampled: bool, *, remote: bool = False) -> SpanContext:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    return SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=remote, trace_flags=flags)


def _attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    # Kept by OTel's rules already (daemon/spans/limits.py): the values are what OTel takes.
    return dict(attributes)


def to_readable_span(span: FinishedSpan, resource: Resource | None = None) -> ReadableSpan:
    """The OTel ``ReadableSpan`` of an arbord ``FinishedSpan``."""
    parent = None
    if span.parent_id is not None:
        parent = _context(span.trace_id, span.parent_id, span.sampled, remote=span.remote_parent)
    if span.status == "ok":
        status = Status(StatusCode.OK)
    else:
        status = Status(StatusCode.ERROR, span.error or span.status)
    attributes: dict[str, Any] = {**span.attributes, "arbord.status": span.status}
    events = [Event(e.name, _attributes(e.attributes), e.time_ns) for e in span.events]
    links = [
        Link(_context(link.trace_id, link.span_id, True), _attributes(link.attributes)) for link in span.links
    ]
    return ReadableSpan(
        span.name,
        context=_context(span.trace_id, span.span_id, span.sampled),
        parent=parent,
        resource=resource,
        attributes=attributes,
        events=events,
        links=links,
        status=status,
        start_time=span.start_time_ns,
        end_time=span.end_time_ns,
        instrumentation_scope=_SCOPE,
    )


def otel_parent() -> SpanRef | None:
    """The OTel span current in this context, as the parent of an arbord span; None when none is."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return SpanRef(
        f"{context.trace_id:032x}", f"{context.span_id:016x}", bool(context.trace_flags.sampled), None, False
    )


class OTelBridge:
    """An installed bridge: ``close()`` undoes ``install_otel_bridge``."""

    def __init__(self, server: SpanServer, processor: SpanProcessor, resource: Resource) -> None:
        self.server = server
        self.processor = processor
        self.resource = resource
        self._handler_id = f"arbord.spans.otel.{id(self):x}"
        telemetry.attach(self._handler_id, STOP, self._on_stop)
        server.foreign_parent = otel_parent

    def _on_stop(
        self,
        event: tuple[str, ...],
        measurements: Mapping[str, float],
        metadata: Mapping[str, Any],
        config: Any,
    ) -> None:
        span = metadata.get("span")
        if isinstance(span, FinishedSpan) and span.sampled:
            self.processor.on_end(to_readable_span(span, self.resource))

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export every span the processor still holds."""
        return bool(self.processor.force_flush(timeout_millis))

    def close(self) -> None:
        """Stop exporting and parenting; flush and shut the processor down."""
        try:
            telemetry.detach(self._handler_id)
        except Exception:  # already detached (a failing handler is detached by the bus)
            pass
        if self.server.foreign_parent is otel_parent:
            self.server.foreign_parent = None
        self.processor.force_flush()
        self.processor.shutdown()


def install_otel_bridge(
    exporter: SpanExporter,
    *,
    processor: SpanProcessor | None = None,
    resource: Resource | None = None,
    server: SpanServer | None = None,
) -> OTelBridge:
    """Export the span server's finished spans through ``exporter`` (through ``processor`` if given,
    else a ``BatchSpanProcessor`` over it) and parent new traces on OTel's current span. ``server``:
    the span server (default: ``arbord.spans``); ``resource``: the OTel resource of the spans
    (default: ``service.name = arbord``)."""
    found = server if server is not None else whereis(SPANS_NAME)
    if not isinstance(found, SpanServer):
        raise LookupError(f"no span server {SPANS_NAME} is running")
    return OTelBridge(
        found,
        processor if processor is not None else BatchSpanProcessor(exporter),
        resource if resource is not None else Resource.create({"service.name": "arbord"}),
    )
