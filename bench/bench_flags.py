"""Benchmarks of the feature flags (daemon/flags), each against a baseline measured in the same run.

- A boolean flag's evaluation as users call it, ``server.enabled(name)`` (the attribute read at each
  call), against ``dict.get`` of the same names (target 3x); the same through a kept
  ``enabled = server.enabled`` and through the module-level ``daemon.flags.enabled(name)`` (which
  finds the server by name; information), and against the least a Python function can do (one
  ``dict.get`` and a test; information). The evaluation is C (daemon/flags/_speedups.c); under
  ``ARBORD_NO_EXTENSIONS=1`` the benchmarks refuse to run (they measure the C paths).
- A percentage-of-actors evaluation, ``server.enabled(name, actor)`` over 1,000 actors (murmur3 of
  ``"{group}:{actor}"``; the evaluation remembers the buckets of up to 10,000 actors), against
  ``dict.get`` (target 10x) and against the 1.5 µs goal; through the module-level ``enabled``
  (information); and with every actor new, so each evaluation hashes (information).
- The same rollout through ``UnleashClient`` with a local (bootstrapped) definition and no server,
  when the ``bench`` extra is installed: arbord's time over Unleash's (information). Its answers
  are checked to agree with arbord's buckets on every actor.
- OpenFeature: ``client.get_boolean_value`` through the SDK with ``ArbordProvider`` against the
  SDK's own ``InMemoryProvider`` on a static boolean flag (target 1.1x), medians of 401 short
  rounds in alternation.

The evaluations are timed in short rounds in alternation (``short_paired``: 301 rounds of 1,000
evaluations), and the medians reported: on a loaded machine a long round absorbs the other
processes' bursts and moved the ratios by 5x between runs.
- A durable write (SQLite, WAL, ``synchronous=FULL``): the median time from the write's call to its
  acknowledgement, against the raw fsync floor of the same disk measured in the same run, in
  alternation (write 200 bytes to a file and ``fsync``; information), and against the 2 ms budget
  (target 1.0x); the SQLite commit alone on the store's thread against the floor, and the floor
  against the budget (information: no durable write beats the disk's own fsync).
"""

from __future__ import annotations

import importlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import Row, paired, per_op
from bench.loops import run_on
from daemon.flags import Flags, MemoryStore
from daemon.flags import enabled as module_enabled
from daemon.flags.binding import FLAGS_NAME
from daemon.flags.bucket import normalized
from daemon.flags.config import FlagsSettings
from daemon.flags.sqlite_store import SqliteStore

EVALS = 100_000
ACTORS = [f"user-{n}" for n in range(1_000)]
ROUNDS = 9
WRITES = 200
WRITE_BUDGET_MS = 2.0
UNLEASH_EVALS = 2_000
OPENFEATURE_EVALS = 50
OPENFEATURE_ROUNDS = 401

Measured = list[tuple[str, float, float, float | None, str]]

SHORT = 1_000
"""Evaluations per short round (tens of microseconds: most rounds run unpreempted on a busy machine)."""
SHORT_ROUNDS = 301


def short_paired(
    arbord: Callable[[], object], baseline: Callable[[], object], *, rounds: int
) -> tuple[float, float]:
    """Median seconds of each over many short rounds, in alternation (the baseline first, then
    arbord, then the other way round), so a burst of the machine's load hits a few rounds of both
    rather than one long round of one: the medians are the unloaded costs (paired() with rounds of
    100,000 evaluations moved the ratios by 5x under load)."""
    a: list[float] = []
    b: list[float] = []
    clock = time.perf_counter
    for n in range(rounds):
        first, second = (baseline, arbord) if n % 2 else (arbord, baseline)
        started = clock()
        first()
        middle = clock()
        second()
        ended = clock()
        (b if n % 2 else a).append(middle - started)
        (a if n % 2 else b).append(ended - middle)
    return statistics.median(a), statistics.median(b)


def _loop_over(names: list[Any], fn: Callable[..., Any], *args: Any) -> Callable[[], None]:
    def run() -> None:
        for name in names:
            fn(name, *args)

    return run


