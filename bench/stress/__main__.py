"""``python -m bench.stress stress|soak|plot``: what `make stress` and `make soak` run.

- ``stress [--duration S] [--tier T1] [--rate NAME=N ...] [--json FILE]``: the tier's load for
  ``S`` seconds, the report, exit 1 when a tier fails;
- ``soak [--duration S] [--faults-every S] [--sample S] [--csv FILE] [--plot FILE] [--warmup SHARE]``:
  the same with periodic faults, a time series in CSV, and the leak test on its slopes;
- ``plot CSV PNG``: the soak's plot (matplotlib, the ``bench`` extra);
- ``calibrate [--duration S] [--headroom H] [--out FILE]``: each tier alone, then the calibrated
  rates together; writes FILE (bench/stress/calibrate.py). ``stress`` and ``soak`` take
  ``--calibration FILE``: the rates calibrated there (the ``--rate`` options still override them).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from bench.stress.calibrate import DEFAULT_FILE, calibrate, load_calibration
from bench.stress.judge import judge_run
from bench.stress.report import render, render_calibration
from bench.stress.run import run
from bench.stress.slopes import FLOORS, judge_slope
from bench.stress.tiers import CRITERIA, TIERS


def _rates(values: list[str]) -> dict[str, float]:
    changes: dict[str, float] = {}
    for value in values:
        name, _, number = value.partition("=")
        changes[name.strip()] = float(number)
    return changes


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stress",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("stress", "soak"):
        sub = commands.add_parser(name)
        sub.add_argument("--duration", type=float, default=60.0 if name == "stress" else 600.0)
        sub.add_argument("--tier", choices=sorted(TIERS), default="T1")
        help_rate = "ask another rate than the tier's (the report shows the tier's beside it)"
        sub.add_argument("--rate", action="append", default=[], metavar="NAME=N", help=help_rate)
        sub.add_argument("--json", type=Path, help="write the run's record (and verdicts) here")
        sub.add_argument(
            "--calibration",
            type=Path,
            help="ask the rates calibrated in this file (`make stress-calibrate`), if it calibrated the tier",
        )
        sub.add_argument(
            "--no-pin", dest="pin", action="store_false", help="let the daemon and the load use any CPU"
        )
        if name == "soak":
            sub.add_argument("--faults-every", type=float, default=20.0)
            sub.add_argument("--sample", type=float, default=5.0)
            sub.add_argument("--warmup", type=float, default=0.2, help="share of the run not judged")
            sub.add_argument("--csv", type=Path, default=Path("soak.csv"))
            sub.add_argument("--plot", type=Path)
    cal = commands.add_parser("calibrate")
    cal.add_argument("--duration", type=float, default=20.0, help="seconds per run (6 runs)")
    cal.add_argument("--tier", choices=sorted(TIERS), default="T1")
    cal.add_argument("--headroom", type=float, default=0.7, help="share of one core the rates may cost")
    cal.add_argument("--out", type=Path, default=DEFAULT_FILE)
    cal.add_argument("--no-pin", dest="pin", action="store_false")
    plot = commands.add_parser("plot")
    plot.add_argument("csv", type=Path)
    plot.add_argument("png", type=Path)
    args = parser.parse_args(argv)
    # SIGTERM (and SIGINT, which a background job ignores) stop the run through its cleanup: the
    # daemon and the load processes are stopped, the temporary directory removed.
    signal.signal(signal.SIGTERM, _interrupted)

    if args.command == "plot":
        from bench.stress.plot import plot_soak

        plot_soak(args.csv, args.png)
        return 0
    target = TIERS[args.tier]
    criteria = CRITERIA[args.tier]
    if args.command == "calibrate":
        record = calibrate(
            target,
            criteria,
            duration=args.duration,
            headroom=args.headroom,
            pin=args.pin,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
        args.out.write_text(json.dumps(record, indent=1) + "\n")
        print(render_calibration(record))
        return 0 if record["passed_together"] else 1
    base = target
    calibrated = None if args.calibration is None else load_calibration(args.calibration, target)
    if calibrated is not None:
        base = calibrated[0]
        print(f"rates calibrated {calibrated[1]['when']} ({args.calibration})", file=sys.stderr)
    rates = base.with_rates(_rates(args.rate))
    soak = args.command == "soak"
    done = run(
        rates,
        args.duration,
        faults_every=args.faults_every if soak else 0.0,
        sample=args.sample if soak else 5.0,
        csv_path=args.csv if soak else None,
        pin=args.pin,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    verdicts = judge_run(done.record, rates, target, criteria)
    slopes = []
    if soak:
        times = [row["t"] for row in done.series]
        slopes = [
            judge_slope(series, times, [row[series] for row in done.series], floor, warmup=args.warmup)
            for series, floor in FLOORS.items()
        ]
    print(render(verdicts, done.record, slopes, args.tier))
    if args.json is not None:
        record = dict(done.record)
        record["verdicts"] = [
            {
                "tier": v.tier,
                "passed": v.passed,
                "asked": v.asked,
                "offered": v.offered,
                "figures": v.figures,
                "failures": v.failures,
            }
            for v in verdicts
        ]
        args.json.write_text(json.dumps(record, indent=1, default=str))
    if soak and args.plot is not None:
        from bench.stress.plot import plot_soak

        plot_soak(args.csv, args.plot)
    ok = all(v.passed for v in verdicts) and not any(s.leak for s in slopes)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
