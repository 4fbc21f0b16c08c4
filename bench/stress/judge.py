"""The judge: from what a run measured, one verdict per tier, against the matrix's pass criteria.

Pure functions over plain data (the JSON the load processes and the load server report), so the
tests can hand them made-up runs and check that each criterion fails when it should. A tier passes
when its offered rate reached ``Criteria.rate_reached`` of the rate asked (a tier the machine could
not drive proved nothing) **and** every one of its criteria holds; ``Verdict.failures`` says which
did not. What "nothing lost" means for each (docs/testing.md, "Load and soak"):

- control: every request got exactly one reply (``replies == sent``, none unanswered), no protocol
  error, p99 within budget;
- telemetry: each event emitted is received by the telemetry server, which accounts for it exactly
  (``received == emitted + deduplicated + sampled_out + pending + dropped``), every event let out
  reached the handler (``emitted == recorded``), no drop below the rated load, every batched item
  flushed, each batch within ``2 x flush`` of its first item;
- spans: each started span ended exactly once (``ok``, or ``cancelled`` with its task), none twice,
  none left open, the span table bounded;
- cache: no wrong answer (a value other than the last put), no expired read, size within capacity
  and ``sets == size + expirations + evictions + deletions`` at every sample;
- flags: every acknowledged write is what the daemon holds when the load is over;
- loop: the lag's p99 within budget, and the systemd watchdog never missed (no gap between two
  ``WATCHDOG=1`` pings longer than the unit's ``WatchdogSec``);
- daemon: a clean exit (0) on SIGTERM after the load; in a soak, its restarts equal the crashes
  injected and every reload answered ``ok``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.stress.histogram import Histogram
from bench.stress.tiers import Criteria, Rates
from bench.stress.wire import Counts

__all__ = ["Verdict", "judge_run"]


@dataclass
class Verdict:
    """One tier's outcome: what was asked and offered per second, the figures, what failed."""

    tier: str
    asked: float
    target: float
    offered: float
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    """Broken promises: something lost, answered twice, wrong, left open (the machine is no excuse)."""
    shortfalls: list[str] = field(default_factory=list)
    """Rates not reached and latency budgets missed: the machine's speed shows here."""

    @property
    def passed(self) -> bool:
        return not self.failures and not self.shortfalls

    def expect(self, holds: bool, failure: str) -> None:
        if not holds:
            self.failures.append(failure)

    def within(self, holds: bool, shortfall: str) -> None:
        if not holds:
            self.shortfalls.append(shortfall)

    def rate(self, criteria: Criteria) -> None:
        if self.asked and self.offered < criteria.rate_reached * self.asked:
            self.shortfalls.append(
                f"offered {self.offered:,.0f}/s of {self.asked:,.0f}/s asked "
                f"({self.offered / self.asked:.0%} < {criteria.rate_reached:.0%}): the load was not driven"
            )


def _counts(results: list[Mapping[str, Any]], kind: str) -> tuple[Counts, float, list[Mapping[str, Any]]]:
    """The summed counts of ``kind``'s processes, their longest elapsed time, and their results."""
    mine = [r for r in results if r.get("kind") == kind]
    total = Counts()
    elapsed = 0.0
    for result in mine:
        if "counts" in result:
            total.merge(Counts.from_json(dict(result["counts"])))
        elapsed = max(elapsed, float(result.get("elapsed", 0.0)))
    return total, elapsed, mine


def _wire(verdict: Verdict, counts: Counts, processes: list[Mapping[str, Any]], budget: float | None) -> None:
    """The checks every control-socket tier shares: one reply each, no protocol error, latency."""
    for process in processes:
        verdict.expect("failed" not in process, f"a load process failed: {process.get('failed')}")
    p50, p99 = counts.latency.percentile(0.5), counts.latency.percentile(0.99)
    verdict.figures.update(
        sent=counts.sent, replies=counts.replies, p50_ms=p50 * 1e3, p99_ms=p99 * 1e3, skipped=counts.skipped
    )
    verdict.expect(counts.sent > 0 or not verdict.asked, "nothing was sent")
    verdict.expect(
        counts.replies == counts.sent and counts.unanswered == 0,
        f"{counts.sent} requests, {counts.replies} replies, {counts.unanswered} unanswered",
    )
    verdict.expect(
        counts.protocol_errors == 0, f"{counts.protocol_errors} protocol errors: {counts.problems}"
    )
    verdict.expect(counts.wrong_answers == 0, f"{counts.wrong_answers} wrong answers: {counts.problems}")
    if budget is not None:
        verdict.within(p99 <= budget, f"p99 {p99 * 1e3:.1f} ms > {budget * 1e3:.0f} ms")


def judge_control(
    rates: Rates, target: Rates, criteria: Criteria, results: list[Mapping[str, Any]]
) -> Verdict:
    counts, elapsed, processes = _counts(results, "control")
    verdict = Verdict(
        f"control {rates.control_clients} clients x {rates.control_rate:g}/s",
        rates.control_clients * rates.control_rate,
        target.control_clients * target.control_rate,
        counts.sent / elapsed if elapsed else 0.0,
    )
    _wire(verdict, counts, processes, criteria.control_p99)
    verdict.rate(criteria)
    return verdict


