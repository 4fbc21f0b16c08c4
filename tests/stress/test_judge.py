"""The stress judge's logic on made-up runs: a run that keeps every promise passes, and each broken
promise fails the tier it belongs to, as a failure (something lost) or a shortfall (too slow).

The records are what bench/stress/run.py assembles; here each is built by hand so that a single
figure can be broken at a time. The judge's modules' doctests run here too (``make test`` collects
``tests/`` only)."""

from __future__ import annotations

import copy
import doctest
import importlib
from collections.abc import Callable
from typing import Any

import pytest

from bench.stress.histogram import Histogram
from bench.stress.judge import Verdict, judge_run
from bench.stress.tiers import CRITERIA, Rates
from bench.stress.wire import Counts

RATES = Rates(
    "test", control_clients=10, control_rate=10.0, events=100.0, spans=10.0, cache_ops=100.0, flag_writes=10.0
)
CRITERIA_T1 = CRITERIA["T1"]
ELAPSED = 10.0


def _counts(n: int, latency: float = 0.001) -> dict[str, Any]:
    counts = Counts(sent=n, replies=n, ok=n)
    for _ in range(n):
        counts.latency.add(latency)
    return counts.to_json()


def _histogram(*values: float) -> dict[str, object]:
    h = Histogram()
    for value in values:
        h.add(value)
    return h.to_json()


def good_record() -> dict[str, Any]:
    """A run of RATES for ELAPSED seconds that kept every promise."""
    events, batched, spans = 1000, 50, 100
    return {
        "flush": 0.1,
        "capacity": 100,
        "span_bound": 200,
        "clients": [
            {"kind": "control", "index": 0, "elapsed": ELAPSED, "counts": _counts(1000)},
            {
                "kind": "cache",
                "index": 0,
                "elapsed": ELAPSED,
                "counts": _counts(1000),
                "expired_reads": 0,
                "stale_reads": 0,
            },
            {"kind": "flags", "index": 0, "elapsed": ELAPSED, "counts": _counts(100), "acked": {"f1": 12.5}},
        ],
        "account": {
            "done": True,
            "elapsed": ELAPSED,
            "count": {
                "event_calls": events,
                "tick_calls": events - batched,
                "event_recorded": events - batched,
                "batch_items": batched,
                "batch_flushed": batched,
                "behind_events": 0,
                "spans_opened": spans,
                "spans_started": spans,
                "spans_ended_ok": spans - 10,
                "spans_ended_cancelled": 10,
                "spans_ended_twice": 0,
                "spans_ended_other": 0,
                "behind_spans": 0,
            },
            "spans_open_now": 0,
            "span_table_max": 20,
            "loop_lag": _histogram(0.001, 0.002, 0.004),
            "flush_lag": _histogram(0.1, 0.12),
        },
        "telemetry_stats": {
            "events": [
                {
                    "event": "stress.tick",
                    "received": events - batched,
                    "emitted": events - batched,
                    "deduplicated": 0,
                    "sampled_out": 0,
                    "pending": 0,
                    "dropped": 0,
                },
                {"event": "stress.batch", "received": batched, "flushed": batched, "dropped": 0},
            ]
        },
        "cache_samples": [
            {"sets": 10, "size": 4, "expirations": 3, "evictions": 2, "deletions": 1},
            {"sets": 20, "size": 9, "expirations": 5, "evictions": 4, "deletions": 2},
        ],
        "flags_held": {"f1": 12.5},
        "exit_code": 0,
        "watchdog": {"interval": 30.0, "pings": 4, "max_gap": 15.2},
        "faults": None,
        "restarts": 0,
    }


def _verdicts(record: dict[str, Any]) -> dict[str, Verdict]:
    return {v.tier.split()[0]: v for v in judge_run(record, RATES, RATES, CRITERIA_T1)}


def test_a_run_that_keeps_every_promise_passes() -> None:
    verdicts = _verdicts(good_record())
    assert sorted(verdicts) == ["cache", "control", "daemon", "event", "flag", "spans", "telemetry"]
    assert {name: (v.failures, v.shortfalls) for name, v in verdicts.items()} == {
        name: ([], []) for name in verdicts
    }


