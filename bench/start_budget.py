"""Where the daemon's start goes: the CPU time of each phase of start -> ``READY=1`` (``make start-budget``).

``bench daemon`` says how long the start is against the smallest program that sends ``READY=1``; this
says what it is made of, so that a change to the start can be aimed (issue 11 item 15). Each run
starts the daemon on the benchmark's configuration (``[daemon] loop`` and ``runtime_dir`` only, the
default tree) through a small prologue that times its own imports in CPU time
(``time.process_time``) before it hands over to ``arbord run``:

- the interpreter's start, then ``import asyncio``, then pydantic with its model machinery (what
  building the first model imports);
- while ``daemon.cli`` and ``daemon.tree`` are imported: the time spent building pydantic model
  classes (the settings sections; and of that, building their validators) and frozen dataclasses
  (arbord's, pydantic's, the rest), and the rest of the module code;
- then, read from ``/proc`` when ``READY=1`` arrives, the total: the difference is reading the settings
  and starting the tree.

The same runs measure the minimal program of ``bench daemon`` (``MINIMAL_READY``), alternating, and
each phase is printed in milliseconds and as a multiple of that program's CPU time (medians; the
first run, which fills the bytecode cache, is dropped). Instrumenting costs a little: the total is a
few milliseconds above ``bench daemon``'s. Linux only (the CPU time at ``READY=1`` is read from
``/proc``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bench_daemon import ROOT, _cpu_seconds, _environ, _minimal_ready

__all__ = ["PHASES", "main", "measure"]

# The prologue: times its imports, prints them as one JSON line, then runs ``arbord run`` itself.
PROLOGUE = """
import time
clock = time.process_time
marks = {"interpreter": clock()}
import asyncio
marks["asyncio"] = clock()
import dataclasses, json, sys
from pydantic import BaseModel
from pydantic._internal import _model_construction as construction
marks["pydantic"] = clock()

spent = {"models": 0.0, "validators": 0.0, "dataclasses arbord": 0.0, "dataclasses pydantic": 0.0,
         "dataclasses other": 0.0}
counts = {key: 0 for key in spent}
nesting = [0]

def timed(key, function):
    def wrapper(*args, **kwargs):
        nesting[0] += 1
        start = clock()
        try:
            return function(*args, **kwargs)
        finally:
            nesting[0] -= 1
            if nesting[0] == 0 or key == "validators":
                spent[key] += clock() - start
                counts[key] += 1
    return wrapper

def dataclass_key(cls):
    top = cls.__module__.split(".")[0]
    if top in ("daemon", "supervisor"):
        return "dataclasses arbord"
    if top in ("pydantic", "pydantic_core", "annotated_types", "typing_inspection"):
        return "dataclasses pydantic"
    return "dataclasses other"

process_class = dataclasses._process_class
def timed_process_class(cls, *args, **kwargs):
    return timed(dataclass_key(cls), process_class)(cls, *args, **kwargs)

