"""Benchmarks of the registry and sampled events behind their ``otp_cleanup`` flags
(daemon/registry/switched.py, daemon/telemetry/switched_events.py): each component's supervised path
against its legacy path (the module-global dicts of ``daemon/legacy/``), measured in the same run
through the same switched interface, the flag flipped between alternating rounds; then what the
switch itself costs on the supervised path (the per-call flag read and the second path's check)
against calling that path directly.

- a registry ``lookup`` of a present key, and a ``register`` + ``unregister`` cycle (three indexed
  attributes in the metadata);
- ``emit_once_per`` of a key inside its window (the common case: suppressed), and a ``batch`` add;
- the flag read, ``use_supervised(flag)`` against the flags server's ``enabled(flag)`` it wraps.

The legacy path is a dict: the supervised path does more per call (the owner's liveness in C, the
indexes, the monitors; the accounting and the sampler of sampled events), so it is expected to be
slower here, within the targets; docs/performance.md says where and why.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable
from typing import Any

from bench.harness import Row, median_time, paired, per_op
from bench.loops import run_on
from daemon.flags import Flags, MemoryStore
from daemon.flags.binding import FLAGS_NAME
from daemon.flags.config import FlagsSettings
from daemon.flags.migration.backend import use_supervised
from daemon.legacy import registry as legacy_registry
from daemon.legacy import sampled_events as legacy_events
from daemon.registry import Registry
from daemon.registry.switched import REGISTRY_FLAG, SwitchedRegistry
from daemon.telemetry import events
from daemon.telemetry.hub import SERVER_NAME
from daemon.telemetry.server import TelemetryServer
from daemon.telemetry.switched_events import SAMPLED_EVENTS_FLAG, batch, emit_once_per

KEYS = 1_000
LOOKUPS = 100_000
CYCLES = 20_000
EMITS = 100_000
ROUNDS = 9
NAME = "bench.switched.registry"
EVENT = ("bench", "switched", "boot")
BATCH = ("bench", "switched", "work")
METADATA = {"capability": "search", "node": "n1", "health_status": "ok"}


async def _alternate(
    flip: Callable[[bool], Awaitable[object]], run: Callable[[], object], n: int
) -> tuple[float, float]:
    """Median µs per op of ``run`` on the supervised path and on the legacy one, alternating rounds."""
    supervised, legacy = [], []
    for _ in range(ROUNDS):
        await flip(False)
        legacy.append(median_time(run, repeat=1))
        await flip(True)
        supervised.append(median_time(run, repeat=1))
    return per_op(statistics.median(supervised), n), per_op(statistics.median(legacy), n)


async def _measure() -> list[tuple[str, float, float, float]]:
    flags = await Flags.start(FlagsSettings(store="memory"), store=MemoryStore(), name=FLAGS_NAME)
    registry = await Registry.start(name=NAME)
    telemetry_server = await TelemetryServer.start(name=SERVER_NAME)
    owner = asyncio.create_task(asyncio.Event().wait())
    switched = SwitchedRegistry(NAME)
    rows: list[tuple[str, float, float, float]] = []
    try:

        def flipper(flag: str) -> Callable[[bool], Awaitable[object]]:
            async def flip(on: bool) -> None:
                await (flags.enable(flag) if on else flags.disable(flag))

            return flip

        keys = [f"agent-{n}" for n in range(KEYS)]
        probes = keys * (LOOKUPS // KEYS)

        async def flip_registry(on: bool) -> None:
            await flipper(REGISTRY_FLAG)(on)
            for key in keys:  # the keys on the path being measured
                switched.unregister(key)
            for key in keys:
                switched.register(key, owner, METADATA)

        lookup = switched.lookup

        def lookups() -> None:
            for key in probes:
                lookup(key)

        rows.append(
            (
                "registry lookup (hit), supervised vs legacy path",
                *await _alternate(flip_registry, lookups, LOOKUPS),
                3.0,
            )
        )
        cycle_keys = [f"cycle-{n}" for n in range(CYCLES)]

        def cycles() -> None:
            register, unregister = switched.register, switched.unregister
            for key in cycle_keys:
                register(key, owner, METADATA)
                unregister(key)

        rows.append(
            (
                "registry register + unregister, supervised vs legacy path",
                *await _alternate(flipper(REGISTRY_FLAG), cycles, CYCLES),
                6.0,
            )
        )
        await flipper(REGISTRY_FLAG)(True)
        direct = registry.lookup

        def direct_lookups() -> None:
            for key in probes:
                direct(key)

        a, b = paired(lookups, direct_lookups, rounds=ROUNDS)
        rows.append(
            (
                "the switch on lookup: switched (supervised) vs Registry.lookup",
                per_op(a, LOOKUPS),
                per_op(b, LOOKUPS),
                40.0,
            )
        )

        emit_once_per(EVENT, 3600.0, None, {"k": 1})

        def emits() -> None:
            for _ in range(EMITS):
                emit_once_per(EVENT, 3600.0, None, {"k": 1})

        rows.append(
            (
                "emit_once_per (suppressed), supervised vs legacy path",
                *await _alternate(flipper(SAMPLED_EVENTS_FLAG), emits, EMITS),
                3.0,
            )
        )

        def batches() -> None:
            for n in range(EMITS):
                batch(BATCH, n, 100, 3600.0)

        rows.append(
            (
                "batch add, supervised vs legacy path",
                *await _alternate(flipper(SAMPLED_EVENTS_FLAG), batches, EMITS),
                3.0,
            )
        )
        await flipper(SAMPLED_EVENTS_FLAG)(True)

        def direct_emits() -> None:
            for _ in range(EMITS):
                events.emit_once_per(EVENT, 3600.0, None, {"k": 1})

        a, b = paired(emits, direct_emits, rounds=ROUNDS)
        rows.append(
            (
                "the switch on emit_once_per: switched vs events.emit_once_per",
                per_op(a, EMITS),
                per_op(b, EMITS),
                2.0,
            )
        )
        enabled = flags.enabled

        def reads() -> None:
            for _ in range(EMITS):
                use_supervised(REGISTRY_FLAG)

        def bare_reads() -> None:
            for _ in range(EMITS):
                enabled(REGISTRY_FLAG)

        a, b = paired(reads, bare_reads, rounds=ROUNDS)
        rows.append(
            ("the flag read: use_supervised vs Flags.enabled", per_op(a, EMITS), per_op(b, EMITS), 6.0)
        )
    finally:
        owner.cancel()
        await asyncio.gather(owner, return_exceptions=True)
        await telemetry_server.stop()
        await registry.stop()
        await flags.stop()
        legacy_registry.clear()
        legacy_events.clear()
    return rows


def run(loop_name: str) -> list[Row]:
    return [
        Row("switched", name, loop_name, arbord, baseline, "us", target)
        for name, arbord, baseline, target in run_on(loop_name, _measure())
    ]


def _unused(*_: Any) -> None: ...
