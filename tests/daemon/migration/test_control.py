"""MigrationControl with a manual clock and synthetic telemetry: moves, verdicts, automatic rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from daemon.flags import ChangeRecord, Flags, MemoryStore, StoreFailed, flags_server
from daemon.flags.config import FlagsSettings
from daemon.flags.migration.config import MigrationSettings, plans
from daemon.flags.migration.control import (
    ALERT,
    Advance,
    EmergencyRollback,
    History,
    MigrationControl,
    Rollback,
    Status,
    Tick,
    Why,
    ask,
)
from daemon.flags.migration.errors import CoolingDown, NotReady, SkippedStage, StageOutOfRange, UnknownPlan
from daemon.flags.migration.port import AUTO_ROLLBACK, ServerFlags
from supervisor import NoProc, Server, call, telemetry
from supervisor.testing import ManualClock, capture

EVENT = ("shop", "checkout")
PLAN = {"stages": [{"name": "one", "flags": ["a"]}, {"name": "two", "flags": ["b"]}]}


def emit(count: int, *, errors: int = 0, actor: str | None = None, duration: float | None = None) -> None:
    for n in range(count):
        measurements = {} if duration is None else {"duration": duration}
        telemetry.execute(EVENT, measurements, {"actor": actor or f"user-{n}", "error": n < errors})


class Harness:
    """A real flags server on a memory store, and MigrationControl's view of it."""

    def __init__(self, server: Flags, store: MemoryStore) -> None:
        self.server, self.store, self.port = server, store, ServerFlags(lambda: server)

    @property
    def gates(self) -> dict[str, bool]:
        return {flag: self.port.enabled(flag) for flag in ("a", "b")}

    async def writes(self) -> list[ChangeRecord]:
        return list(await self.store.history())

    def enabled(self, flag: str, actor: str) -> bool:
        return self.server.enabled(flag, actor)


async def start(flags: Harness, manual_clock: ManualClock, **overrides: Any) -> MigrationControl:
    settings = MigrationSettings.model_validate(
        {"events": ["shop.checkout"], "plans": {"p": PLAN}, **overrides}
    )
    return await MigrationControl.start(
        settings, plans(settings, {"a", "b"}), flags.port, manual_clock, timer=False
    )


@pytest.fixture
async def flags() -> AsyncIterator[Harness]:
    store = MemoryStore()
    settings = FlagsSettings.model_validate({"store": "memory", "a": {}, "b": {}, "new_checkout": {}})
    server = await Flags.start(settings, store=store)
    yield Harness(server, store)
    await server.stop()


async def test_moves_write_every_flag_of_the_plan_as_the_caller(
    flags: Harness, manual_clock: ManualClock
) -> None:
    control = await start(flags, manual_clock)
    try:
        assert (await ask(control, Advance("p", "alice")))["to"] == 1
        assert (await ask(control, Advance("p", "alice", to=2)))["to"] == 2
        assert flags.gates == {"a": True, "b": True}
        with capture(ALERT) as alerts:
            assert (await ask(control, Rollback("p", 0, "bob", "by hand")))["to"] == 0
        assert flags.gates == {"a": False, "b": False}
        assert [r.change.actor for r in await flags.writes()] == ["alice"] * 4 + ["bob"] * 2
        assert alerts[0].metadata["alert_type"] == "rollback"
        history = await ask(control, History("p"))
        assert [(h["kind"], h["from"], h["to"]) for h in history] == [
            ("rollback", 2, 0),
            ("advance", 1, 2),
            ("advance", 0, 1),
        ]
    finally:
        await control.stop()


async def test_bad_requests_change_nothing(flags: Harness, manual_clock: ManualClock) -> None:
    control = await start(flags, manual_clock, cooldown=60.0)
    try:
        with pytest.raises(UnknownPlan):
            await ask(control, Advance("nope", "alice"))
        with pytest.raises(SkippedStage):
            await ask(control, Advance("p", "alice", to=2))
        with pytest.raises(StageOutOfRange):
            await ask(control, Rollback("p", 7, "alice"))
        await ask(control, Advance("p", "alice"))
        await ask(control, EmergencyRollback("p", "pager", "alice"))
        writes = len(await flags.writes())
        with pytest.raises(CoolingDown):
            await ask(control, Advance("p", "alice"))
        assert len(await flags.writes()) == writes
        assert (await ask(control, Status("p")))["plans"]["p"]["stage"] == 0
        manual_clock.advance(60.0)
        assert (await ask(control, Advance("p", "alice")))["to"] == 1
    finally:
        await control.stop()


async def test_a_refused_write_leaves_the_position(flags: Harness, manual_clock: ManualClock) -> None:
    control = await start(flags, manual_clock)
    try:
        flags.store.fail_next = 1
        with pytest.raises(StoreFailed):
            await ask(control, Advance("p", "alice"))
        assert (await ask(control, Status("p")))["plans"]["p"]["stage"] == 0
    finally:
        await control.stop()