construction.ModelMetaclass.__new__ = timed("models", construction.ModelMetaclass.__new__)
construction.complete_model_class = timed("validators", construction.complete_model_class)
dataclasses._process_class = timed_process_class
import daemon.cli, daemon.tree
marks["imports"] = clock()
print(json.dumps({"marks": marks, "spent": spent, "counts": counts}), flush=True)
sys.exit(daemon.cli.main(["run", "--config", sys.argv[1]]))
"""

PHASES = (
    "interpreter start",
    "import asyncio",
    "pydantic and its model machinery",
    "pydantic model classes (settings sections)",
    "  of which their validators",
    "dataclasses: arbord's",
    "dataclasses: pydantic's",
    "dataclasses: others'",
    "the rest of the daemon's imports",
    "settings read, tree started, READY=1",
    "total at READY=1",
)


def _one_start(workdir: Path, loop: str, pycache: Path) -> tuple[dict[str, float], dict[str, int]]:
    """The phases of one start, in CPU seconds, and how many model classes and dataclasses it built."""
    config = workdir / "arbord.toml"
    config.write_text(f'[daemon]\nloop = "{loop}"\nruntime_dir = "{workdir / "run"}"\n')
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(workdir / "notify"))
        notify.settimeout(30)
        with subprocess.Popen(
            [sys.executable, "-c", PROLOGUE, str(config)],
            cwd=ROOT,
            env=_environ(workdir / "notify", pycache),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        ) as process:
            try:
                assert process.stdout is not None
                report = json.loads(process.stdout.readline())
                while b"READY=1" not in notify.recv(65536).split(b"\n"):
                    pass
                total = _cpu_seconds(process.pid)
                process.send_signal(signal.SIGTERM)
                process.stdout.read()
                code = process.wait()
            finally:
                if process.poll() is None:
                    process.kill()
    if code != 0 or total is None:
        raise RuntimeError(f"arbord exited {code}, CPU time {total}")
    marks, spent = report["marks"], report["spent"]
    dataclasses = spent["dataclasses arbord"] + spent["dataclasses pydantic"] + spent["dataclasses other"]
    imports = marks["imports"] - marks["pydantic"]
    phases = dict(
        zip(
            PHASES,
            (
                marks["interpreter"],
                marks["asyncio"] - marks["interpreter"],
                marks["pydantic"] - marks["asyncio"],
                spent["models"],
                spent["validators"],
                spent["dataclasses arbord"],
                spent["dataclasses pydantic"],
                spent["dataclasses other"],
                imports - spent["models"] - dataclasses,
                total - marks["imports"],
                total,
            ),
            strict=True,
        )
    )
    return phases, report["counts"]


def measure(loop: str, runs: int) -> tuple[dict[str, float], float, dict[str, int]]:
    """Median CPU seconds of each phase over ``runs`` starts, of the minimal program's start, and the
    number of model classes and dataclasses a start builds (``models``, ``dataclasses arbord``, ...)."""
    phases: dict[str, list[float]] = {phase: [] for phase in PHASES}
    minimal: list[float] = []
    counts: dict[str, int] = {}
    pycache = Path(tempfile.mkdtemp(prefix="arb-budget-pycache-", dir="/tmp"))
    try:
        for number in range(runs + 1):
            workdir = Path(tempfile.mkdtemp(prefix="arb-budget-", dir="/tmp"))
            try:
                _, floor = _minimal_ready(workdir, loop, pycache)
                start, counts = _one_start(workdir, loop, pycache)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            if number and floor:  # the first run fills the bytecode cache
                minimal.append(floor)
                for phase, seconds in start.items():
                    phases[phase].append(seconds)
    finally:
        shutil.rmtree(pycache, ignore_errors=True)
    medians = {phase: statistics.median(values) for phase, values in phases.items()}
    return medians, statistics.median(minimal), counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.start_budget", description=__doc__)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="uvloop")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    if not Path("/proc/self/task").is_dir():
        parser.error("the CPU time at READY=1 is read from /proc: Linux only")
    phases, minimal, counts = measure(args.loop, args.runs)
    print(f"start -> READY=1 on {args.loop}, CPU time, medians of {args.runs} starts")
    print(f"{'phase':<46} {'ms':>7} {'x minimal':>10}")
    for phase, seconds in phases.items():
        print(f"{phase:<46} {seconds * 1e3:>7.1f} {seconds / minimal:>10.2f}")
    print(
        f"built: {counts['models']} model classes, dataclasses {counts['dataclasses arbord']} arbord's, "
        f"{counts['dataclasses pydantic']} pydantic's, {counts['dataclasses other']} others'"
    )
    print(f"{'minimal program (bench daemon MINIMAL_READY)':<46} {minimal * 1e3:>7.1f} {1:>10.2f}")
    floor = sum(phases[phase] for phase in PHASES[:4])
    print(f"{'floor with pydantic: the first four phases':<46} {floor * 1e3:>7.1f} {floor / minimal:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
