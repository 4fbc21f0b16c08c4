"""The short, bounded versions of `make stress` and `make soak` against a real daemon subprocess.

T0 rates for a few seconds: enough for every accounting identity to be exercised with real traffic
(tens of thousands of events, thousands of spans, cache operations and flag writes) and for the soak
to inject crashes, a SIGHUP and a reload. The assertions are the judge's **failures** (something
lost, answered twice, wrong or left open) and the soak's bookkeeping, never its **shortfalls**: a
rate not reached or a latency over budget depends on the machine, and `make stress` judges those.
"""

from __future__ import annotations

import csv
from pathlib import Path

from bench.stress.judge import judge_run
from bench.stress.run import SERIES, run
from bench.stress.slopes import FLOORS, judge_slope
from bench.stress.tiers import CRITERIA, T0


def test_a_short_stress_run_loses_nothing() -> None:
    done = run(T0, 3.0)
    verdicts = {v.tier.split()[0]: v for v in judge_run(done.record, T0, T0, CRITERIA["T0"])}
    assert {name: v.failures for name, v in verdicts.items()} == {name: [] for name in verdicts}
    figures = {name: v.figures for name, v in verdicts.items()}
    assert figures["control"]["replies"] == figures["control"]["sent"] > 0
    assert figures["telemetry"]["emitted"] == figures["telemetry"]["recorded"] > 0
    assert figures["telemetry"]["flushed"] == figures["telemetry"]["batched"] > 0
    assert figures["spans"]["started"] == figures["spans"]["ended_ok"] + figures["spans"]["ended_cancelled"]
    assert figures["spans"]["ended_cancelled"] > 0
    assert figures["cache"]["replies"] > 0
    assert figures["flag"]["acknowledged"] > 0
    assert figures["flag"]["lost"] == 0
    assert done.record["exit_code"] == 0


def test_a_short_soak_injects_faults_and_writes_its_series(tmp_path: Path) -> None:
    series = tmp_path / "soak.csv"
    done = run(T0, 5.0, faults_every=1.0, sample=1.0, csv_path=series)
    verdicts = {v.tier.split()[0]: v for v in judge_run(done.record, T0, T0, CRITERIA["T0"])}
    assert {name: v.failures for name, v in verdicts.items()} == {name: [] for name in verdicts}
    faults = done.record["faults"]
    assert faults["failures"] == []
    assert faults["done"]["crash"] >= 2
    assert faults["done"]["sighup"] >= 1
    assert done.record["restarts"] == faults["done"]["crash"]
    with series.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert rows
    assert list(rows[0]) == list(SERIES)
    assert len(rows) == len(done.series)
    times = [row["t"] for row in done.series]
    slopes = [
        judge_slope(name, times, [row[name] for row in done.series], f, warmup=0.2)
        for name, f in FLOORS.items()
    ]
    assert [s.series for s in slopes] == list(FLOORS)
