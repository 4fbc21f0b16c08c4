"""``MigrationControl``: the supervised server that moves plans, judges them, and rolls back.

It is registered as ``arbord.migration`` in the flags component's tree. It owns the windowed counts
(``Signals``) its telemetry handlers fill in the emitting task, each plan's position, and one
``Judgement`` per subject (a plan's stage in force, a guarded flag's percentage rollout). Every
``interval`` seconds (its own timer, restarted with it) it measures each subject and folds the
measurement into the judgement; a ``ROLLBACK`` decision becomes an ordinary audited write through
the flags server by the actor ``auto-rollback``, with the failed checks' numbers as its reason,
logged and announced with ``("arbord", "migration", "alert")``.

A plan's position is read back from the flags in force when the server starts (``plan.stage_of``),
so a restart of this server, or of the daemon, keeps every plan where it was; what it forgets is the
windows, the judgements, and a running cool-down.

Requests are frozen records (``Status``, ``Advance``, ``Rollback``, ``EmergencyRollback``,
``History``, ``Why``, ``Tick``), sent with ``supervisor.call(MIGRATION_NAME, request)``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from daemon.errors import ConfigError
from daemon.flags.migration.components import MIGRATED
from daemon.flags.migration.config import MigrationSettings, event_name
from daemon.flags.migration.errors import MigrationError, UnknownPlan
from daemon.flags.migration.plan import MigrationPlan
from daemon.flags.migration.port import AUTO_ROLLBACK, FlagsPort
from daemon.flags.migration.signals import ALL, CONTROL, TREATMENT, Signals, on_exit, on_outcome
from daemon.flags.migration.steps import (
    Kind,
    Position,
    Readiness,
    Transition,
    advance,
    emergency_rollback,
    rollback,
)
from daemon.flags.migration.verdict import (
    ABSOLUTE,
    Comparison,
    Decision,
    Judgement,
    Rule,
    Sample,
    decide,
    measure,
    summary,
)
from supervisor import ArbordError, Caller, NoProc, Server, call, telemetry
from supervisor.errors import HandlerNotFound
from supervisor.lowlevel import Clock, MonotonicClock, add_exit_callback

__all__ = [
    "ALERT",
    "MIGRATION_NAME",
    "Advance",
    "EmergencyRollback",
    "History",
    "MigrationControl",
    "Rollback",
    "Status",
    "Tick",
    "Why",
    "ask",
]

log = logging.getLogger("arbord.migration")

MIGRATION_NAME: Final = "arbord.migration"
ALERT: Final = ("arbord", "migration", "alert")
"""Announced on every rollback, automatic or requested (Foundation's alert event)."""
_HISTORY_KEPT: Final = 500
_TICK: Final = "tick"


@dataclass(frozen=True, slots=True)
class Status:
    """Every plan's position and stages, or one plan's."""

    plan: str | None = None


@dataclass(frozen=True, slots=True)
class Advance:
    plan: str
    actor: str
    to: int | None = None


@dataclass(frozen=True, slots=True)
class Rollback:
    plan: str
    to: int
    actor: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class EmergencyRollback:
    plan: str
    reason: str
    actor: str


@dataclass(frozen=True, slots=True)
class History:
    """The newest ``limit`` events, newest first (of one plan or flag, or all)."""

    subject: str | None = None
    limit: int = 20


@dataclass(frozen=True, slots=True)
class Why:
    """The judgements with their numbers: of one plan or guarded flag, or all."""

    subject: str | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    """Measure and judge now (the timer sends it; tests call it with a manual clock)."""


@dataclass(frozen=True, slots=True)
class _Refused:
    """The reply to a refused request: ``ask`` raises the error in the caller."""

    error: Exception


async def ask(server: Server | str, request: object, timeout: float = 5.0) -> Any:
    """Send ``request`` to MigrationControl and return its reply; a refusal is raised here, in the
    caller, as the error the server met (the server itself carries on)."""
    reply = await call(server, request, timeout)
    if isinstance(reply, _Refused):
        raise reply.error
    return reply


@dataclass(slots=True)
class _Watch:
    """One judged subject: since when, its baseline (a stage's), its judgement."""

    since: float
    baseline: Sample | None = None
    judgement: Judgement = field(default_factory=Judgement)


class MigrationControl(Server):
    """The migrations' server (see the module's docstring)."""

    async def init(
        self,
        settings: MigrationSettings,
        plans: Mapping[str, MigrationPlan],
        flags: FlagsPort,
        clock: Clock | None = None,
        timer: bool = True,
    ) -> None:
        self._settings = settings
        self._rule: Rule = settings.rule()
        self._plans = dict(plans)
        self._flags = flags
        self._clock: Clock = clock or MonotonicClock()
        now = self._clock.monotonic()
        self._signals = Signals(self._clock, horizon=2 * settings.long_window)
        values = self._flags.values()
        self._positions = {name: Position(stage=plan.stage_of(values)) for name, plan in self._plans.items()}
        # A stage in force when this server starts is judged from now, against absolute rates; not
        # one its flags' declared defaults make (otp_cleanup's stage 3 on a fresh daemon: nobody
        # began it, so no crash of the user's servers may roll arbord's components back;
        # test_a_fresh_daemons_stage_is_not_judged).
        self._watches: dict[str, _Watch] = {
            name: _Watch(now)
            for name, position in self._positions.items()
            if position.stage > 0 and any(self._flags.written(flag) for flag in self._plans[name].flags)
        }
        self._rollouts: dict[str, _Watch] = {}
        self._history: collections.deque[dict[str, Any]] = collections.deque(maxlen=_HISTORY_KEPT)
        self._handler_ids = (f"{MIGRATION_NAME}.outcome.{id(self)}", f"{MIGRATION_NAME}.exit.{id(self)}")
        events = [event_name(e) for e in settings.events]
        if events:
            telemetry.attach_many(self._handler_ids[0], events, on_outcome, self._signals)
        telemetry.attach(self._handler_ids[1], ("server", "exit"), on_exit, self._signals)
        self._timer: asyncio.TimerHandle | None = None
        add_exit_callback(self, self._detach)
        self._refresh_rollouts(now)
        if timer:
            self._schedule()

    def _schedule(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._settings.interval, self.send, _TICK)

    def _detach(self, reason: object = None) -> None:
        """Detach the handlers and stop the timer: on any exit, a kill included (an exit callback)."""
        if self._timer is not None:
            self._timer.cancel()
        for handler_id in self._handler_ids:
            try:
                telemetry.detach(handler_id)
            except HandlerNotFound:
                pass

    async def handle_info(self, message: Any) -> None:
        if message == _TICK:
            try:
                await self._tick()
            finally:
                self._schedule()

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        try:
            return await self._handle(request)
        except (MigrationError, ConfigError, OSError, ArbordError) as error:
            # A refusal, or the flags store refusing a write: the caller gets it, this server goes on.
            return _Refused(error)

    async def _handle(self, request: Any) -> Any:
        match request:
            case Status(plan):
                return self._status(plan)
            case Advance(plan, actor, to):
                return await self._advance(plan, actor, to)
            case Rollback(plan, to, actor, reason):
                return await self._rollback(plan, to, actor, reason)
            case EmergencyRollback(plan, reason, actor):
                return await self._emergency(plan, reason, actor)
            case History(subject, limit):
                rows = [h for h in reversed(self._history) if subject is None or h["subject"] == subject]
                return rows[:limit]
            case Why(subject):
                return self._why(subject)
            case Tick():
                return await self._tick()
        raise TypeError(f"{MIGRATION_NAME}: unknown request {request!r}")

    # --- plans ----------------------------------------------------------------------------------

    def _plan(self, name: str) -> MigrationPlan:
        plan = self._plans.get(name)
        if plan is None:
            raise UnknownPlan(f"no migration plan {name!r} (plans: {', '.join(sorted(self._plans))})")
        return plan

    def _status(self, name: str | None) -> dict[str, Any]:
        names = [self._plan(name).name] if name is not None else sorted(self._plans)
        now = self._clock.monotonic()
        plans = {}
        for plan_name in names:
            plan, position = self._plans[plan_name], self._positions[plan_name]
            watch = self._watches.get(plan_name)
            plans[plan_name] = {
                "stage": position.stage,
                "last": plan.last,
                "stages": plan.describe(),
                "flags": dict(plan.flags_at(position.stage)),
                "cooldown": max(0.0, position.cooldown_until - now),
                "decision": None if watch is None else watch.judgement.decision.value,
            }
        return {"plans": plans, "dry_run": self._rule.dry_run, "components": self._components()}

    def _components(self) -> list[dict[str, Any]]:
        """Which path serves each of arbord's migrated components now (daemon/flags/migration/
        components.py): ``supervised``, ``legacy``, or ``split`` with the percentage of actors the
        flag sends to the supervised path."""
        rows: list[dict[str, Any]] = []
        for component, flag in MIGRATED:
            split = self._flags.percentage(flag)
            if split is not None:
                backend = "split"
            else:
                backend = "supervised" if self._flags.enabled(flag) else "legacy"
            rows.append({"component": component, "flag": flag, "backend": backend, "percentage": split})
        return rows

    def _readiness(self, name: str) -> list[Readiness]:
        watch = self._watches.get(name)
        if watch is None:
            return [Readiness("healthy", True)]
        judgement = watch.judgement
        if judgement.decision is Decision.PAUSE:
            return [Readiness("healthy", False, "the stage in force is paused on inconclusive verdicts")]
        if judgement.failures:
            return [
                Readiness(
                    "healthy", False, f"{judgement.failures} failed verdict(s) in a row on the stage in force"
                )
            ]
        return [Readiness("healthy", True)]

    async def _advance(self, name: str, actor: str, to: int | None) -> dict[str, Any]:
        plan = self._plan(name)
        now = self._clock.monotonic()
        step = advance(plan, self._positions[name], now=now, to=to, readiness=self._readiness(name))
        baseline = self._signals.sample(
            ALL, ALL, window=self._rule.long_window, since=now - self._rule.long_window
        )
        await self._apply(plan, step, actor, f"advance to stage {step.to_stage}")
        self._watches[name] = _Watch(now, baseline)
        return self._moved(step)

    async def _rollback(self, name: str, to: int, actor: str, reason: str) -> dict[str, Any]:
        plan = self._plan(name)
        step = rollback(
            plan,
            self._positions[name],
            to,
            now=self._clock.monotonic(),
            cooldown=self._settings.cooldown,
            reason=reason,
        )
        await self._apply(plan, step, actor, reason or f"rollback to stage {to}")
        return self._moved(step)

    async def _emergency(self, name: str, reason: str, actor: str) -> dict[str, Any]:
        plan = self._plan(name)
        step = emergency_rollback(
            plan, self._positions[name], reason, now=self._clock.monotonic(), cooldown=self._settings.cooldown
        )
        await self._apply(plan, step, actor, step.reason)
        return self._moved(step)

    async def _apply(
        self, plan: MigrationPlan, step: Transition, actor: str, reason: str, numbers: object = None
    ) -> None:
        """Write the step's flags, then adopt its position; a refused write changes nothing here."""
        revision = await self._flags.write(step.writes, actor=actor, reason=reason)
        self._positions[plan.name] = step.position
        if step.kind is not Kind.ADVANCE:
            self._watches.pop(plan.name, None)  # after a rollback the plan is not judged (nothing re-enables)
        self._record(
            plan.name, step.kind.value, actor, reason, revision, step.from_stage, step.to_stage, numbers
        )
        telemetry.execute(
            ("arbord", "migration", step.kind.value),
            {"from_stage": step.from_stage, "to_stage": step.to_stage},
            {"plan": plan.name, "actor": actor, "reason": reason},
        )
        if step.kind is not Kind.ADVANCE:
            self._alert(plan.name, step.kind.value, reason, numbers)

    def _moved(self, step: Transition) -> dict[str, Any]:
        return {
            "kind": step.kind.value,
            "from": step.from_stage,
            "to": step.to_stage,
            "flags": dict(step.writes),
        }

    def _record(
        self,
        subject: str,
        kind: str,
        actor: str,
        reason: str,
        revision: int | None,
        from_stage: int | None = None,
        to_stage: int | None = None,
        numbers: object = None,
    ) -> None:
        self._history.append(
            {
                "at": self._clock.monotonic(),
                "time": time.time(),
                "subject": subject,
                "kind": kind,
                "actor": actor,
                "reason": reason,
                "revision": revision,
                "from": from_stage,
                "to": to_stage,
                "numbers": numbers,
            }
        )

    def _alert(self, subject: str, alert_type: str, reason: str, numbers: object) -> None:
        log.warning("migration alert: %s of %s: %s", alert_type, subject, reason)
        telemetry.execute(
            ALERT,
            {"count": 1},
            {"subject": subject, "alert_type": alert_type, "reason": reason, "numbers": numbers},
        )

    # --- judging --------------------------------------------------------------------------------

    async def _tick(self) -> dict[str, Any]:
        """Measure every subject, fold each measurement into its judgement, act on ``ROLLBACK``."""
        self._signals.prune()
        now = self._clock.monotonic()
        decided: dict[str, str] = {}
        for name, watch in list(self._watches.items()):
            reference = watch.baseline
            kind = "baseline"
            if reference is None or reference.requests < self._rule.min_sample:
                reference, kind = Sample(span=self._rule.long_window), ABSOLUTE
            long = Comparison(self._window(ALL, ALL, self._rule.long_window, watch.since), reference, kind)
            short = Comparison(self._window(ALL, ALL, self._rule.short_window, watch.since), reference, kind)
            watch.judgement = decide(watch.judgement, measure(long, short, self._rule, now), self._rule)
            decided[name] = watch.judgement.decision.value
            if watch.judgement.decision is Decision.ROLLBACK:
                await self._auto_rollback_plan(name, watch)
        if not self._refresh_rollouts(now):
            return decided
        for flag, watch in list(self._rollouts.items()):
            long = Comparison(
                self._window(flag, TREATMENT, self._rule.long_window, watch.since),
                self._window(flag, CONTROL, self._rule.long_window, watch.since),
            )
            short = Comparison(
                self._window(flag, TREATMENT, self._rule.short_window, watch.since),
                self._window(flag, CONTROL, self._rule.short_window, watch.since),
            )
            watch.judgement = decide(watch.judgement, measure(long, short, self._rule, now), self._rule)
            decided[flag] = watch.judgement.decision.value
            if watch.judgement.decision is Decision.ROLLBACK:
                await self._auto_rollback_flag(flag, watch)
        return decided

    def _refresh_rollouts(self, now: float) -> bool:
        """Which guarded flags are on a judged rollout now: watch the new ones from ``now``, drop the
        ended ones, and tell the signals which flags to attribute arms for (and by which
        evaluation). False, changing nothing judged, while the flags server is not running."""
        try:
            judged = [flag for flag in self._settings.guarded if self._flags.percentage(flag) is not None]
            enabled = self._flags.evaluator() if judged else None
        except NoProc:
            log.info("the flags server is not running: rollouts are judged at the next tick")
            self._signals.watch((), None)
            return False
        for flag in [f for f in self._rollouts if f not in judged]:
            del self._rollouts[flag]
            self._signals.forget(flag)
        for flag in judged:
            self._rollouts.setdefault(flag, _Watch(now))
        self._signals.watch(judged, enabled)
        return True

    def _window(self, subject: str, arm: str, window: float, since: float) -> Sample:
        return self._signals.sample(subject, arm, window=window, since=since)

    async def _auto_rollback_plan(self, name: str, watch: _Watch) -> None:
        plan, position = self._plans[name], self._positions[name]
        assert watch.judgement.last is not None
        reason = summary(watch.judgement.last)
        numbers = watch.judgement.last.as_dict()
        if self._rule.dry_run:
            self._record(
                name,
                "would_roll_back",
                AUTO_ROLLBACK,
                reason,
                None,
                position.stage,
                position.stage - 1,
                numbers,
            )
            log.warning("migration %s: would roll back stage %d (dry run): %s", name, position.stage, reason)
            watch.judgement = Judgement()
            return
        step = rollback(
            plan,
            position,
            position.stage - 1,
            now=self._clock.monotonic(),
            cooldown=self._settings.cooldown,
            reason=reason,
            kind=Kind.AUTO_ROLLBACK,
        )
        try:
            await self._apply(plan, step, AUTO_ROLLBACK, reason, numbers)
        except Exception as error:  # the store refused: keep judging, log why
            log.error("migration %s: the automatic rollback could not be written: %r", name, error)

    async def _auto_rollback_flag(self, flag: str, watch: _Watch) -> None:
        assert watch.judgement.last is not None
        reason = summary(watch.judgement.last)
        numbers = watch.judgement.last.as_dict()
        if self._rule.dry_run:
            self._record(flag, "would_roll_back", AUTO_ROLLBACK, reason, None, numbers=numbers)
            log.warning("flag %s: would roll back its rollout (dry run): %s", flag, reason)
            watch.judgement = Judgement()
            return
        try:
            revision = await self._flags.write({flag: None}, actor=AUTO_ROLLBACK, reason=reason)
        except Exception as error:
            log.error("flag %s: the automatic rollback could not be written: %r", flag, error)
            return
        self._rollouts.pop(flag, None)
        self._signals.forget(flag)
        self._refresh_rollouts(self._clock.monotonic())
        self._record(flag, Kind.AUTO_ROLLBACK.value, AUTO_ROLLBACK, reason, revision, numbers=numbers)
        self._alert(flag, Kind.AUTO_ROLLBACK.value, reason, numbers)

    def _why(self, subject: str | None) -> dict[str, Any]:
        """The judgements of ``subject`` (a plan, or a flag: its rollout and the plans holding it),
        or of everything judged, and the latest automatic rollback among them."""
        wanted: set[str] | None = None
        if subject is not None:
            wanted = {subject} | {name for name, plan in self._plans.items() if subject in plan.flags}
        judged: dict[str, Any] = {}
        for kind, watches in (("plan", self._watches), ("flag", self._rollouts)):
            for name, watch in watches.items():
                if wanted is None or name in wanted:
                    judged[name] = {"kind": kind, "since": watch.since, **watch.judgement.as_dict()}
        last = [
            h
            for h in reversed(self._history)
            if h["actor"] == AUTO_ROLLBACK and (wanted is None or h["subject"] in wanted)
        ]
        return {"judged": judged, "rule": _rule_dict(self._rule), "last_rollback": last[0] if last else None}


def _rule_dict(rule: Rule) -> dict[str, object]:
    return {
        "error_rate": rule.error_rate,
        "restarts_per_minute": rule.restarts_per_minute,
        "latency_factor": rule.latency_factor,
        "min_sample": rule.min_sample,
        "min_z": rule.min_z,
        "long_window": rule.long_window,
        "short_window": rule.short_window,
        "failure_limit": rule.failure_limit,
        "inconclusive_limit": rule.inconclusive_limit,
        "dry_run": rule.dry_run,
    }