def _client(kind: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def find(record: dict[str, Any]) -> dict[str, Any]:
        return next(c for c in record["clients"] if c["kind"] == kind)

    return find


def _one_reply_lost(r: dict[str, Any]) -> None:
    _client("control")(r)["counts"]["replies"] -= 1
    _client("control")(r)["counts"]["unanswered"] = 1


def _protocol_error(r: dict[str, Any]) -> None:
    _client("control")(r)["counts"]["protocol_errors"] = 1


def _event_not_received(r: dict[str, Any]) -> None:
    r["telemetry_stats"]["events"][0]["received"] -= 1
    r["telemetry_stats"]["events"][0]["emitted"] -= 1


def _event_not_recorded(r: dict[str, Any]) -> None:
    r["account"]["count"]["event_recorded"] -= 1


def _event_unaccounted(r: dict[str, Any]) -> None:
    r["telemetry_stats"]["events"][0]["emitted"] -= 1
    r["account"]["count"]["event_recorded"] -= 1


def _event_dropped(r: dict[str, Any]) -> None:
    r["telemetry_stats"]["events"][0]["emitted"] -= 1
    r["telemetry_stats"]["events"][0]["dropped"] = 1
    r["account"]["count"]["event_recorded"] -= 1


def _batch_item_lost(r: dict[str, Any]) -> None:
    r["account"]["count"]["batch_flushed"] -= 1


def _span_ended_twice(r: dict[str, Any]) -> None:
    r["account"]["count"]["spans_ended_twice"] = 1


def _span_left_open(r: dict[str, Any]) -> None:
    r["account"]["count"]["spans_ended_ok"] -= 1
    r["account"]["spans_open_now"] = 1


def _span_table_unbounded(r: dict[str, Any]) -> None:
    r["account"]["span_table_max"] = 10_000


def _cache_over_capacity(r: dict[str, Any]) -> None:
    r["cache_samples"][1].update(size=101, sets=112)


def _cache_identity_broken(r: dict[str, Any]) -> None:
    r["cache_samples"][0]["sets"] += 1


def _expired_read(r: dict[str, Any]) -> None:
    _client("cache")(r)["counts"]["wrong_answers"] = 1
    _client("cache")(r)["expired_reads"] = 1


def _flag_write_lost(r: dict[str, Any]) -> None:
    r["flags_held"]["f1"] = 10.0


def _watchdog_missed(r: dict[str, Any]) -> None:
    r["watchdog"]["max_gap"] = 31.0


def _unclean_exit(r: dict[str, Any]) -> None:
    r["exit_code"] = 70


def _restart_missing(r: dict[str, Any]) -> None:
    r["faults"] = {"done": {"crash": 3, "sighup": 1, "reload": 1}, "failures": []}
    r["restarts"] = 2


def _load_server_unfinished(r: dict[str, Any]) -> None:
    r["account"]["done"] = False


@pytest.mark.parametrize(
    ("breakage", "tier", "says"),
    [
        (_one_reply_lost, "control", "unanswered"),
        (_protocol_error, "control", "protocol errors"),
        (_event_not_received, "telemetry", "received"),
        (_event_not_recorded, "telemetry", "recorded by the handler"),
        (_event_unaccounted, "telemetry", "emitted + deduplicated"),
        (_event_dropped, "telemetry", "dropped below the rated load"),
        (_batch_item_lost, "telemetry", "batched"),
        (_span_ended_twice, "spans", "ended twice"),
        (_span_left_open, "spans", "left open"),
        (_span_table_unbounded, "spans", "span table held"),
        (_cache_over_capacity, "cache", "capacity"),
        (_cache_identity_broken, "cache", "sets != size"),
        (_expired_read, "cache", "wrong answers"),
        (_flag_write_lost, "flag", "acknowledged writes missing"),
        (_watchdog_missed, "event", "no watchdog ping for 31.0 s"),
        (_unclean_exit, "daemon", "exited 70"),
        (_restart_missing, "daemon", "3 crashes injected, 2 restarts"),
    ],
)
def test_each_broken_promise_fails_its_tier(
    breakage: Callable[[dict[str, Any]], None], tier: str, says: str
) -> None:
    record = copy.deepcopy(good_record())
    breakage(record)
    verdicts = _verdicts(record)
    assert any(says in failure for failure in verdicts[tier].failures), verdicts[tier].failures
    assert not verdicts[tier].passed
    assert [name for name, v in verdicts.items() if v.failures] == [tier]


def test_an_unfinished_load_server_fails_both_its_tiers() -> None:
    record = good_record()
    _load_server_unfinished(record)
    verdicts = _verdicts(record)
    assert [name for name, v in verdicts.items() if v.failures] == ["telemetry", "spans"]
    assert all("did not finish" in v.failures[0] for v in (verdicts["telemetry"], verdicts["spans"]))


def test_a_rate_not_reached_is_a_shortfall_not_a_loss() -> None:
    record = good_record()
    _client("cache")(record)["elapsed"] = ELAPSED * 2  # half the asked rate offered
    cache = _verdicts(record)["cache"]
    assert cache.failures == []
    assert len(cache.shortfalls) == 1
    assert "of 100/s asked (50% < 95%)" in cache.shortfalls[0]
    assert not cache.passed


def test_latency_and_lag_over_budget_are_shortfalls() -> None:
    record = good_record()
    _client("control")(record)["counts"] = _counts(1000, latency=0.05)
    record["account"]["loop_lag"] = _histogram(*[0.2] * 10)
    record["account"]["flush_lag"] = _histogram(0.5)
    verdicts = _verdicts(record)
    assert [s.split(" >")[0] for s in verdicts["control"].shortfalls] == ["p99 50.0 ms"]
    assert [s.split(" >")[0] for s in verdicts["event"].shortfalls] == ["lag p99 200.0 ms"]
    assert [s.split(" >")[0] for s in verdicts["telemetry"].shortfalls] == [
        "a batch went out 500 ms after its first item"
    ]
    assert all(not v.failures for v in verdicts.values())


@pytest.mark.parametrize(
    "name", ["histogram", "tiers", "slopes", "report", "judge", "wire", "clients", "faults", "load_server"]
)
def test_the_stress_modules_examples_run(name: str) -> None:
    module = importlib.import_module(f"bench.stress.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