def judge_cache(
    rates: Rates,
    target: Rates,
    criteria: Criteria,
    results: list[Mapping[str, Any]],
    samples: list[Mapping[str, Any]],
    capacity: int,
) -> Verdict:
    counts, elapsed, processes = _counts(results, "cache")
    verdict = Verdict(
        "cache ops", rates.cache_ops, target.cache_ops, counts.sent / elapsed if elapsed else 0.0
    )
    _wire(verdict, counts, processes, None)
    expired = sum(int(p.get("expired_reads", 0)) for p in processes)
    stale = sum(int(p.get("stale_reads", 0)) for p in processes)
    verdict.figures.update(expired_reads=expired, stale_reads=stale, samples=len(samples))
    verdict.expect(bool(samples), "no sample of the cache's stats")
    biggest = max((int(s["size"]) for s in samples), default=0)
    verdict.figures["max_size"] = biggest
    verdict.expect(biggest <= capacity, f"size {biggest} > capacity {capacity}")
    parts = ("size", "expirations", "evictions", "deletions")
    unbalanced = [s for s in samples if int(s["sets"]) != sum(int(s[part]) for part in parts)]
    verdict.expect(
        not unbalanced, f"sets != size + expirations + evictions + deletions in {len(unbalanced)} samples"
    )
    verdict.rate(criteria)
    return verdict


def judge_flags(
    rates: Rates,
    target: Rates,
    criteria: Criteria,
    results: list[Mapping[str, Any]],
    held: Mapping[str, float | None],
) -> Verdict:
    counts, elapsed, processes = _counts(results, "flags")
    verdict = Verdict(
        "flag writes",
        rates.flag_writes,
        target.flag_writes,
        counts.sent / elapsed if elapsed else 0.0,
    )
    _wire(verdict, counts, processes, None)
    acked: dict[str, float] = {}
    for process in processes:
        acked.update(process.get("acked", {}))
    lost = {flag: (value, held.get(flag)) for flag, value in acked.items() if held.get(flag) != value}
    verdict.figures.update(flags=len(acked), acknowledged=counts.ok, lost=len(lost))
    verdict.expect(bool(acked) or not counts.sent, "no write was acknowledged")
    verdict.expect(not lost, f"acknowledged writes missing: {dict(list(lost.items())[:5])}")
    verdict.rate(criteria)
    return verdict


def _stats_row(stats: Mapping[str, Any], event: str) -> Mapping[str, Any]:
    for row in stats.get("events", []):
        if row.get("event") == event:
            return dict(row)
    return {}


def judge_telemetry(
    rates: Rates,
    target: Rates,
    criteria: Criteria,
    account: Mapping[str, Any],
    stats: Mapping[str, Any],
    flush: float,
) -> Verdict:
    count = account.get("count", {})
    elapsed = float(account.get("elapsed", 0.0))
    offered = count.get("event_calls", 0) - count.get("behind_events", 0)
    verdict = Verdict("telemetry events", rates.events, target.events, offered / elapsed if elapsed else 0.0)
    tick, batch = _stats_row(stats, "stress.tick"), _stats_row(stats, "stress.batch")
    received = int(tick.get("received", 0))
    outcomes = sum(
        int(tick.get(k, 0)) for k in ("emitted", "deduplicated", "sampled_out", "pending", "dropped")
    )
    flush_lag = Histogram.from_json(account.get("flush_lag"))
    verdict.figures.update(
        emitted=count.get("tick_calls", 0),
        received=received,
        recorded=count.get("event_recorded", 0),
        dropped=int(tick.get("dropped", 0)) + int(batch.get("dropped", 0)),
        batched=count.get("batch_items", 0),
        flushed=count.get("batch_flushed", 0),
        flush_lag_p99_ms=flush_lag.percentile(0.99) * 1e3,
        flush_lag_max_ms=flush_lag.maximum * 1e3,
    )
    verdict.expect(bool(account.get("done")), "the load server did not finish its run")
    verdict.expect(
        received == count.get("tick_calls", 0), f"emitted {count.get('tick_calls')}, received {received}"
    )
    verdict.expect(
        received == outcomes,
        f"received {received} != emitted + deduplicated + sampled_out + pending + dropped ({outcomes})",
    )
    verdict.expect(
        int(tick.get("emitted", 0)) == count.get("event_recorded", 0),
        f"let out {tick.get('emitted')}, recorded by the handler {count.get('event_recorded')}",
    )
    verdict.expect(
        verdict.figures["dropped"] == 0, f"{verdict.figures['dropped']} dropped below the rated load"
    )
    verdict.expect(
        int(batch.get("received", 0))
        == count.get("batch_items", 0)
        == count.get("batch_flushed", 0)
        == int(batch.get("flushed", 0)),
        f"batched {count.get('batch_items')}, received {batch.get('received')}, "
        f"flushed {batch.get('flushed')}, recorded {count.get('batch_flushed')}",
    )
    budget = criteria.flush_lag_factor * flush
    verdict.within(
        flush_lag.maximum <= budget,
        f"a batch went out {flush_lag.maximum * 1e3:.0f} ms after its first item > {budget * 1e3:.0f} ms",
    )
    verdict.rate(criteria)
    return verdict


