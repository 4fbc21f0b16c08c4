"""The calibration's arithmetic and its file, on made-up measurements (bench/stress/calibrate.py).

The runs themselves are `make stress-calibrate` (minutes, not in `make test`); what is checked here
is what the rates are made of: never above a tier's target, never above ``headroom`` of what the tier
reached alone, their cost within ``headroom`` of a core, a tier that fits keeping its target; and
that `make stress` reads back the rates of the tier it runs, and only of that tier.
"""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import pytest

import bench.stress.calibrate as calibrate_module
from bench.stress.__main__ import main
from bench.stress.calibrate import KINDS, alone, load_calibration, plan_rates, rate_of, with_rate
from bench.stress.report import render_calibration
from bench.stress.tiers import T0, T1

COST = {
    "control": 1 / 6_000,
    "events": 1 / 40_000,
    "spans": 1 / 10_000,
    "cache": 1 / 6_000,
    "flags": 1 / 2_000,
}


def test_alone_keeps_one_tier_and_with_rate_sets_the_control_clients_rate() -> None:
    rates = alone(T1, "cache")
    assert [rate_of(rates, kind) for kind in KINDS] == [0.0, 0.0, 0.0, 50_000.0, 0.0]
    control = with_rate(T1, "control", 1_280.0)
    assert (control.control_clients, control.control_rate) == (128, 10.0)


@pytest.mark.parametrize("headroom", [0.3, 0.7, 1.0])
def test_calibrated_rates_stay_within_target_capacity_and_one_core(headroom: float) -> None:
    capacity = {"control": 2_800.0, "events": 20_000.0, "spans": 5_000.0, "cache": 1_800.0, "flags": 40.0}
    planned = plan_rates(T1, capacity, COST, headroom=headroom)
    for kind in KINDS:
        assert rate_of(planned, kind) <= rate_of(T1, kind) + 1e-9
        assert rate_of(planned, kind) <= headroom * capacity[kind] + 1e-9
    assert sum(rate_of(planned, kind) * COST[kind] for kind in KINDS) <= headroom + 1e-9
    assert planned.name == "T1 calibrated"


def test_a_tier_that_fits_keeps_its_target_and_the_rest_share_what_is_left() -> None:
    cheap = dict(COST, flags=1e-6)
    capacity = {kind: rate_of(T1, kind) for kind in KINDS}
    planned = plan_rates(T1, capacity, cheap, headroom=1.0)
    assert rate_of(planned, "flags") == 100.0  # the target: it costs next to nothing
    shares = [rate_of(planned, kind) * cheap[kind] for kind in ("control", "events", "spans", "cache")]
    assert max(shares) - min(shares) < 1e-9  # the others could not have their targets: equal shares


def test_on_a_machine_fast_enough_the_calibrated_rates_are_the_targets() -> None:
    capacity = {kind: rate_of(T0, kind) for kind in KINDS}
    tiny = dict.fromkeys(KINDS, 1e-9)
    planned = plan_rates(T0, capacity, tiny, headroom=1.0)
    assert [rate_of(planned, kind) for kind in KINDS] == [rate_of(T0, kind) for kind in KINDS]


def _record(tier: str = "T1") -> dict[str, Any]:
    verdict = {
        "tier": "x",
        "asked": 1.0,
        "offered": 1.0,
        "passed": True,
        "p99_ms": 3.0,
        "failures": [],
        "shortfalls": [],
    }
    run = {"loadavg_before": [1.5, 1.0, 1.0], "loadavg_during": [2.0, 1.0, 1.0], "daemon_cpu": 0.6}
    return {
        "when": "2026-12-03T19:00:00+00:00",
        "machine": {"cpus": 2, "model": "test", "node": "n", "python": "3.11"},
        "tier": tier,
        "duration": 20.0,
        "headroom": 0.7,
        "targets": {kind: rate_of(T1, kind) for kind in KINDS},
        "capacity_alone": dict.fromkeys(KINDS, 100.0),
        "cost_us_per_op": dict.fromkeys(KINDS, 10.0),
        "rates": {"control": 640.0, "events": 5_000.0, "spans": 1_000.0, "cache": 500.0, "flags": 20.0},
        "control_clients": 128,
        "alone": dict.fromkeys(("idle", *KINDS), run),
        "idle_cpu": 0.02,
        "together": {**run, "verdicts": [dict(verdict, tier=kind) for kind in KINDS] + [verdict, verdict]},
        "passed_together": True,
    }


def test_make_stress_reads_back_the_rates_of_its_own_tier_only(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    assert load_calibration(path, T1) is None  # no file: the targets
    path.write_text(json.dumps(_record()))
    loaded = load_calibration(path, T1)
    assert loaded is not None
    rates, record = loaded
    assert (rates.control_clients, rates.control_rate) == (128, 5.0)
    assert (rates.events, rates.spans, rates.cache_ops, rates.flag_writes) == (5_000.0, 1_000.0, 500.0, 20.0)
    assert record["when"] == "2026-12-03T19:00:00+00:00"
    assert load_calibration(path, T0) is None  # calibrated T1, not T0
    path.write_text("{not json")
    assert load_calibration(path, T1) is None


def test_the_calibration_report_puts_targets_capacity_and_rates_side_by_side() -> None:
    text = render_calibration(_record())
    assert "target/s" in text
    assert "alone/s" in text
    assert "calibrated/s" in text
    assert "cache" in text
    assert "50,000" in text
    assert "500" in text
    assert text.endswith("verdict together: PASS")


def test_calibrate_is_a_command_of_bench_stress() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["calibrate", "--help"])
    assert exited.value.code == 0


def test_the_calibration_examples_run() -> None:
    result = doctest.testmod(calibrate_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0


def test_the_budget_is_the_share_of_a_core_the_daemon_got() -> None:
    capacity = {kind: rate_of(T1, kind) for kind in KINDS}
    whole = plan_rates(T1, capacity, COST, headroom=0.7)
    quarter = plan_rates(T1, capacity, COST, headroom=0.7, core=0.25)
    assert sum(rate_of(quarter, kind) * COST[kind] for kind in KINDS) <= 0.7 * 0.25 + 1e-9
    assert all(rate_of(quarter, kind) <= rate_of(whole, kind) for kind in KINDS)
    assert plan_rates(T1, capacity, COST, headroom=0.7, core=3.0) == whole  # one loop: one core at most
