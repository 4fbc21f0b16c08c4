"""Exact accounting (docs/telemetry.md#exact-accounting): for every event name, at every moment,
``received == emitted + deduplicated + sampled_out + pending + dropped``. Random runs of emits,
dedups, batch adds, timer flushes, sampling changes and crashes of the server, checked after every
step and from inside every handler call (hypothesis)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.telemetry import batch, emit, emit_once_per, stats_snapshot
from daemon.telemetry.accounting import COUNTERS, balanced
from daemon.telemetry.config import TelemetrySettings
from daemon.telemetry.hub import SERVER_NAME
from daemon.telemetry.sampling_config import EventsSettings
from daemon.telemetry.server import FlushDue, GetStats, SetSampling, TelemetryServer
from daemon.telemetry.spec import events_child_specs
from supervisor import Supervisor, telemetry, whereis
from supervisor.testing import ManualClock

NAMES = [("a",), ("a", "b"), ("c",)]
STRATEGIES = ["always", "never", "random(0.5)", "rate_limited(2)", "adaptive(3, 1)", "reservoir(2)", "unset"]

step = st.one_of(
    st.tuples(st.just("emit"), st.sampled_from(NAMES)),
    st.tuples(st.just("once"), st.sampled_from(NAMES), st.integers(0, 2), st.sampled_from([0.5, 2.0])),
    st.tuples(st.just("batch"), st.sampled_from(NAMES), st.integers(1, 4)),
    st.tuples(st.just("advance"), st.sampled_from([0.1, 0.6, 1.5])),
    st.tuples(st.just("flush")),
    st.tuples(st.just("sample"), st.sampled_from(["", "a", "a.b", "c"]), st.sampled_from(STRATEGIES)),
    st.tuples(st.just("crash")),
)


def check_all() -> None:
    for row in stats_snapshot():
        assert balanced(row), row


async def run(steps: list[tuple[Any, ...]]) -> None:
    clock = ManualClock(100.0)
    settings = TelemetrySettings(events=EventsSettings(max_pending=3))
    specs = list(events_child_specs(settings))
    specs[1] = dataclasses.replace(specs[1], kwargs={**specs[1].kwargs, "clock": clock, "seed": 7})
    moments = 0

    def handler(event: Any, measurements: Any, metadata: Any, config: Any) -> None:
        nonlocal moments
        moments += 1
        check_all()  # the identity holds while the handlers of an emission run, too

    telemetry.attach_many("accounting-check", NAMES, handler)
    try:
        async with Supervisor(specs, intensity=1000) as root:
            for op, *args in steps:
                server = whereis(SERVER_NAME)
                assert isinstance(server, TelemetryServer)
                if op == "emit":
                    emit(args[0], {"n": 1})
                elif op == "once":
                    emit_once_per(args[0], args[2], {}, {"k": args[1]})
                elif op == "batch":
                    batch(args[0], {"n": 1}, args[1], 1.0)
                elif op == "advance":
                    clock.advance(args[0])
                elif op == "flush":
                    await server.call(FlushDue())
                elif op == "sample":
                    await server.call(SetSampling(args[0], None if args[1] == "unset" else args[1]))
                else:
                    server.kill()
                    await server.wait()
                    await root.which_children()
                check_all()
            final = await whereis_server().call(GetStats())
            for row in final["events"]:
                assert set(COUNTERS) <= set(row)
    finally:
        telemetry.detach("accounting-check")


def whereis_server() -> TelemetryServer:
    server = whereis(SERVER_NAME)
    assert isinstance(server, TelemetryServer)
    return server


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, max_size=40))
def test_the_accounting_identity_holds_at_every_moment(steps: list[tuple[Any, ...]]) -> None:
    asyncio.run(run(steps))


def test_counters_and_generation_across_a_crash_and_a_fresh_start() -> None:
    async def scenario() -> None:
        async with Supervisor(list(events_child_specs(TelemetrySettings()))) as root:
            emit(("x",))
            emit_once_per(("x",), 60.0)
            emit_once_per(("x",), 60.0)
            before = await whereis_server().call(GetStats())
            whereis_server().kill()
            await root.which_children()
            after = await whereis_server().call(GetStats())
            assert after["events"] == before["events"]
            assert after["generation"] == before["generation"]
            assert after["incarnation"] == 2
            row = after["events"][0]
            assert (row["received"], row["emitted"], row["deduplicated"]) == (3, 2, 1)

    asyncio.run(scenario())


@pytest.mark.parametrize("concurrency", [2, 10, 100])
async def test_dedup_is_exact_under_concurrency(concurrency: int) -> None:
    server = await TelemetryServer.start(clock=ManualClock(), name=SERVER_NAME)
    try:
        gate = asyncio.Event()

        async def racer(key: int) -> bool:
            await gate.wait()
            return emit_once_per(("race",), 5.0, {}, {"key": key % 3})

        tasks = [asyncio.create_task(racer(n)) for n in range(concurrency)]
        await asyncio.sleep(0)  # every racer waits at the gate (a scheduling step)
        gate.set()
        results = await asyncio.gather(*tasks)
        assert results.count(True) == min(3, concurrency)
        row = stats_snapshot()[0]
        assert row["emitted"] == min(3, concurrency)
        assert row["deduplicated"] == concurrency - min(3, concurrency)
    finally:
        await server.stop()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 4), min_size=1, max_size=60), st.lists(st.integers(0, 3), max_size=60))
def test_dedup_emits_exactly_once_per_key_whatever_the_interleaving(
    keys: list[int], yields: list[int]
) -> None:
    """Racers on a few keys (unhashable metadata included), each yielding to the loop a random number
    of times first: exactly one emission per distinct key, and the rest counted as deduplicated."""

    async def scenario() -> None:
        server = await TelemetryServer.start(clock=ManualClock(), name=SERVER_NAME)
        try:
            gate = asyncio.Event()

            async def racer(i: int, key: int) -> tuple[int, bool]:
                await gate.wait()
                for _ in range(yields[i % len(yields)] if yields else 0):
                    await asyncio.sleep(0)  # a scheduling step: the interleaving, not a timed wait
                return key, emit_once_per(("race",), 5.0, {}, {"key": key, "tags": [key]})

            tasks = [asyncio.create_task(racer(i, key)) for i, key in enumerate(keys)]
            await asyncio.sleep(0)
            gate.set()
            results = await asyncio.gather(*tasks)
            assert sorted(key for key, emitted in results if emitted) == sorted(set(keys))
            (row,) = stats_snapshot()
            assert (row["emitted"], row["deduplicated"]) == (len(set(keys)), len(keys) - len(set(keys)))
        finally:
            await server.stop()

    asyncio.run(scenario())
