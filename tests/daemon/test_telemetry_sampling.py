"""The Sampler (docs/otp-conformance.md#sampling): the six strategies per event prefix, the longest
prefix winning, ``sampled=True`` on what a strategy let through, run-time changes, and bad input at
load (naming the key and its source), at run time (TypeError/ValueError) and over the control socket
(invalid_params)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, cast

import pytest

from daemon.errors import ConfigError, ControlError
from daemon.settings import load_settings
from daemon.telemetry import Emitter, batch, emit, stats_snapshot
from daemon.telemetry.config import TelemetrySettings
from daemon.telemetry.hub import SERVER_NAME
from daemon.telemetry.sampling import Decider, Strategy, make_decider, parse_prefix, parse_strategy
from daemon.telemetry.server import GetSampling, SetSampling, TelemetryServer, call_telemetry
from daemon.telemetry.verbs import telemetry_sampling_set
from daemon.verbs.codes import ErrorCode
from daemon.verbs.method import MethodContext
from supervisor.testing import ManualClock, capture


async def start(manual_clock: ManualClock, sampling: dict[str, str] | None = None) -> TelemetryServer:
    settings = TelemetrySettings(sampling=sampling or {})
    return await TelemetryServer.start(settings, clock=manual_clock, seed=3, name=SERVER_NAME)


@pytest.fixture
async def server(manual_clock: ManualClock) -> AsyncIterator[TelemetryServer]:
    started = await start(manual_clock)
    yield started
    await started.stop()


def decider(text: str, seed: int = 1) -> Decider:
    made = make_decider(parse_strategy(text), seed)
    assert made is not None
    return made


def row(name: str) -> dict[str, Any]:
    return next(r for r in stats_snapshot() if r["event"] == name)


# --- the strategies ---------------------------------------------------------------------------------


def test_always_is_no_decider_and_never_keeps_nothing() -> None:
    assert make_decider(parse_strategy("always")) is None
    never = decider("never")
    assert not any(never.keep(float(t)) for t in range(100))


def test_random_keeps_about_its_rate() -> None:
    quarter = decider("random(0.25)")
    kept = sum(quarter.keep(0.0) for _ in range(10_000))
    assert 2_200 < kept < 2_800
    none, every = decider("random(0)"), decider("random(1)")
    assert sum(none.keep(0.0) for _ in range(100)) == 0
    assert sum(every.keep(0.0) for _ in range(100)) == 100


def test_rate_limited_keeps_n_per_one_second_window() -> None:
    limited = decider("rate_limited(3)")
    assert [limited.keep(0.0) for _ in range(5)] == [True, True, True, False, False]
    assert limited.keep(0.99) is False
    assert [limited.keep(1.0) for _ in range(4)] == [True, True, True, False]


def test_reservoir_keeps_the_first_k_then_k_over_n() -> None:
    reservoir = decider("reservoir(10)")
    first = [reservoir.keep(0.0) for _ in range(10)]
    assert all(first)
    later = sum(reservoir.keep(0.0) for _ in range(990))
    # the expected count for n in 11..1000 is sum(10/n), about 10 * ln(1000/10) = 46
    assert 20 < later < 80
    assert reservoir.keep(1.0) is True  # a new window starts over


def test_adaptive_lowers_its_probability_above_the_target_and_raises_it_below() -> None:
    adaptive = decider("adaptive(10, 1)")
    for t in range(5):
        for _ in range(100):  # 100 events/s, ten times the target
            adaptive.keep(t + 0.5)
    assert adaptive.probability < 1.0
    low = adaptive.probability
    for t in range(5, 30):
        adaptive.keep(float(t))  # 1 event/s: below the target
    assert adaptive.probability > low


# --- per prefix, in the server -----------------------------------------------------------------------


async def test_the_longest_prefix_wins_and_sampled_events_say_so(manual_clock: ManualClock) -> None:
    server = await start(manual_clock, {"": "never", "app": "always", "app.db": "rate_limited(1)"})
    try:
        with capture(("app", "db", "q"), ("app", "http"), ("other",)) as seen:
            emit(("other",))
            emit(("app", "http"))
            emit(("app", "db", "q"))
            emit(("app", "db", "q"))
        assert [c.event for c in seen] == [("app", "http"), ("app", "db", "q")]
        assert "sampled" not in seen[0].metadata
        assert seen[1].metadata == {"sampled": True}
        assert row("other")["sampled_out"] == 1
        assert row("app.db.q")["sampled_out"] == 1
    finally:
        await server.stop()


async def test_a_prefix_shares_one_decider_among_its_events(server: TelemetryServer) -> None:
    await server.call(SetSampling("svc", "rate_limited(2)"))
    emit(("svc", "a"))
    emit(("svc", "b"))
    emit(("svc", "c"))
    assert [row(n)["emitted"] for n in ("svc.a", "svc.b", "svc.c")] == [1, 1, 0]


async def test_sampling_changes_at_run_time(server: TelemetryServer) -> None:
    jobs = Emitter(("jobs",))
    assert jobs.emit_event("done") is True
    assert await server.call(SetSampling("jobs", "never")) == {"jobs": "never"}
    assert jobs.emit_event("done") is False
    assert await server.call(SetSampling("jobs", None)) == {}
    assert jobs.emit_event("done") is True
    assert await server.call(GetSampling()) == {}
    assert row("jobs.done")["sampled_out"] == 1


async def test_a_batch_is_sampled_as_one_event(server: TelemetryServer) -> None:
    await server.call(SetSampling("logs", "never"))
    for n in range(3):
        batch(("logs",), n, 3, 60.0)
    counts = row("logs")
    assert (counts["received"], counts["flushed"], counts["sampled_out"], counts["pending"]) == (3, 3, 3, 0)


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [
        ("sometimes", ValueError, "unknown sampling strategy 'sometimes'"),
        ("random(1.5)", ValueError, "in [0, 1], got 1.5"),
        ("random(-0.1)", ValueError, "in [0, 1]"),
        ("random(nan)", ValueError, "finite"),
        ("random", ValueError, "takes 1 number"),
        ("rate_limited(0)", ValueError, "positive"),
        ("reservoir(x)", ValueError, "must be numbers"),
        ("adaptive(10)", ValueError, "takes 2 number"),
        (0.5, TypeError, "must be a string"),
    ],
)
def test_bad_strategies_name_the_value(text: object, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as caught:
        parse_strategy(text)
    assert words in str(caught.value)


def test_strategies_round_trip_through_their_text() -> None:
    for text in ("always", "never", "random(0.1)", "rate_limited(100)", "adaptive(1000, 5)", "reservoir(7)"):
        assert parse_strategy(text).text == text
    assert parse_strategy(" random( 0.5 ) ") == Strategy("random", (0.5,))
    assert parse_prefix("") == ()
    with pytest.raises(ValueError, match="empty part"):
        parse_prefix("a.")


async def test_a_bad_run_time_change_is_refused_and_changes_nothing(server: TelemetryServer) -> None:
    with pytest.raises(ValueError, match="sometimes"):
        await call_telemetry(server, SetSampling("app", "sometimes"))
    with pytest.raises(ValueError, match="empty part"):
        await call_telemetry(server, SetSampling("app..db", "never"))
    with pytest.raises(TypeError, match="does not understand"):
        await call_telemetry(server, "bogus")
    assert server.alive
    assert await server.call(GetSampling()) == {}


async def test_the_verb_answers_invalid_params(server: TelemetryServer) -> None:
    from daemon.telemetry.verbs import SetSamplingParams

    params = SetSamplingParams(prefix="app", strategy="random(2)")
    with pytest.raises(ControlError) as caught:
        await cast(Awaitable[Any], telemetry_sampling_set.handler(params, cast(MethodContext, None)))
    assert caught.value.code is ErrorCode.INVALID_PARAMS
    assert "random(2)" in str(caught.value)


def test_a_bad_strategy_in_the_file_names_the_key_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "arbord.toml"
    path.write_text('[telemetry.sampling]\n"app.db" = "random(7)"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    (problem,) = caught.value.problems
    assert problem.startswith("telemetry.sampling.app.db: ")
    assert "random(7)" in problem
    assert f"{path} line 2" in problem


def test_a_bad_prefix_in_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "arbord.toml"
    path.write_text('[telemetry.sampling]\n"app..db" = "never"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert "empty part" in caught.value.problems[0]
