"""The flags' durability against a model, through random steps (hypothesis, stateful): writes of every
gate kind, compare-and-set writes that win or lose, and crashes that discard the server's memory and
start a new server on the same SQLite file.

The model holds what was acknowledged: a write's new state once its call returned, nothing for a
write that was refused (a lost compare-and-set). After every step the server in force answers
exactly the model's state for every flag, and after a crash the state reloaded from disk is the
acknowledged one (the reliability matrix's "nothing lost" for flags: every acknowledged write
survives, the store is never half-written).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import uvloop
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from daemon.flags import Flags, FlagState, GateKind, GateOp
from daemon.flags.config import FlagsSettings
from daemon.flags.errors import RevisionConflict
from daemon.flags.gates import apply
from daemon.flags.sqlite_store import SqliteStore

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
FLAGS = st.sampled_from(["alpha", "beta", "gamma"])
ACTORS = st.sampled_from(["ann", "bob"])
OPS = st.one_of(
    st.builds(GateOp.enable),
    st.builds(GateOp.disable),
    st.builds(lambda a: GateOp.enable(for_actor=a), ACTORS),
    st.builds(lambda a: GateOp.disable(for_actor=a), ACTORS),
    st.builds(lambda g: GateOp.enable(for_group=g), st.just("staff")),
    st.builds(lambda p: GateOp.percentage(p), st.sampled_from([0.0, 25.0, 100.0])),
    st.builds(lambda p: GateOp.percentage(p, of="actors"), st.sampled_from([10.0, 50.0])),
    st.builds(lambda k: GateOp.clear(k), st.sampled_from([None, GateKind.BOOLEAN, GateKind.ACTOR])),
)


class FlagsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.runner: asyncio.Runner | None = None
        self.directory = TemporaryDirectory()
        self.path = Path(self.directory.name) / "flags.db"
        self.acknowledged: dict[str, FlagState] = {}
        self.revisions: dict[str, int] = {}
        self.crashes = 0

    def _run(self, awaitable: Any) -> Any:
        assert self.runner is not None
        return self.runner.run(awaitable)

    async def _start(self) -> Flags:
        store = await SqliteStore.open(self.path)
        return await Flags.start(FlagsSettings(), store=store)

    @initialize(loop=st.sampled_from(sorted(LOOPS)))
    def start(self, loop: str) -> None:
        self.runner = asyncio.Runner(loop_factory=LOOPS[loop])
        self.flags: Flags = self._run(self._start())

    def teardown(self) -> None:
        if self.runner is not None:
            if self.flags.alive:
                self._run(self.flags.stop())
            self.runner.close()
        self.directory.cleanup()

    @rule(flag=FLAGS, op=OPS)
    def write(self, flag: str, op: GateOp) -> None:
        record = self._run(self.flags.write(flag, op, create=True))
        old = self.acknowledged.get(flag, FlagState(flag))
        self.acknowledged[flag] = apply(old, op)
        self.revisions[flag] = record.revision

    @rule(flag=FLAGS, op=OPS, stale=st.booleans())
    def compare_and_set(self, flag: str, op: GateOp, stale: bool) -> None:
        """A write that names the flag's revision wins; one that names an older revision changes
        nothing (it is not acknowledged)."""
        in_force = self.revisions.get(flag, 0)
        expected = in_force - 1 if stale and in_force > 0 else in_force

        async def attempt() -> RevisionConflict | None:
            try:
                record = await self.flags.write(flag, op, create=True, if_revision=expected)
            except RevisionConflict as conflict:
                return conflict
            self.revisions[flag] = record.revision
            return None

        conflict = self._run(attempt())
        if expected != in_force:
            assert conflict is not None
            assert (conflict.expected, conflict.revision) == (expected, in_force)
        else:
            assert conflict is None
            self.acknowledged[flag] = apply(self.acknowledged.get(flag, FlagState(flag)), op)

    @rule()
    def crash(self) -> None:
        """Kill the server (no terminate, nothing flushed by it) and start a new one on the same file:
        its memory is what it reloads from disk."""

        async def crash_and_reload() -> Flags:
            self.flags.kill()
            await self.flags.wait()
            return await self._start()

        self.flags = self._run(crash_and_reload())
        self.crashes += 1

    @invariant()
    def the_state_in_force_is_the_acknowledged_one(self) -> None:
        if self.runner is None:
            return
        for flag, state in self.acknowledged.items():
            assert self.flags.state(flag) == state, (flag, self.crashes)


FlagsMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    report_multiple_bugs=False,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
TestFlagsModel = FlagsMachine.TestCase
