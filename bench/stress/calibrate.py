"""Calibrating the load tiers to a machine: ``python -m bench.stress calibrate`` (`make stress-calibrate`).

The matrix's rates (bench/stress/tiers.py) are starting targets, "to be calibrated on the real CI
machine". A calibration measures, on the machine at hand:

1. **the daemon idle**, then **each tier alone** at its target for ``duration`` seconds: the rate
   each reached (its capacity alone, when it fell short of the target) and what one operation cost
   the daemon (its CPU seconds beyond the idle run's, over the operations offered);
2. **the calibrated rates**: ``headroom`` of the share of a core the daemon gets (the daemon is
   one event loop, one core at most; a tier that fell short alone shows how much of one the machine
   gives it: the most CPU such a run used) shared among the tiers by ``plan_rates`` — a tier whose
   target fits in its share keeps its target, the rest is shared among the others — each tier also
   at most ``headroom`` of its capacity alone (a flag write waits for its ``fdatasync``: its limit
   is the disk, not the CPU);
3. **every tier together** at the calibrated rates, judged as `make stress` judges them (nothing
   lost, p99 and loop-lag budgets): a calibration that does not pass together says so.

The result is written to a JSON file (default bench/stress/calibration.json): the machine (CPUs, its
model, the load average before and after each run), the targets, the capacities alone, the costs,
the calibrated rates and the run together. `make stress` asks the rates of that file when it exists
(``--calibration``); its report prints each tier's target beside the rate asked, so a calibrated
rate is never mistaken for the matrix's.

>>> target = Rates("T1", 128, 50.0, 20_000.0, 5_000.0, 50_000.0, 100.0)
>>> cost = {"control": 1 / 6_000, "events": 1 / 40_000, "spans": 1 / 10_000, "cache": 1 / 6_000,
...         "flags": 1 / 2_000}
>>> capacity = {"control": 2_800.0, "events": 20_000.0, "spans": 5_000.0, "cache": 1_800.0, "flags": 40.0}
>>> planned = plan_rates(target, capacity, cost, headroom=0.7)
>>> [round(x) for x in (planned.control_clients * planned.control_rate, planned.events,
...  planned.spans, planned.cache_ops, planned.flag_writes)]
[1029, 6860, 1715, 1029, 28]
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from bench.stress.judge import Verdict, judge_run
from bench.stress.run import run
from bench.stress.tiers import Criteria, Rates

__all__ = [
    "DEFAULT_FILE",
    "KINDS",
    "alone",
    "calibrate",
    "load_calibration",
    "plan_rates",
    "rate_of",
    "with_rate",
]

DEFAULT_FILE: Final = Path(__file__).with_name("calibration.json")
KINDS: Final = ("control", "events", "spans", "cache", "flags")
"""The tiers with a rate, in the judge's order (bench/stress/judge.py ``judge_run``)."""
_FIELDS: Final = {"events": "events", "spans": "spans", "cache": "cache_ops", "flags": "flag_writes"}


def rate_of(rates: Rates, kind: str) -> float:
    """The tier's rate per second (control: clients x their rate)."""
    if kind == "control":
        return rates.control_clients * rates.control_rate
    return float(getattr(rates, _FIELDS[kind]))


def with_rate(rates: Rates, kind: str, rate: float) -> Rates:
    """``rates`` with the tier's rate replaced (control: the clients stay, their rate changes)."""
    if kind == "control":
        return rates.with_rates({"control_rate": rate / rates.control_clients})
    return rates.with_rates({_FIELDS[kind]: rate})


def alone(target: Rates, kind: str) -> Rates:
    """``target`` with every other tier at 0."""
    rates = target
    for other in KINDS:
        if other != kind:
            rates = with_rate(rates, other, 0.0)
    return rates


def plan_rates(
    target: Rates,
    capacity: Mapping[str, float],
    cost: Mapping[str, float],
    *,
    headroom: float,
    core: float = 1.0,
) -> Rates:
    """The calibrated rates (module docstring): ``headroom`` of the ``core`` the daemon gets (1.0:
    a whole one) shared among the tiers, water-filling from the cheapest demand; each tier at most
    its target and ``headroom`` of its capacity alone."""
    ceiling = {k: min(rate_of(target, k), headroom * capacity[k]) for k in KINDS}
    demand = {k: ceiling[k] * cost[k] for k in KINDS}  # core-seconds per second at the ceiling
    budget, left = headroom * min(core, 1.0), list(KINDS)
    share: dict[str, float] = {}
    for kind in sorted(KINDS, key=lambda k: demand[k]):
        share[kind] = min(demand[kind], budget / len(left))
        budget -= share[kind]
        left.remove(kind)
    rates = target
    for kind in KINDS:
        rate = ceiling[kind] if cost[kind] <= 0 else min(ceiling[kind], share[kind] / cost[kind])
        rates = with_rate(rates, kind, rate)
    return dataclasses.replace(rates, name=f"{target.name} calibrated")


