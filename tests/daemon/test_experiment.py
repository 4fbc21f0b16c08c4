"""Experiments (daemon.flags.experiment): the caller sees the control and only the control; every
outcome is counted in the experiments server's tables from the caller's task and emitted as an event;
the async candidate runs concurrently, time-boxed, and the caller never waits for it."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.flags import experiment
from daemon.flags.experiments import (
    ERROR,
    MATCH,
    MISMATCH,
    MISMATCHES_KEPT,
    SAMPLES,
    TIMEOUT,
    Experiments,
    read_report,
)
from supervisor.testing import capture

ALL = (MATCH, MISMATCH, ERROR, TIMEOUT)


@pytest.fixture
async def server() -> AsyncIterator[Experiments]:
    started = await Experiments.start()
    yield started
    await started.stop()


def counts(name: str) -> dict[str, int]:
    report = read_report(name)
    assert report is not None
    return report.counts


# --- the caller sees the control ------------------------------------------------------------------


async def test_the_control_value_is_returned_and_a_match_counted(server: Experiments) -> None:
    with capture(*ALL) as seen:
        assert experiment("sum", lambda: 6, lambda: 6) == 6
    assert counts("sum") == {"runs": 1, "matches": 1, "mismatches": 0, "errors": 0, "timeouts": 0}
    [event] = seen
    assert event.event == MATCH
    assert event.metadata == {"name": "sum", "counted": True}
    assert event.measurements["control_duration"] >= 0
    assert event.measurements["candidate_duration"] >= 0


async def test_the_candidate_exception_never_reaches_the_caller(server: Experiments) -> None:
    def broken() -> int:
        raise ZeroDivisionError("candidate")

    with capture(ERROR) as seen:
        assert experiment("div", lambda: 1, broken) == 1
    assert counts("div")["errors"] == 1
    assert isinstance(seen[0].metadata["error"], ZeroDivisionError)
    assert seen[0].metadata["where"] == "candidate"


async def test_the_control_exception_is_raised_as_is_and_compared(server: Experiments) -> None:
    raised = KeyError("k")

    def control() -> int:
        raise raised

    def same() -> int:
        raise KeyError("k")

    def other() -> int:
        raise KeyError("other")

    with pytest.raises(KeyError) as first:
        experiment("raises", control, same)
    assert first.value is raised
    with pytest.raises(KeyError):
        experiment("raises", control, other)
    with pytest.raises(KeyError):
        experiment("raises", control, lambda: None)
    assert counts("raises") == {"runs": 3, "matches": 1, "mismatches": 2, "errors": 0, "timeouts": 0}


async def test_a_mismatch_is_recorded_with_both_sides(server: Experiments) -> None:
    with capture(MISMATCH) as seen:
        assert experiment("lookup", lambda: {"a": 1}, lambda: {"a": 2}) == {"a": 1}
    report = read_report("lookup")
    assert report is not None
    assert report.counts["mismatches"] == 1
    assert report.mismatches == [{"control": "{'a': 1}", "candidate": "{'a': 2}"}]
    assert seen[0].metadata["control"] == {"a": 1}
    assert seen[0].metadata["candidate"] == {"a": 2}


async def test_only_the_first_mismatches_are_kept_but_all_are_counted(server: Experiments) -> None:
    for n in range(MISMATCHES_KEPT + 5):
        experiment("many", partial(int, n), partial(operator.neg, n + 1))
    report = read_report("many")
    assert report is not None
    assert report.counts["mismatches"] == MISMATCHES_KEPT + 5
    assert [m["control"] for m in report.mismatches] == [str(n) for n in range(MISMATCHES_KEPT)]


async def test_a_recorded_value_is_a_bounded_repr(server: Experiments) -> None:
    experiment("big", lambda: "x" * 10_000, lambda: "y" * 10_000)
    report = read_report("big")
    assert report is not None
    assert all(len(side) <= 200 for side in report.mismatches[0].values())


async def test_compare_decides_and_a_compare_that_raises_is_an_error(server: Experiments) -> None:
    assert experiment("cmp", lambda: 1.0, lambda: 1.0000001, compare=lambda a, b: abs(a - b) < 1e-3) == 1.0

    def raising(a: object, b: object) -> bool:
        raise RuntimeError("compare")

    with capture(ERROR) as seen:
        assert experiment("cmp", lambda: 1, lambda: 1, compare=raising) == 1
    assert counts("cmp")["matches"] == 1
    assert counts("cmp")["errors"] == 1
    assert seen[0].metadata["where"] == "compare"


async def test_a_sync_candidate_that_overran_counts_as_a_timeout(server: Experiments) -> None:
    # A synchronous candidate cannot be interrupted: its time is measured, and one longer than the
    # timeout (here 1 ns: any Python call takes longer) is a timeout, not compared.
    with capture(TIMEOUT) as seen:
        assert experiment("slow", lambda: 1, lambda: 2, timeout=1e-9) == 1
    assert counts("slow") == {"runs": 1, "matches": 0, "mismatches": 0, "errors": 0, "timeouts": 1}
    assert len(seen) == 1


async def test_an_async_candidate_of_a_sync_control_is_an_error_without_a_warning(
    server: Experiments,
) -> None:
    async def candidate() -> int:
        return 1

    assert experiment("mixed", lambda: 1, candidate) == 1
    assert counts("mixed")["errors"] == 1


async def test_percent_zero_never_runs_the_candidate(server: Experiments) -> None:
    ran: list[int] = []
    for _ in range(50):
        experiment("off", lambda: 1, lambda: ran.append(1), percent=0)
    assert ran == []
    assert read_report("off") is None


@pytest.mark.parametrize(
    ("name", "percent", "timeout"),
    [
        ("", 100, 1.0),
        ("x", -1, 1.0),
        ("x", 101, 1.0),
        ("x", True, 1.0),
        ("x", 100, 0),
        ("x", 100, float("inf")),
    ],
)
def test_a_bad_declaration_is_refused(name: str, percent: float, timeout: float) -> None:
    with pytest.raises((TypeError, ValueError)):
        experiment(name, lambda: 1, lambda: 1, percent=percent, timeout=timeout)


def test_without_the_server_nothing_is_counted_and_the_event_still_says_so() -> None:
    with capture(*ALL) as seen:
        assert experiment("plain", lambda: 1, lambda: 2) == 1
    assert read_report("plain") is None
    assert seen[0].event == MISMATCH
    assert seen[0].metadata["counted"] is False


async def test_timings_are_kept_for_both_sides_in_a_bounded_ring(server: Experiments) -> None:
    for _ in range(SAMPLES + 10):
        experiment("ring", lambda: 1, lambda: 1)
    report = read_report("ring")
    assert report is not None
    assert report.counts["runs"] == SAMPLES + 10
    assert report.control["samples"] == SAMPLES
    assert report.candidate["samples"] == SAMPLES
    assert 0 < report.control["median_us"] <= report.control["p95_us"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3) | st.none()), max_size=40))
def test_counts_equal_a_model_of_the_outcomes(pairs: list[tuple[int, int | None]]) -> None:
    # None stands for a candidate that raises.
    async def run() -> dict[str, int]:
        server = await Experiments.start()
        try:
            for control, candidate in pairs:

                def cand(value: int | None = candidate) -> int:
                    if value is None:
                        raise ValueError(value)
                    return value

                assert experiment("model", partial(int, control), cand) == control
            report = read_report("model")
            return {} if report is None else report.counts
        finally:
            await server.stop()

    got = asyncio.run(run())
    if not pairs:
        assert got == {}
        return
    expected = {
        "runs": len(pairs),
        "matches": sum(1 for a, b in pairs if a == b),
        "mismatches": sum(1 for a, b in pairs if b is not None and a != b),
        "errors": sum(1 for _, b in pairs if b is None),
        "timeouts": 0,
    }
    assert got == expected


# --- async: concurrent, time-boxed, never waited for ----------------------------------------------


async def test_the_async_candidate_runs_concurrently_with_the_control(server: Experiments) -> None:
    # The control waits for something only the candidate does: run one after the other, this hangs.
    candidate_started = asyncio.Event()

    async def control() -> str:
        await candidate_started.wait()
        return "control"

    async def candidate() -> str:
        candidate_started.set()
        return "control"

    with capture(MATCH) as seen:
        async with asyncio.timeout(10):
            assert await experiment("together", control, candidate) == "control"
            await seen.wait(MATCH)
    assert counts("together")["matches"] == 1


async def test_the_caller_does_not_wait_for_a_slow_candidate(server: Experiments) -> None:
    release = asyncio.Event()

    async def control() -> int:
        return 1

    async def candidate() -> int:
        await release.wait()
        return 2

    with capture(MISMATCH) as seen:
        async with asyncio.timeout(10):
            assert await experiment("slow-async", control, candidate) == 1
            # The caller has its answer; the candidate is still waiting, nothing counted yet.
            assert read_report("slow-async") is None
            release.set()
            await seen.wait(MISMATCH)
    assert counts("slow-async")["mismatches"] == 1


async def test_an_async_candidate_past_its_timeout_is_cancelled_and_counted(server: Experiments) -> None:
    cancelled = asyncio.Event()

    async def control() -> int:
        return 1

    async def candidate() -> int:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        return 1

    with capture(TIMEOUT) as seen:
        async with asyncio.timeout(10):
            assert await experiment("boxed", control, candidate, timeout=0.01) == 1
            await seen.wait(TIMEOUT)
    assert cancelled.is_set()
    assert counts("boxed")["timeouts"] == 1


async def test_an_async_candidate_raising_its_own_timeout_error_is_an_error(server: Experiments) -> None:
    async def candidate() -> int:
        raise TimeoutError("its own")

    async def control() -> int:
        return 1

    with capture(ERROR) as seen:
        async with asyncio.timeout(10):
            assert await experiment("own-timeout", control, candidate) == 1
            await seen.wait(ERROR)
    assert counts("own-timeout") == {"runs": 1, "matches": 0, "mismatches": 0, "errors": 1, "timeouts": 0}


async def test_an_async_control_exception_is_raised_and_compared(server: Experiments) -> None:
    async def control() -> int:
        raise LookupError("gone")

    async def candidate() -> int:
        raise LookupError("gone")

    with capture(MATCH) as seen:
        async with asyncio.timeout(10):
            with pytest.raises(LookupError, match="gone"):
                await experiment("async-raise", control, candidate)
            await seen.wait(MATCH)
    assert counts("async-raise")["matches"] == 1


async def test_a_cancelled_caller_takes_its_candidate_along_uncounted(server: Experiments) -> None:
    candidate_waiting = asyncio.Event()
    candidate_cancelled = asyncio.Event()

    async def control() -> int:
        await asyncio.Event().wait()
        return 1

    async def candidate() -> int:
        candidate_waiting.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            candidate_cancelled.set()
            raise
        return 1

    async def caller() -> Any:
        return await experiment("cancelled", control, candidate)

    task = asyncio.create_task(caller())
    async with asyncio.timeout(10):
        await candidate_waiting.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await candidate_cancelled.wait()
    assert read_report("cancelled") is None


async def test_an_unsampled_async_call_is_the_control_alone(server: Experiments) -> None:
    async def control() -> int:
        return 7

    async def candidate() -> int:
        raise AssertionError("never run")

    assert await experiment("unsampled", control, candidate, percent=0) == 7
    assert read_report("unsampled") is None


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=12), st.randoms())
def test_async_candidates_finishing_in_any_order_are_each_counted_once(
    pairs: list[tuple[int, int]], order: Any
) -> None:
    # Every caller returns before its candidate finishes; the candidates are then released in a random
    # order: each run is counted exactly once, against its own control.
    async def run() -> dict[str, int]:
        server = await Experiments.start()
        releases = [asyncio.Event() for _ in pairs]
        try:
            with capture(*ALL) as seen:
                for (control, candidate), release in zip(pairs, releases, strict=True):

                    async def ctl(value: int = control) -> int:
                        return value

                    async def cand(value: int = candidate, gate: asyncio.Event = release) -> int:
                        await gate.wait()
                        return value

                    assert await experiment("async-model", ctl, cand) == control
                shuffled = list(releases)
                order.shuffle(shuffled)
                async with asyncio.timeout(10):
                    for release in shuffled:
                        release.set()
                    await seen.wait(count=len(pairs))
            report = read_report("async-model")
            assert report is not None
            return report.counts
        finally:
            await server.stop()

    got = asyncio.run(run())
    matches = sum(1 for a, b in pairs if a == b)
    assert got == {
        "runs": len(pairs),
        "matches": matches,
        "mismatches": len(pairs) - matches,
        "errors": 0,
        "timeouts": 0,
    }


def test_compare_defaults_to_equality() -> None:
    assert experiment.__kwdefaults__ is not None
    assert experiment.__kwdefaults__["compare"] is operator.eq
