"""Run every benchmark module on both event loops and print the table of ratios (`make bench`).

Each module runs in a process of its own, so that none measures in the heap another one left (the
caches' million entries made the core's restart benchmark look 70% slower when they shared one).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import pkgutil
import subprocess
import sys

import bench
from bench.harness import Row
from supervisor.tables import _core as tables_core


def _modules(only: list[str]) -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    return [n for n in names if not only or any(o in n for o in only)]


def _print(rows: list[Row]) -> None:
    header = f"{'suite':<10} {'benchmark':<52} {'loop':<7} {'arbord':>11} {'baseline':>11} {'ratio':>7}"
    print(header + "  target")
    print("-" * (len(header) + 12))
    for r in rows:
        cmp = ">=" if r.higher_is_better else "<="
        target = "(information)" if r.target is None else f"{cmp} {r.target:g} {'ok' if r.ok else 'MISS'}"
        print(
            f"{r.suite:<10} {r.name:<52} {r.loop:<7} {r.arbord:>9.3g}{r.unit:>2} "
            f"{r.baseline:>9.3g}{r.unit:>2} {r.ratio:>7.2f}  {target}"
        )


def _run_here(name: str, loops: list[str]) -> list[Row]:
    module = importlib.import_module(f"bench.{name}")
    rows: list[Row] = []
    for loop in loops:
        rows.extend(module.run(loop))
    return rows


def _run_apart(name: str, loop: str) -> list[Row]:
    """The module's rows, measured by a fresh interpreter (``--module``) and read back as JSON."""
    command = [sys.executable, "-m", "bench", "--module", name, "--loop", loop]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return [Row(**fields) for fields in json.loads(done.stdout)]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("only", nargs="*", help="run only modules whose name contains one of these")
    parser.add_argument("--loop", choices=["asyncio", "uvloop", "both"], default="both")
    parser.add_argument("--module", help=argparse.SUPPRESS)  # one module, rows as JSON (_run_apart)
    args = parser.parse_args()
    if tables_core.IMPLEMENTATION != "c":
        # The targets are the C core's: the pure-Python twin exists for machines without a compiler.
        parser.error("the benchmarks measure the tables' C core: unset ARBORD_NO_EXTENSIONS")
    loops = ["asyncio", "uvloop"] if args.loop == "both" else [args.loop]
    if args.module:
        print(json.dumps([dataclasses.asdict(row) for row in _run_here(args.module, loops)]))
        return 0
    rows: list[Row] = []
    for name in _modules(args.only):
        for loop in loops:
            rows.extend(_run_apart(name, loop))
    _print(rows)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
