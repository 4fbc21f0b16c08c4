"""What ``supervisor.testing``'s leak check costs a test, now that it runs around every async test.

Two rows per loop:

- ``LeakCheck() + await check()``, what the plugin does around each test, beside a tree of five
  running servers and an owned table (a test's surroundings), against starting and stopping one
  ``Server``, the least an arbord test does. Medians of rounds.
- The whole plugin, seen from pytest: a file of 200 trivial async tests run with
  ``arbord_leak_check = true`` against the same file with ``false``, in subprocesses, alternately;
  the figure is the median time of pytest's test loop (set-up, call and teardown of every test;
  start-up and collection left out) per test, so the difference is the check and its fixture.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import Row, per_op
from bench.loops import run_on
from supervisor import ChildSpec, Server, Supervisor, Table, TableType
from supervisor.testing import LeakCheck

ROUNDS = 21
OPS = 200
TESTS = 200
SUITE_ROUNDS = 5
INI = """[pytest]
addopts = -p no:cacheprovider -q
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
arbord_leak_check = {check}
"""
CONFTEST = """import asyncio, time, uvloop
import pytest

def pytest_asyncio_loop_factories(config, item):
    return {{"{loop}": {factory}}}

@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    start = time.perf_counter()
    try:
        return (yield)
    finally:
        with open("elapsed", "w") as out:
            out.write(repr(time.perf_counter() - start))
"""


async def _in_process() -> tuple[float, float]:
    table = Table("bench-leak-check", type=TableType.SET, named=True)
    tree = await Supervisor.start([ChildSpec(f"s{n}", Server) for n in range(5)])
    check_times: list[float] = []
    server_times: list[float] = []
    try:
        for _ in range(ROUNDS):
            start = time.perf_counter()
            for _ in range(OPS):
                await (await Server.start()).stop()
            server_times.append(per_op(time.perf_counter() - start, OPS))
            start = time.perf_counter()
            for _ in range(OPS):
                await LeakCheck().check()
            check_times.append(per_op(time.perf_counter() - start, OPS))
    finally:
        await tree.stop()
        table.delete_table()
    return statistics.median(check_times), statistics.median(server_times)


def _suite(directory: Path, loop_name: str, check: bool) -> float:
    factory = "asyncio.new_event_loop" if loop_name == "asyncio" else "uvloop.new_event_loop"
    (directory / "pytest.ini").write_text(INI.format(check="true" if check else "false"))
    (directory / "conftest.py").write_text(CONFTEST.format(loop=loop_name, factory=factory))
    (directory / "test_trivial.py").write_text(
        "".join(f"async def test_{n}():\n    pass\n\n\n" for n in range(TESTS))
    )
    subprocess.run([sys.executable, "-m", "pytest"], cwd=directory, check=True, capture_output=True)
    return float((directory / "elapsed").read_text())


def run(loop_name: str) -> list[Row]:
    check, server = run_on(loop_name, _in_process())
    on_times: list[float] = []
    off_times: list[float] = []
    with tempfile.TemporaryDirectory() as on_dir, tempfile.TemporaryDirectory() as off_dir:
        for _ in range(SUITE_ROUNDS):  # alternating, so that the machine's drift hits both
            off_times.append(_suite(Path(off_dir), loop_name, False))
            on_times.append(_suite(Path(on_dir), loop_name, True))
    on, off = statistics.median(on_times), statistics.median(off_times)
    return [
        Row(
            "testing", "LeakCheck() + check() vs a server's start+stop", loop_name, check, server, "us", None
        ),
        Row(
            "testing",
            f"pytest, {TESTS} async tests: leak check on vs off",
            loop_name,
            per_op(on, TESTS),
            per_op(off, TESTS),
            "us",
            None,
        ),
    ]
