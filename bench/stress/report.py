"""The report a run prints: one line per tier (asked, T-target, offered, latency, verdict), the
"nothing lost" accounting under it, then the daemon's cost and the machine's load.

>>> from bench.stress.judge import Verdict
>>> v = Verdict("flag writes", 100.0, 100.0, 99.5, {"p50_ms": 4.0, "p99_ms": 9.5, "lost": 0})
>>> print(tier_line(v))  # doctest: +NORMALIZE_WHITESPACE
flag writes              asked 100/s (T1 100/s)  offered 100/s 100%
                         p50 4.0 ms  p99 9.5 ms  PASS
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.stress.judge import Verdict
from bench.stress.slopes import SlopeVerdict

__all__ = ["render", "render_calibration", "tier_line"]

_LATENCY_FREE = {"p50_ms", "p99_ms"}


def tier_line(v: Verdict, tier: str = "T1") -> str:
    """The tier's one line."""
    head = f"{v.tier:<36}"
    if v.asked:
        share = v.offered / v.asked if v.asked else 0.0
        head += f" asked {v.asked:>9,.0f}/s  ({tier} {v.target:>7,.0f}/s)"
        head += f"  offered {v.offered:>9,.0f}/s {share:>5.0%}"
    elif v.target:
        head += f" not asked (0/s; {tier} {v.target:,.0f}/s)".ljust(66)
    else:
        head += " " * 66
    if "p99_ms" in v.figures:
        head += f"  p50 {v.figures['p50_ms']:>6.1f} ms  p99 {v.figures['p99_ms']:>6.1f} ms"
    return f"{head}  {'PASS' if v.passed else 'FAIL'}"


def _figures(v: Verdict) -> str:
    parts = []
    for key, value in v.figures.items():
        if key in _LATENCY_FREE:
            continue
        parts.append(f"{key}={value:,.1f}" if isinstance(value, float) else f"{key}={value}")
    return "    " + ", ".join(parts)


def render(
    verdicts: Sequence[Verdict],
    record: Mapping[str, Any],
    slopes: Sequence[SlopeVerdict] = (),
    tier: str = "T1",
) -> str:
    """The whole report."""
    pinned = record["pinned"]
    where = (
        "not pinned"
        if pinned["daemon"] is None
        else f"pinned: daemon on CPU {pinned['daemon']}, load on CPU {pinned['load']}"
    )
    lines = [
        f"arbord {record.get('mode')}: rates {record.get('rates')}, {record.get('duration'):g} s, "
        f"{record.get('load_processes')} load processes (nice 10); {where}",
        "",
    ]
    for v in verdicts:
        lines.append(tier_line(v, tier))
        lines.append(_figures(v))
        lines.extend(f"    FAILED: {failure}" for failure in v.failures)
        lines.extend(f"    SHORT: {shortfall}" for shortfall in v.shortfalls)
    if slopes:
        lines.append("")
        lines.append("slopes after warm-up (per minute; leak = significant and above the floor):")
        for s in slopes:
            lines.append(
                f"  {s.series:<16} slope {s.slope * 60:>+9.3f}/min ± {s.stderr * 60:.3f}"
                f"  rise {s.rise:>+9.2f}  "
                f"floor {s.floor:>7.2f}  points {s.points:>4}  {'LEAK' if s.leak else 'flat'}"
            )
    rss, fds = record.get("rss", {}), record.get("fds", {})
    if rss:
        lines.append("")
        lines.append(
            f"daemon RSS {rss['start'] / 2**20:.1f} MB at start, {rss['max'] / 2**20:.1f} max, "
            f"{rss['end'] / 2**20:.1f} end; fds {fds['start']} / {fds['max']} / {fds['end']}; "
            f"CPU {record.get('daemon_cpu', 0.0):.2f} of a core during the load"
        )
    before, during = record.get("loadavg_before"), record.get("loadavg_during")
    if before and during:
        lines.append(
            f"load average before {before[0]:.2f}, at the end {during[0]:.2f} (1 min; 2 cores shared)"
        )
    failed = [v.tier for v in verdicts if not v.passed] + [s.series for s in slopes if s.leak]
    lines.append("")
    lines.append("verdict: " + ("PASS" if not failed else "FAIL (" + ", ".join(failed) + ")"))
    return "\n".join(lines)


def render_calibration(record: Mapping[str, Any]) -> str:
    """A calibration (bench/stress/calibrate.py) as a table: per tier, the target, the capacity
    alone, the cost per operation, the calibrated rate, and what the run together offered."""
    machine = record["machine"]
    together = record["together"]["verdicts"]
    lines = [
        f"calibration of {record['tier']} on {machine['cpus']} CPUs ({machine['model']}), {record['when']}; "
        f"{record['duration']:g} s per run, headroom {record['headroom']:.0%} of a core",
        f"{'tier':<10} {'target/s':>10} {'alone/s':>10} {'us/op':>8} {'calibrated/s':>13} "
        f"{'together/s':>11} {'p99 ms':>8}  verdict",
    ]
    for index, kind in enumerate(record["targets"]):
        v = together[index]
        p99 = "" if v.get("p99_ms") is None else f"{v['p99_ms']:.1f}"
        lines.append(
            f"{kind:<10} {record['targets'][kind]:>10,.0f} {record['capacity_alone'][kind]:>10,.0f} "
            f"{record['cost_us_per_op'][kind]:>8.1f} {record['rates'][kind]:>13,.0f} "
            f"{v['offered']:>11,.0f} {p99:>8}  {'PASS' if v['passed'] else 'FAIL'}"
        )
    for v in record["together"]["verdicts"]:
        lines.extend(f"    {v['tier']}: FAILED: {f}" for f in v["failures"])
        lines.extend(f"    {v['tier']}: SHORT: {s}" for s in v["shortfalls"])
    alone_load = [r["loadavg_before"][0] for r in record["alone"].values() if r.get("loadavg_before")]
    lines.append(
        f"daemon idle {record.get('idle_cpu', 0.0):.3f} of a core (subtracted from each tier's cost); "
        f"it got {record.get('core', 1.0):.2f} of a core when saturated (the rates' budget: "
        f"{record['headroom']:.0%} of that)"
    )
    lines.append(
        f"daemon CPU together {record['together']['daemon_cpu'] or 0:.2f} of a core; load average "
        f"before the runs {min(alone_load, default=0):.2f}-{max(alone_load, default=0):.2f} (1 min)"
    )
    if max(alone_load, default=0) > (machine["cpus"] or 1):
        lines.append(
            "WARNING: the load average exceeded the CPUs: the daemon did not have its core, and the"
            " capacities are this machine's share, not its speed; calibrate again when it is quiet"
        )
    lines.append("verdict together: " + ("PASS" if record["passed_together"] else "FAIL"))
    return "\n".join(lines)