async def test_the_position_is_read_back_from_the_flags_on_start(
    flags: Harness, manual_clock: ManualClock
) -> None:
    await flags.server.enable("a")
    await flags.server.disable("b")
    control = await start(flags, manual_clock)
    try:
        assert (await ask(control, Status("p")))["plans"]["p"]["stage"] == 1
    finally:
        await control.stop()


async def judge(
    control: Server, manual_clock: ManualClock, ticks: int, per_tick: int, errors: int
) -> list[dict[str, str]]:
    """``ticks`` rounds of ten seconds, each with ``per_tick`` outcomes of which ``errors`` fail."""
    decisions = []
    for _ in range(ticks):
        manual_clock.advance(10.0)
        emit(per_tick, errors=errors)
        decisions.append(await ask(control, Tick()))
    return decisions


async def test_a_failing_stage_is_rolled_back_with_its_numbers(
    flags: Harness, manual_clock: ManualClock
) -> None:
    control = await start(flags, manual_clock)
    try:
        emit(200)  # the baseline: healthy
        manual_clock.advance(30.0)
        await ask(control, Advance("p", "alice"))
        with capture(ALERT) as alerts:
            await judge(control, manual_clock, ticks=8, per_tick=20, errors=4)  # 20 % errors against 0 %
        assert flags.gates == {"a": False, "b": False}
        auto = (await flags.writes())[-1].change
        assert auto.actor == AUTO_ROLLBACK
        assert auto.reason is not None
        assert "error_rate" in auto.reason
        assert "0.2" in auto.reason
        assert alerts[0].metadata["alert_type"] == "auto_rollback"
        why = await ask(control, Why())
        assert why["last_rollback"]["to"] == 0
        assert why["last_rollback"]["numbers"]["outcome"] == "fail"
        # Nothing re-enables: more ticks, no more writes, and advancing waits for the cool-down.
        writes = len(await flags.writes())
        await judge(control, manual_clock, ticks=5, per_tick=20, errors=0)
        assert len(await flags.writes()) == writes
        with pytest.raises(CoolingDown):
            await ask(control, Advance("p", "alice"))
    finally:
        await control.stop()


async def test_three_requests_are_not_a_sample(flags: Harness, manual_clock: ManualClock) -> None:
    control = await start(flags, manual_clock)
    try:
        await ask(control, Advance("p", "alice"))
        decisions = await judge(control, manual_clock, ticks=30, per_tick=0, errors=0)
        emit(3, errors=3)
        decisions += await judge(control, manual_clock, ticks=30, per_tick=0, errors=0)
        assert all(d["p"] != "rollback" for d in decisions)
        assert decisions[-1]["p"] == "pause"
        assert flags.gates["a"] is True
        with pytest.raises(NotReady, match="paused on inconclusive"):
            await ask(control, Advance("p", "alice"))
    finally:
        await control.stop()


async def test_dry_run_only_reports(flags: Harness, manual_clock: ManualClock) -> None:
    control = await start(flags, manual_clock, dry_run=True)
    try:
        emit(200)
        await ask(control, Advance("p", "alice"))
        await judge(control, manual_clock, ticks=8, per_tick=20, errors=10)
        assert flags.gates["a"] is True
        assert len(await flags.writes()) == 2  # the advance's two flags, nothing since
        kinds = {h["kind"] for h in await ask(control, History("p"))}
        assert "would_roll_back" in kinds
    finally:
        await control.stop()


async def rollout(
    flags: Harness, manual_clock: ManualClock, *, treatment_fails: bool, control_fails: bool
) -> MigrationControl:
    await flags.server.set_percentage("new_checkout", 50.0, of="actors")
    control = await start(flags, manual_clock, guarded=["new_checkout"])
    for tick in range(10):
        manual_clock.advance(10.0)
        for n in range(40):
            actor = f"user-{n}"
            treated = flags.enabled("new_checkout", actor)
            error = (treatment_fails and treated) or (control_fails and not treated)
            telemetry.execute(EVENT, {}, {"actor": actor, "error": error and (tick + n) % 2 == 0})
        await ask(control, Tick())
    return control


async def test_a_rollout_failing_in_its_treatment_arm_is_rolled_back(
    flags: Harness, manual_clock: ManualClock
) -> None:
    control = await rollout(flags, manual_clock, treatment_fails=True, control_fails=False)
    try:
        state = flags.server.state("new_checkout")
        assert state is not None
        assert state.percentage is None
        assert state.boolean is False
        assert not any(flags.enabled("new_checkout", f"user-{n}") for n in range(100))
        last = (await flags.writes())[-2:]
        assert [r.change.actor for r in last] == [AUTO_ROLLBACK, AUTO_ROLLBACK]
        assert [r.change.op.verb for r in last] == ["clear", "disable"]
    finally:
        await control.stop()


async def test_a_fault_in_both_arms_is_not_blamed_on_the_flag(
    flags: Harness, manual_clock: ManualClock
) -> None:
    control = await rollout(flags, manual_clock, treatment_fails=True, control_fails=True)
    try:
        assert flags.port.percentage("new_checkout") == 50.0
        assert len(await flags.writes()) == 1  # the rollout's own
        why = await ask(control, Why("new_checkout"))
        assert why["judged"]["new_checkout"]["decision"] == "continue"
        assert why["judged"]["new_checkout"]["last"]["outcome"] == "pass"
    finally:
        await control.stop()


