"""Benchmarks of the migrations' signals: what an outcome event costs once MigrationControl listens.

The handler runs in the emitting task (no mailbox hop): it counts the request for the stage in
force and, for a guarded flag on a 50 % rollout, asks the flag's own evaluation which arm served the
actor and counts it there. The baseline is the least a hand-rolled arm counter does on the same
emit: the cheapest handler, then the flag's evaluation for the actor and one counter increment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.harness import Row, paired, per_op
from bench.loops import run_on
from daemon.flags import Flags, MemoryStore
from daemon.flags.config import FlagsSettings
from daemon.flags.migration.config import MigrationSettings, plans
from daemon.flags.migration.control import MigrationControl
from daemon.flags.migration.port import ServerFlags
from supervisor import telemetry

OPS = 50_000
ROUNDS = 11
EVENT: telemetry.EventName = ("bench", "migration", "checkout")
ACTORS = [f"user-{n}" for n in range(1000)]


def _cheapest(event: Any, measurements: Any, metadata: Any, config: Any) -> None:
    """The handler of the baseline: nothing."""


def _emits(n: int) -> None:
    execute, ev, actors = telemetry.execute, EVENT, ACTORS
    for i in range(n):
        execute(ev, {"duration": 0.001}, {"actor": actors[i % 1000], "error": False})


def _by_hand(enabled: Callable[[str, str], bool], counts: dict[bool, int]) -> Callable[[int], None]:
    def run(n: int) -> None:
        execute, ev, actors = telemetry.execute, EVENT, ACTORS
        for i in range(n):
            actor = actors[i % 1000]
            execute(ev, {"duration": 0.001}, {"actor": actor, "error": False})
            arm = enabled("new_checkout", actor)
            counts[arm] = counts.get(arm, 0) + 1

    return run


def _paired(arbord: Callable[[int], None], baseline: Callable[[int], None], n: int) -> tuple[float, float]:
    a, b = paired(lambda: arbord(n), lambda: baseline(n), rounds=ROUNDS)
    return per_op(a, n), per_op(b, n)


async def _measure() -> list[tuple[str, float, float, float]]:
    flags = await Flags.start(
        FlagsSettings.model_validate({"store": "memory", "new_checkout": {}}), store=MemoryStore()
    )
    await flags.set_percentage("new_checkout", 50.0, of="actors")
    settings = MigrationSettings.model_validate(
        {"events": ["bench.migration.checkout"], "guarded": ["new_checkout"]}
    )
    control = await MigrationControl.start(settings, plans(settings), ServerFlags(lambda: flags), timer=False)
    try:
        # Each side is measured with its own handler on the event: MigrationControl's, or the cheapest.
        (ours,) = telemetry.list_handlers(EVENT)
        telemetry.detach(ours.id)

        def swap(attach: telemetry.Handler | None) -> None:
            for handler in telemetry.list_handlers(EVENT):
                telemetry.detach(handler.id)
            if attach is None:
                telemetry.attach("bench-cheapest", EVENT, _cheapest)
            else:
                telemetry.attach(attach.id, EVENT, attach.function, attach.config)

        counts: dict[bool, int] = {}
        by_hand = _by_hand(flags.enabled, counts)

        def arbord(n: int) -> None:
            swap(ours)
            _emits(n)

        def baseline(n: int) -> None:
            swap(None)
            by_hand(n)

        emit = _paired(arbord, baseline, OPS)
        for handler in telemetry.list_handlers(EVENT):
            telemetry.detach(handler.id)
        telemetry.attach(ours.id, EVENT, ours.function, ours.config)  # detached again by its stop
    finally:
        await control.stop()
        await flags.stop()
    return [("outcome event, MigrationControl counting arms vs counting by hand", *emit, 4.0)]


def run(loop_name: str) -> list[Row]:
    return [
        Row("migration", name, loop_name, arbord, baseline, "us", target)
        for name, arbord, baseline, target in run_on(loop_name, _measure())
    ]
