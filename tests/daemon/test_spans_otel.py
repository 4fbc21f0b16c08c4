"""The OpenTelemetry bridge (daemon/spans/otel.py), against OTel's own in-memory exporter: names,
ids, parents, status, attributes, events, links, and arbord spans nested in OTel spans."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from daemon.spans import (
    SPANS_NAME,
    SpanServer,
    add_attributes,
    link_span,
    record_event,
    span,
    start_span,
    with_propagated_context,
)
from daemon.spans.otel import OTelBridge, install_otel_bridge

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER = "00f067aa0ba902b7"


@pytest.fixture
async def spans() -> AsyncIterator[SpanServer]:
    server = await SpanServer.start(name=SPANS_NAME)
    yield server
    await server.stop()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def bridge(spans: SpanServer, exporter: InMemorySpanExporter) -> Iterator[OTelBridge]:
    installed = install_otel_bridge(exporter)
    yield installed
    installed.close()


async def test_finished_spans_are_exported_with_ids_parents_attributes_events_and_links(
    bridge: OTelBridge, exporter: InMemorySpanExporter
) -> None:
    with span("outer", {"user": "u1"}) as outer, span("inner") as inner:
        add_attributes({"rows": 3, "tags": ["a", "b"]})
        record_event("retry", {"attempt": 2})
        link_span(TRACE, OTHER, {"why": "batch"})
    assert bridge.force_flush()
    by_name = {s.name: s for s in exporter.get_finished_spans()}
    exported_outer, exported_inner = by_name["outer"], by_name["inner"]
    assert exported_inner.context is not None
    assert exported_outer.context is not None
    assert f"{exported_inner.context.trace_id:032x}" == outer.trace_id
    assert f"{exported_inner.context.span_id:016x}" == inner.span_id
    assert exported_inner.parent is not None
    assert f"{exported_inner.parent.span_id:016x}" == outer.span_id
    assert exported_outer.parent is None
    assert exported_inner.status.status_code is StatusCode.OK
    assert dict(exported_inner.attributes or {}) == {"rows": 3, "tags": ("a", "b"), "arbord.status": "ok"}
    assert dict(exported_outer.attributes or {})["user"] == "u1"
    assert [(e.name, dict(e.attributes or {})) for e in exported_inner.events] == [("retry", {"attempt": 2})]
    (link,) = exported_inner.links
    assert (f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") == (TRACE, OTHER)
    assert dict(link.attributes or {}) == {"why": "batch"}
    assert exported_inner.start_time is not None
    assert exported_inner.end_time is not None
    assert exported_inner.end_time >= exported_inner.start_time
    assert exported_inner.instrumentation_scope is not None
    assert exported_inner.instrumentation_scope.name == "arbord"


async def test_an_error_is_exported_with_status_error_and_its_reason(
    bridge: OTelBridge, exporter: InMemorySpanExporter
) -> None:
    with pytest.raises(ValueError, match="bad row"), span("failing"):
        raise ValueError("bad row")
    bridge.force_flush()
    (failing,) = exporter.get_finished_spans()
    assert failing.status.status_code is StatusCode.ERROR
    assert failing.status.description == "ValueError: bad row"
    assert dict(failing.attributes or {})["arbord.status"] == "error"


async def test_a_remote_parent_is_exported_as_remote(
    bridge: OTelBridge, exporter: InMemorySpanExporter
) -> None:
    with with_propagated_context(f"00-{TRACE}-{OTHER}-01"), span("served"):
        pass
    bridge.force_flush()
    (served,) = exporter.get_finished_spans()
    assert served.parent is not None
    assert served.parent.is_remote
    assert f"{served.parent.span_id:016x}" == OTHER


async def test_a_span_started_inside_an_otel_span_is_its_child(
    bridge: OTelBridge, exporter: InMemorySpanExporter
) -> None:
    tracer = TracerProvider().get_tracer("application")
    with tracer.start_as_current_span("application request") as application:
        context = application.get_span_context()
        with span("arbord work") as work:
            assert work.trace_id == f"{context.trace_id:032x}"
            assert work.parent is not None
            assert work.parent.span_id == f"{context.span_id:016x}"
    bridge.force_flush()
    (exported,) = exporter.get_finished_spans()
    assert exported.parent is not None
    assert exported.parent.span_id == context.span_id


async def test_closing_the_bridge_stops_export_and_parenting(
    spans: SpanServer, exporter: InMemorySpanExporter
) -> None:
    installed = install_otel_bridge(exporter)
    installed.close()
    assert spans.foreign_parent is None
    tracer = TracerProvider().get_tracer("application")
    with tracer.start_as_current_span("application request"), span("alone") as alone:
        assert alone.parent is None
    assert exporter.get_finished_spans() == ()
    start_span("left open")  # abandoned when the test's task ends: nothing exported either


def test_installing_without_a_span_server_is_refused(exporter: InMemorySpanExporter) -> None:
    with pytest.raises(LookupError, match="span server"):
        install_otel_bridge(exporter)