def _machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "model": model,
        "node": platform.node(),
        "python": platform.python_version(),
    }


def _summary(verdicts: list[Verdict], record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "loadavg_before": record.get("loadavg_before"),
        "loadavg_during": record.get("loadavg_during"),
        "daemon_cpu": record.get("daemon_cpu"),
        "verdicts": [
            {
                "tier": v.tier,
                "asked": v.asked,
                "offered": v.offered,
                "passed": v.passed,
                "p99_ms": v.figures.get("p99_ms"),
                "failures": v.failures,
                "shortfalls": v.shortfalls,
            }
            for v in verdicts
        ],
    }


def calibrate(
    target: Rates,
    criteria: Criteria,
    *,
    duration: float,
    headroom: float,
    pin: bool = True,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Measure each tier alone, plan the rates, run them together; the record the file keeps."""
    capacity: dict[str, float] = {}
    cost: dict[str, float] = {}
    runs: dict[str, Any] = {}
    idle_rates = alone(with_rate(target, "flags", 0.0), "flags")
    progress(f"calibrate: the daemon idle for {duration:g} s (its fixed cost)")
    idle = run(idle_rates, duration, pin=pin, progress=progress)
    idle_cpu = float(idle.record.get("daemon_cpu") or 0.0)
    runs["idle"] = _summary(judge_run(idle.record, idle_rates, target, criteria), idle.record)
    for index, kind in enumerate(KINDS):
        rates = alone(target, kind)
        progress(f"calibrate: {kind} alone at {rate_of(target, kind):,.0f}/s for {duration:g} s")
        done = run(rates, duration, pin=pin, progress=progress)
        verdicts = judge_run(done.record, rates, target, criteria)
        offered = verdicts[index].offered
        capacity[kind] = min(offered, rate_of(target, kind))
        busy = max(float(done.record.get("daemon_cpu") or 0.0) - idle_cpu, 0.0)
        cost[kind] = busy / offered if offered else 0.0
        runs[kind] = _summary(verdicts, done.record)
        progress(
            f"calibrate: {kind} offered {offered:,.0f}/s, daemon {done.record.get('daemon_cpu', 0):.2f} core"
        )
    # A tier that fell short alone had all the CPU the daemon could get: the most such a run used is
    # the share of a core this machine gives the daemon now (a whole one if no tier fell short).
    short = [runs[k]["daemon_cpu"] or 0.0 for k in KINDS if capacity[k] < 0.95 * rate_of(target, k)]
    core = min(max(short, default=1.0), 1.0)
    planned = plan_rates(target, capacity, cost, headroom=headroom, core=core)
    progress(f"calibrate: every tier together at the calibrated rates for {duration:g} s")
    together = run(planned, duration, pin=pin, progress=progress)
    verdicts = judge_run(together.record, planned, target, criteria)
    return {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "tier": target.name,
        "duration": duration,
        "headroom": headroom,
        "targets": {k: rate_of(target, k) for k in KINDS},
        "capacity_alone": capacity,
        "cost_us_per_op": {k: cost[k] * 1e6 for k in KINDS},
        "idle_cpu": idle_cpu,
        "core": core,
        "rates": {k: rate_of(planned, k) for k in KINDS},
        "control_clients": planned.control_clients,
        "alone": runs,
        "together": _summary(verdicts, together.record),
        "passed_together": all(v.passed for v in verdicts),
    }


def load_calibration(path: Path, target: Rates) -> tuple[Rates, dict[str, Any]] | None:
    """The calibrated rates of ``target``'s tier kept in ``path``, and the file's record; None when
    there is no such file or it calibrated another tier."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("tier") != target.name:
        return None
    rates = dataclasses.replace(target, name=f"{target.name} calibrated")
    rates = rates.with_rates({"control_clients": float(record["control_clients"])})
    for kind in KINDS:
        rates = with_rate(rates, kind, float(record["rates"][kind]))
    return rates, record