def judge_spans(
    rates: Rates, target: Rates, criteria: Criteria, account: Mapping[str, Any], bound: int
) -> Verdict:
    count = account.get("count", {})
    elapsed = float(account.get("elapsed", 0.0))
    offered = count.get("spans_opened", 0) - count.get("behind_spans", 0)
    verdict = Verdict("spans open/close", rates.spans, target.spans, offered / elapsed if elapsed else 0.0)
    started = count.get("spans_started", 0)
    ended = count.get("spans_ended_ok", 0) + count.get("spans_ended_cancelled", 0)
    verdict.figures.update(
        started=started,
        ended_ok=count.get("spans_ended_ok", 0),
        ended_cancelled=count.get("spans_ended_cancelled", 0),
        ended_twice=count.get("spans_ended_twice", 0),
        open_after=account.get("spans_open_now"),
        table_open_max=account.get("span_table_max"),
    )
    verdict.expect(bool(account.get("done")), "the load server did not finish its run")
    verdict.expect(started == offered, f"opened {offered}, started events {started}")
    verdict.expect(ended == started, f"started {started}, ended {ended}")
    verdict.expect(
        count.get("spans_ended_twice", 0) == 0, f"{count.get('spans_ended_twice')} spans ended twice"
    )
    verdict.expect(
        count.get("spans_ended_other", 0) == 0, f"{count.get('spans_ended_other')} ended with another status"
    )
    verdict.expect(account.get("spans_open_now") == 0, f"{account.get('spans_open_now')} spans left open")
    table_max = account.get("span_table_max")
    verdict.expect(
        table_max is not None and int(table_max) <= bound, f"span table held {table_max} > {bound}"
    )
    verdict.rate(criteria)
    return verdict


def judge_loop(criteria: Criteria, account: Mapping[str, Any], watchdog: Mapping[str, Any] | None) -> Verdict:
    lag = Histogram.from_json(account.get("loop_lag"))
    verdict = Verdict("event loop lag", 0.0, 0.0, 0.0)
    p99 = lag.percentile(0.99)
    verdict.figures.update(
        samples=lag.count, p50_ms=lag.percentile(0.5) * 1e3, p99_ms=p99 * 1e3, max_ms=lag.maximum * 1e3
    )
    verdict.expect(lag.count > 0, "no lag sample")
    if watchdog is not None:
        gap, interval = float(watchdog["max_gap"]), float(watchdog["interval"])
        verdict.figures.update(watchdog_pings=watchdog["pings"], watchdog_max_gap_s=gap)
        verdict.expect(gap <= interval, f"no watchdog ping for {gap:.1f} s > WatchdogSec {interval:g} s")
    verdict.within(
        p99 <= criteria.loop_lag_p99, f"lag p99 {p99 * 1e3:.1f} ms > {criteria.loop_lag_p99 * 1e3:.0f} ms"
    )
    return verdict


def judge_daemon(exit_code: int | None, faults: Mapping[str, Any] | None, restarts: int | None) -> Verdict:
    verdict = Verdict("daemon", 0.0, 0.0, 0.0)
    verdict.figures.update(exit_code=exit_code)
    verdict.expect(exit_code == 0, f"the daemon exited {exit_code} on SIGTERM after the load")
    if faults is not None:
        done = faults.get("done", {})
        verdict.figures.update(
            crashes=done.get("crash", 0),
            restarts=restarts,
            sighup=done.get("sighup", 0),
            reload=done.get("reload", 0),
        )
        verdict.expect(
            restarts == done.get("crash", 0), f"{done.get('crash')} crashes injected, {restarts} restarts"
        )
        verdict.expect(not faults.get("failures"), f"faults went wrong: {faults.get('failures')}")
    return verdict


def judge_run(run: Mapping[str, Any], rates: Rates, target: Rates, criteria: Criteria) -> list[Verdict]:
    """Every tier's verdict for one run (the record ``bench/stress/run.py`` assembles)."""
    results = list(run.get("clients", []))
    account = run.get("account") or {}
    return [
        judge_control(rates, target, criteria, results),
        judge_telemetry(
            rates, target, criteria, account, run.get("telemetry_stats") or {}, float(run["flush"])
        ),
        judge_spans(rates, target, criteria, account, int(run["span_bound"])),
        judge_cache(
            rates, target, criteria, results, list(run.get("cache_samples", [])), int(run["capacity"])
        ),
        judge_flags(rates, target, criteria, results, run.get("flags_held") or {}),
        judge_loop(criteria, account, run.get("watchdog")),
        judge_daemon(run.get("exit_code"), run.get("faults"), run.get("restarts")),
    ]