class Worker(Server):
    """Serves one actor per call: emits the outcome event, then crashes if told to."""

    async def handle_call(self, request: Any, caller: Any) -> Any:
        actor, crash = request
        telemetry.execute(EVENT, {}, {"actor": actor, "error": False})
        if crash:
            raise RuntimeError(f"crashed serving {actor}")
        return "ok"


async def test_a_crash_is_charged_to_the_arm_the_server_last_served(
    flags: Harness, manual_clock: ManualClock
) -> None:
    await flags.server.set_percentage("new_checkout", 50.0, of="actors")
    control = await start(flags, manual_clock, guarded=["new_checkout"])
    try:
        treated = next(f"user-{n}" for n in range(100) if flags.enabled("new_checkout", f"user-{n}"))
        untreated = next(f"user-{n}" for n in range(100) if not flags.enabled("new_checkout", f"user-{n}"))
        for actor in (treated, untreated, treated):
            worker = await Worker.start()
            with pytest.raises(Exception, match="crashed"):
                await call(worker, (actor, True))
            await worker.wait()
        signals = control._signals  # the table the handlers fill
        treatment = signals.sample("new_checkout", "treatment", window=60.0, since=0.0)
        control_arm = signals.sample("new_checkout", "control", window=60.0, since=0.0)
        assert (treatment.crashes, control_arm.crashes) == (2, 1)
        assert signals.sample("all", "all", window=60.0, since=0.0).crashes == 3
    finally:
        await control.stop()


async def test_a_killed_server_leaves_no_handler_behind(flags: Harness, manual_clock: ManualClock) -> None:
    control = await start(flags, manual_clock, guarded=["new_checkout"])
    assert telemetry.list_handlers(("server", "exit"))
    control.kill()
    await control.wait()
    assert not [h for h in telemetry.list_handlers(()) if h.id.startswith("arbord.migration")]


async def test_without_the_flags_server_it_keeps_its_handlers_and_refuses_moves(
    manual_clock: ManualClock,
) -> None:
    settings = FlagsSettings.model_validate({"store": "memory", "a": {}, "b": {}, "new_checkout": {}})
    server = await Flags.start(settings, store=MemoryStore(), name="arbord.flags")
    await server.set_percentage("new_checkout", 50.0, of="actors")
    port = ServerFlags(flags_server)
    migration = MigrationSettings.model_validate(
        {"events": ["shop.checkout"], "plans": {"p": PLAN}, "guarded": ["new_checkout"]}
    )
    control = await MigrationControl.start(
        migration, plans(migration, {"a", "b"}), port, manual_clock, timer=False
    )
    try:
        await server.stop()
        emit(10, errors=5)  # the handler finds no flags server: it counts the stage, not the arms
        assert [h.id for h in telemetry.list_handlers(EVENT) if h.id.startswith("arbord.migration")]
        assert await ask(control, Tick()) == {}
        with pytest.raises(NoProc):
            await ask(control, Advance("p", "alice"))
        assert control._signals.sample("all", "all", window=60.0, since=0.0).requests == 10
    finally:
        await control.stop()


async def test_a_fresh_daemons_stage_is_not_judged(manual_clock: ManualClock) -> None:
    # A plan whose flags are on by their declared defaults reads as a stage (otp_cleanup's 3 on a
    # fresh daemon) but nobody began it: it is not judged, so nothing rolls it back on its own.
    # Once a move writes its flags, a restart judges it again.
    store = MemoryStore()
    declared = {"a": {"default": True}, "b": {"default": False}}
    server = await Flags.start(FlagsSettings.model_validate({"store": "memory", **declared}), store=store)
    harness = Harness(server, store)
    try:
        control = await start(harness, manual_clock)
        status = await ask(control, Status("p"))
        assert status["plans"]["p"]["stage"] == 1
        assert (await ask(control, Why("p")))["judged"] == {}
        await ask(control, Rollback("p", 0, "alice"))
        await control.stop()
        await server.enable("a", actor="alice")
        control = await start(harness, manual_clock)
        assert list((await ask(control, Why("p")))["judged"]) == ["p"]
        await control.stop()
    finally:
        await server.stop()


async def test_status_says_which_path_serves_each_migrated_component(manual_clock: ManualClock) -> None:
    declared = {"a": {}, "b": {}, "use_ets_sampled_events": {"default": False}}
    server = await Flags.start(
        FlagsSettings.model_validate({"store": "memory", **declared}), store=MemoryStore()
    )
    try:
        await server.set_percentage("use_ets_agent_registry", 25.0, of="actors")
        control = await start(Harness(server, MemoryStore()), manual_clock)
        components = {c["component"]: c for c in (await ask(control, Status("p")))["components"]}
        assert {name: (c["backend"], c["percentage"]) for name, c in components.items()} == {
            "registry": ("split", 25.0),
            "error_context": ("supervised", None),
            "span_management": ("supervised", None),
            "sampled_events": ("legacy", None),
        }
        await control.stop()
    finally:
        await server.stop()
