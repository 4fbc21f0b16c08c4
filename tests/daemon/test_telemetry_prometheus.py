"""Prometheus export: the exposition (checked with prometheus_client's own parser) and the small HTTP
listener with its route table (scraped with a real HTTP client: urllib in a thread, raw streams)."""

from __future__ import annotations

import asyncio
import logging
import math
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from daemon.telemetry import emit_once_per, stats_snapshot
from daemon.telemetry.accounting_export import accounting_records
from daemon.telemetry.aggregation import METRICS_NAME, MetricsServer
from daemon.telemetry.config import TelemetrySettings
from daemon.telemetry.http_listener import HttpListener, HttpRequest, HttpResponse, Route
from daemon.telemetry.hub import SERVER_NAME
from daemon.telemetry.metrics import counter, distribution, last_value, sum_of, summary
from daemon.telemetry.metrics_config import PrometheusSettings
from daemon.telemetry.metrics_tree import HTTP_NAME, METRICS_ROUTE, metrics_child_specs
from daemon.telemetry.poller import POLLER_NAME
from daemon.telemetry.prometheus import exposition
from daemon.telemetry.server import TelemetryServer
from supervisor import telemetry
from supervisor.testing import ManualClock

JOB = ("job", "done")


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(family: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}


async def test_every_kind_of_metric_parses_back_with_prometheus_clients_parser() -> None:
    server = await MetricsServer.start(
        [
            counter("job.done.count", tags=("queue",), description="Jobs done."),
            sum_of("job.done.rows", tags=("queue",)),
            last_value("job.done.took", unit=("millisecond", "second")),
            summary("job.done.size", quantiles=(0.5,)),
            distribution("job.done.latency", buckets=(1, 10)),
        ]
    )
    try:
        for queue, rows, took in (("fast", 2, 1500), ("fast", 3, 20), ('we"ird\n', 1, 7)):
            telemetry.execute(
                JOB, {"rows": rows, "took": took, "size": rows, "latency": rows * 4}, {"queue": queue}
            )
        found = families(exposition(server))
    finally:
        await server.stop()
    assert found["job_done_count"].type == "counter"
    assert found["job_done_count"].documentation == "Jobs done."
    assert samples(found["job_done_count"]) == {
        ("job_done_count_total", (("queue", "fast"),)): 2.0,
        ("job_done_count_total", (("queue", 'we"ird\n'),)): 1.0,  # escaped and read back
    }
    assert samples(found["job_done_rows"])[("job_done_rows_total", (("queue", "fast"),))] == 5.0
    assert (found["job_done_took"].type, samples(found["job_done_took"])) == (
        "gauge",
        {("job_done_took", ()): 0.007},
    )
    assert found["job_done_took"].documentation == "job.done.took (unit: second)"
    assert samples(found["job_done_size"]) == {
        ("job_done_size", (("quantile", "0.5"),)): 2.0,
        ("job_done_size_sum", ()): 6.0,
        ("job_done_size_count", ()): 3.0,
    }
    latency = samples(found["job_done_latency"])
    assert found["job_done_latency"].type == "histogram"
    assert latency[("job_done_latency_bucket", (("le", "1.0"),))] == 0.0
    assert latency[("job_done_latency_bucket", (("le", "10.0"),))] == 2.0
    assert latency[("job_done_latency_bucket", (("le", "+Inf"),))] == 3.0
    assert (latency[("job_done_latency_sum", ())], latency[("job_done_latency_count", ())]) == (24.0, 3.0)


async def test_dropped_events_are_exported_too() -> None:
    server = await MetricsServer.start([sum_of("job.done.rows")])
    try:
        telemetry.execute(JOB, {})
        found = families(exposition(server))
    finally:
        await server.stop()
    dropped = samples(found["arbord_metrics_dropped_count"])
    key = (
        "arbord_metrics_dropped_count_total",
        (("metric", "job.done.rows"), ("reason", "missing_measurement")),
    )
    assert dropped == {key: 1.0}
    assert samples(found["job_done_rows"]) == {}


async def test_the_sampled_events_accounting_is_exported() -> None:
    # Issue 13: the sampled events' counters are among arbord's default metrics.
    events = await TelemetryServer.start(clock=ManualClock(), name=SERVER_NAME)
    server = await MetricsServer.start([])
    try:
        for _ in range(3):
            emit_once_per(("jobs", "done"), 60.0, {}, {"queue": "fast"})
        found = families(exposition(server, accounting=True))
        records = accounting_records(stats_snapshot())
    finally:
        await server.stop()
        await events.stop()
    outcomes = {
        dict(labels)["outcome"]: value
        for (_, labels), value in samples(found["arbord_telemetry_events"]).items()
    }
    assert (outcomes["received"], outcomes["emitted"], outcomes["deduplicated"]) == (3.0, 1.0, 2.0)
    assert samples(found["arbord_telemetry_pending"]) == {
        ("arbord_telemetry_pending", (("event", "jobs.done"),)): 0.0
    }
    by_outcome = {
        r["tags"]["outcome"]: r["value"] for r in records if r["metric"] == "arbord.telemetry.events"
    }
    assert (by_outcome["received"], by_outcome["emitted"], by_outcome["deduplicated"]) == (3, 1, 2)


# --- the HTTP listener -----------------------------------------------------------------------------


async def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(HTTPStatus.OK, f"{request.method} {request.path} {request.query}".encode())


async def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a route with a bug")


@pytest.fixture
async def listener() -> AsyncIterator[HttpListener]:
    running = await HttpListener.start(
        "127.0.0.1",
        0,
        [Route("/hello", hello), Route("/api/", hello, methods=("GET", "POST")), Route("/bug", broken)],
    )
    yield running
    await running.stop()


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