async def _evaluation() -> Measured:
    settings = FlagsSettings.model_validate({"store": "memory", "on": {}, "split": {}})
    server = await Flags.start(settings, store=MemoryStore(), name=FLAGS_NAME)
    flags = server
    await flags.enable("on")
    await flags.set_percentage("split", 50, of="actors")
    enabled = flags.enabled
    table = {"on": True, "split": False}
    lookup = table.get
    names = ["on"] * SHORT
    rows: Measured = []

    def boolean() -> None:  # as the application writes it: the attribute read at each call
        for name in names:
            server.enabled(name)

    def boolean_bound() -> None:
        for name in names:
            enabled(name)

    def boolean_module() -> None:
        for name in names:
            module_enabled(name)

    def boolean_baseline() -> None:
        for name in names:
            lookup(name)

    for label, fn, target in (
        ("boolean: server.enabled(flag) vs dict.get", boolean, 3.0),
        ("boolean: enabled = server.enabled; enabled(flag) vs dict.get", boolean_bound, None),
        ("boolean: daemon.flags.enabled(flag) vs dict.get", boolean_module, None),
    ):
        a, b = short_paired(fn, boolean_baseline, rounds=SHORT_ROUNDS)
        rows.append((label, per_op(a, SHORT), per_op(b, SHORT), target, "us"))

    def floor(flag: str, actor: object = None) -> bool:
        """The least a Python function can do here: one dict.get and a test."""
        found = lookup(flag)
        return found is not None and found

    def floor_baseline() -> None:
        for name in names:
            floor(name)

    a, b = short_paired(boolean, floor_baseline, rounds=SHORT_ROUNDS)
    rows.append(
        (
            "boolean: server.enabled(flag) vs a Python function's floor",
            per_op(a, SHORT),
            per_op(b, SHORT),
            None,
            "us",
        )
    )

    actors = ACTORS * (SHORT // len(ACTORS))

    def split() -> None:
        for actor in actors:
            server.enabled("split", actor)

    def split_module() -> None:
        for actor in actors:
            module_enabled("split", actor)

    def baseline() -> None:
        for actor in actors:
            lookup(actor)

    a, b = short_paired(split, baseline, rounds=SHORT_ROUNDS)
    rows.append(
        (
            "% of actors: server.enabled(flag, actor) vs dict.get",
            per_op(a, SHORT),
            per_op(b, SHORT),
            10.0,
            "us",
        )
    )
    arbord_split = per_op(a, SHORT)
    rows.append(("% of actors: server.enabled(flag, actor), the 1.5 us goal", arbord_split, 1.5, 1.0, "us"))
    a, b = short_paired(split_module, baseline, rounds=SHORT_ROUNDS)
    rows.append(
        (
            "% of actors: daemon.flags.enabled(flag, actor) vs dict.get",
            per_op(a, SHORT),
            per_op(b, SHORT),
            None,
            "us",
        )
    )

    fresh = [f"fresh-{n}" for n in range(EVALS)]  # every actor new: each evaluation hashes

    def cold() -> None:
        for actor in fresh:
            server.enabled("split", actor)

    def cold_baseline() -> None:
        for actor in fresh:
            lookup(actor)

    a, b = paired(cold, cold_baseline, rounds=ROUNDS)
    rows.append(("% of actors, every actor new, vs dict.get", per_op(a, EVALS), per_op(b, EVALS), None, "us"))

    unleash = _unleash(arbord_split)
    if unleash is not None:
        rows.append(unleash)
    rows.extend(_openfeature(flags))
    await flags.stop()
    return rows


def _unleash(arbord_split_us: float) -> tuple[str, float, float, float | None, str] | None:
    """arbord's percentage-of-actors evaluation against ``UnleashClient`` with a local definition;
    None when the ``bench`` extra is not installed."""
    try:  # the bench extra; imported by name so type-checking needs no stubs for it
        UnleashClient = importlib.import_module("UnleashClient").UnleashClient
        FileCache = importlib.import_module("UnleashClient.cache").FileCache
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as directory:
        cache = FileCache("arbord-bench", directory=directory)
        strategy = {"rollout": "50", "stickiness": "userId", "groupId": "split"}
        cache.bootstrap_from_dict(
            {
                "version": 1,
                "features": [
                    {
                        "name": "split",
                        "enabled": True,
                        "strategies": [{"name": "flexibleRollout", "parameters": strategy}],
                    }
                ],
            }
        )
        client = UnleashClient(
            url="http://127.0.0.1:9",  # never reached: no fetch, no metrics, no registration
            app_name="arbord-bench",
            disable_metrics=True,
            disable_registration=True,
            cache=cache,
        )
        client.initialize_client(fetch_toggles=False)
        try:
            agree = all(
                client.is_enabled("split", {"userId": a}) is (normalized("split", a) <= 50) for a in ACTORS
            )
            if not agree:
                raise AssertionError("UnleashClient's buckets differ from arbord's")
            contexts = [{"userId": a} for a in ACTORS] * (UNLEASH_EVALS // len(ACTORS))
            started = time.perf_counter()
            for context in contexts:
                client.is_enabled("split", context)
            unleash_us = per_op(time.perf_counter() - started, len(contexts))
        finally:
            client.destroy()
    return ("% of actors: arbord vs UnleashClient (local)", arbord_split_us, unleash_us, None, "us")


def _openfeature(flags: Flags) -> Measured:
    """``get_boolean_value`` through the SDK: ``ArbordProvider`` against ``InMemoryProvider``."""
    try:
        from openfeature import api
        from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider

        from daemon.flags.openfeature_provider import ArbordProvider
    except ImportError:
        return []
    evals = OPENFEATURE_EVALS
    api.set_provider_and_wait(
        InMemoryProvider({"on": InMemoryFlag("on", {"on": True, "off": False})}), "memory"
    )
    api.set_provider_and_wait(ArbordProvider(flags), "arbord")
    try:
        memory = api.get_client("memory").get_boolean_value
        arbord = api.get_client("arbord").get_boolean_value
        a, b = short_paired(
            _loop_over(["on"] * evals, arbord, False),
            _loop_over(["on"] * evals, memory, False),
            rounds=OPENFEATURE_ROUNDS,
        )
    finally:
        api.shutdown()
    return [
        ("OpenFeature get_boolean_value vs InMemoryProvider", per_op(a, evals), per_op(b, evals), 1.1, "us")
    ]


async def _durable_writes() -> Measured:
    """Writes and the fsync floor in alternation (one of each per round), so the disk's moods hit
    both; on the state directory's disk when it is set (where the daemon writes), else /var/tmp.
    Also the SQLite commit alone, on the store's thread (what the write costs without its two
    thread hops and the server's call), to show where the time goes."""
    root = Path(os.environ.get("STATE_DIRECTORY") or "/var/tmp")
    with tempfile.TemporaryDirectory(dir=root) as directory:
        store = await SqliteStore.open(Path(directory) / "flags.db")
        commits: list[float] = []
        commit = store._commit_on_thread

        def timed_commit(changes: Any) -> int:
            started = time.perf_counter()
            try:
                return commit(changes)
            finally:
                commits.append(time.perf_counter() - started)

        store._commit_on_thread = timed_commit  # type: ignore[method-assign]
        flags = await Flags.start(FlagsSettings.model_validate({"beta": {}}), store=store)
        writes, floors = [], []
        with (Path(directory) / "fsync-floor").open("ab") as floor:
            for n in range(WRITES):
                started = time.perf_counter()
                await flags.enable("beta", for_actor=f"user-{n % 50}")
                writes.append(time.perf_counter() - started)
                started = time.perf_counter()
                floor.write(b"x" * 200)  # about what one change appends to the WAL
                floor.flush()
                os.fsync(floor.fileno())
                floors.append(time.perf_counter() - started)
        await flags.stop()
    median = statistics.median
    write_ms, floor_ms, commit_ms = median(writes) * 1e3, median(floors) * 1e3, median(commits) * 1e3
    return [
        ("durable write (SQLite, FULL) vs the raw fsync floor", write_ms, floor_ms, None, "ms"),
        ("SQLite commit on its thread vs the raw fsync floor", commit_ms, floor_ms, None, "ms"),
        ("the raw fsync floor vs the 2 ms budget", floor_ms, WRITE_BUDGET_MS, None, "ms"),
        ("durable write (SQLite, FULL) vs the 2 ms budget", write_ms, WRITE_BUDGET_MS, 1.0, "ms"),
    ]


async def _measure(writes: bool) -> Measured:
    rows = await _evaluation()
    if writes:
        rows += await _durable_writes()
    return rows


def run(loop_name: str) -> list[Row]:
    # The disk does not depend on the loop: the durable writes are measured once, on the default loop.
    measured = run_on(loop_name, _measure(writes=loop_name == "asyncio"))
    return [Row("flags", name, loop_name, a, b, unit, target) for name, a, b, target, unit in measured]
