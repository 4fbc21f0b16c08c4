"""OFREP's round trip (daemon/flags/ofrep) against the same listener's ``/metrics`` in the same run.

One connection per request (the listener answers ``Connection: close``), from an asyncio stream
client on the same loop: ``POST /ofrep/v1/evaluate/flags/beta`` with a context (a percentage of actors:
the evaluation hashes) against ``GET /metrics`` of a metrics server with its default tables, in
alternation. The ratio is information: both are dominated by the connection and the HTTP framing,
which is the point (an evaluation costs microseconds; the HTTP hop costs what any HTTP hop costs).
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bench.harness import Row
from bench.loops import run_on
from daemon.flags.binding import FLAGS_NAME
from daemon.flags.config import FlagsSettings
from daemon.flags.ofrep import OFREP_NAME, OfrepMount
from daemon.flags.server import Flags
from daemon.telemetry.config import TelemetrySettings
from daemon.telemetry.http_listener import HttpListener
from daemon.telemetry.metrics_tree import HTTP_NAME, METRICS_ROUTE, metrics_child_specs
from supervisor import ChildSpec, Supervisor, whereis

ROUNDS = 400


async def _round_trip(port: int, request: bytes) -> float:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    elapsed = time.perf_counter() - started
    if not answer.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"the benchmark's request failed: {answer[:200]!r}")
    return elapsed


async def _measure() -> tuple[float, float]:
    metrics = metrics_child_specs(TelemetrySettings())[0]
    children = [
        metrics,
        ChildSpec("http", HttpListener, args=("127.0.0.1", 0, [METRICS_ROUTE]), name=HTTP_NAME),
        ChildSpec("flags", Flags, args=(FlagsSettings(store="memory"),), name=FLAGS_NAME),
        ChildSpec("ofrep", OfrepMount, name=OFREP_NAME),
    ]
    async with Supervisor(children):
        flags = whereis(FLAGS_NAME)
        listener = whereis(HTTP_NAME)
        assert isinstance(flags, Flags)
        assert isinstance(listener, HttpListener)
        await flags.set_percentage("beta", 50, of="actors", create=True)
        body = b'{"context":{"targetingKey":"user-17","plan":"pro"}}'
        ofrep = (
            b"POST /ofrep/v1/evaluate/flags/beta HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        scrape = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        ofrep_times, metrics_times = [], []
        for _ in range(ROUNDS):
            metrics_times.append(await _round_trip(listener.port, scrape))
            ofrep_times.append(await _round_trip(listener.port, ofrep))
    return statistics.median(ofrep_times) * 1e6, statistics.median(metrics_times) * 1e6


def run(loop_name: str) -> list[Row]:
    ofrep_us, metrics_us = run_on(loop_name, _measure())
    name = "OFREP single evaluation vs /metrics round trip"
    return [Row("ofrep", name, loop_name, ofrep_us, metrics_us, "us", None)]