async def get(listener: HttpListener, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    return await asyncio.to_thread(fetch, f"http://127.0.0.1:{listener.port}{path}", method)


async def test_routes_are_exact_paths_or_prefixes_ending_in_a_slash(listener: HttpListener) -> None:
    status, headers, body = await get(listener, "/hello?name=x")
    assert (status, body) == (200, b"GET /hello {'name': 'x'}")
    assert (headers["Content-Type"], headers["Connection"]) == ("text/plain; charset=utf-8", "close")
    assert (await get(listener, "/api/v1/flags/x", "POST"))[::2] == (200, b"POST /api/v1/flags/x {}")
    assert (await get(listener, "/hello/more"))[0] == HTTPStatus.NOT_FOUND
    assert (await get(listener, "/"))[0] == HTTPStatus.NOT_FOUND


async def test_a_method_a_route_does_not_answer_is_405_with_allow(listener: HttpListener) -> None:
    status, headers, _ = await get(listener, "/hello", "DELETE")
    assert (status, headers["Allow"]) == (HTTPStatus.METHOD_NOT_ALLOWED, "GET, HEAD")


async def test_head_answers_the_headers_without_the_body(listener: HttpListener) -> None:
    status, headers, body = await get(listener, "/hello", "HEAD")
    assert (status, headers["Content-Length"], body) == (200, str(len(b"HEAD /hello {}")), b"")


async def test_a_route_that_raises_is_a_500_and_the_listener_carries_on(
    listener: HttpListener, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await get(listener, "/bug"))[0] == HTTPStatus.INTERNAL_SERVER_ERROR
    assert "the HTTP route /bug failed on GET /bug" in caplog.text
    assert (await get(listener, "/hello"))[0] == HTTPStatus.OK
    assert listener.alive


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"NONSENSE\r\n\r\n", b"400"),
        (b"GET /hello HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
        (b"GET /hello HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", b"413"),
        (b"GET /hello HTTP/1.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n", b"431"),
        (b"GET /hel", b"400"),
    ],
)
async def test_bad_requests_are_refused_with_a_status(
    listener: HttpListener, data: bytes, status: bytes
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(data)
    if not data.endswith(b"\r\n\r\n"):
        writer.write_eof()
    await writer.drain()
    async with asyncio.timeout(10):
        answer = await reader.read()
    writer.close()
    assert answer.split(b" ")[1] == status
    assert (await get(listener, "/hello"))[0] == HTTPStatus.OK


async def test_routes_mount_and_unmount_on_a_running_listener(listener: HttpListener) -> None:
    listener.mount(Route("/ofrep/v1/", hello, methods=("POST",)))
    assert (await get(listener, "/ofrep/v1/evaluate/flags/x", "POST"))[0] == HTTPStatus.OK
    listener.unmount("/ofrep/v1/")
    assert (await get(listener, "/ofrep/v1/evaluate/flags/x", "POST"))[0] == HTTPStatus.NOT_FOUND


async def test_stopping_closes_an_idle_connection_without_waiting_for_it() -> None:
    listener = await HttpListener.start("127.0.0.1", 0, [Route("/hello", hello)])
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"GET /hel")  # and then nothing
    await writer.drain()
    async with asyncio.timeout(10):
        await listener.stop()
        assert await reader.read() == b""
    writer.close()


async def test_a_non_loopback_address_is_allowed_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "arbord.http"):
        listener = await HttpListener.start("0.0.0.0", 0, [])
        await listener.stop()
    assert "host 0.0.0.0 is not a loopback address" in caplog.text


async def test_a_loopback_address_logs_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "arbord.http"):
        listener = await HttpListener.start("127.0.0.1", 0, [])
        await listener.stop()
    assert caplog.records == []


# --- /metrics and the tree -------------------------------------------------------------------------


def test_the_listener_is_in_the_tree_only_when_listen_is_set() -> None:
    assert [s.name for s in metrics_child_specs(TelemetrySettings())] == [METRICS_NAME, POLLER_NAME]
    listening = TelemetrySettings(prometheus=PrometheusSettings(listen="127.0.0.1:9464"))
    specs = metrics_child_specs(listening)
    assert [s.name for s in specs] == [METRICS_NAME, POLLER_NAME, HTTP_NAME]
    assert specs[2].args == ("127.0.0.1", 9464, [METRICS_ROUTE])


@pytest.mark.parametrize("listen", ["9464", "localhost:http", "127.0.0.1:70000", ":9464"])
def test_a_bad_listen_address_is_refused(listen: str) -> None:
    with pytest.raises(ValueError, match="expected 'HOST:PORT'"):
        PrometheusSettings(listen=listen)


async def test_metrics_serves_the_exposition_or_503_while_no_metrics_server_runs() -> None:
    listener = await HttpListener.start("127.0.0.1", 0, [METRICS_ROUTE])
    try:
        assert (await get(listener, "/metrics"))[0] == HTTPStatus.SERVICE_UNAVAILABLE
        server = await MetricsServer.start([counter("job.done.count")], name=METRICS_NAME)
        try:
            telemetry.execute(JOB, {})
            status, headers, body = await get(listener, "/metrics")
        finally:
            await server.stop()
    finally:
        await listener.stop()
    assert (status, headers["Content-Type"].split(";")[0]) == (200, "text/plain")
    count = samples(families(body.decode())["job_done_count"])
    assert count == {("job_done_count_total", ()): 1.0}
    assert not math.isnan(count[("job_done_count_total", ())])
