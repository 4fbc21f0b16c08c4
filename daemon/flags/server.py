"""The flags server (``arbord.flags``): it orders the writes, makes them durable, then publishes them.

Evaluation never reaches the server: ``Flags.enabled`` runs in the caller's task and reads the
server's owned table (one row per flag: its gates, and its value when that depends on no actor).
A write is a call to the server, which handles one at a time:

1. it builds the flag's next state from the state in force (``daemon.flags.gates.apply``);
2. it commits the change to the store (``daemon.flags.store``), which numbers it (the revision);
3. only then it writes the new state to the table, and replies with the ``ChangeRecord``.

So a write is acknowledged only once it is durable, and a failed commit leaves the flags in force
unchanged (the caller gets ``StoreFailed``; the server carries on). A commit the disk refused
(``FlagsReadOnly``: full, read-only) turns the flags read-only until a probe write succeeds
(daemon/flags/read_only.py): writes are refused without touching the disk meanwhile. A shared
store's changes from other daemons arrive as messages and are published the same way, in revision order.

>>> import asyncio
>>> from daemon.flags.config import FlagsSettings
>>> async def demo() -> list[object]:
...     flags = await Flags.start(FlagsSettings(store="memory"))
...     before = flags.enabled("beta")
...     record = await flags.enable("beta", create=True, actor="alice", reason="try it")
...     await flags.enable("beta", for_actor="bob", actor="alice")
...     result = [before, flags.enabled("beta"), record.revision, flags.revision]
...     await flags.stop()
...     return result
>>> asyncio.run(demo())
[False, True, 1, 2]
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from daemon.flags.bucket import normalized
from daemon.flags.config import FlagDeclaration, FlagsSettings
from daemon.flags.errors import FlagsReadOnly, InvalidGate, RevisionConflict, StoreFailed, UnknownFlag
from daemon.flags.evaluate import DEFAULT_ROLL, Decision, Predicate, Roll, compile_state, decide
from daemon.flags.fastpath import compiled_evaluator
from daemon.flags.gates import FlagState, GateKind, GateOp, PercentageOf, apply, check_flag_name
from daemon.flags.migration.components import OTP_CLEANUP_DECLARATIONS
from daemon.flags.read_only import READ_ONLY, WRITABLE, ReadOnly
from daemon.flags.store import Change, ChangeRecord, FlagStore, change_set
from daemon.flags.stores import open_store
from supervisor import Access, Caller, Server, Table, telemetry
from supervisor.lowlevel import add_exit_callback

__all__ = ["API_ACTOR", "Actor", "Evaluator", "Flags", "FlagsEvent", "Listener", "actor_id"]

API_ACTOR: Final = "api"
"""The audit trail's actor for a write made by code in the daemon that names no other."""

_log = logging.getLogger("arbord.flags")

# Row layout of the state table: the flag's name, its gates, its value when no actor or chance
# matters (None: call the compiled evaluator), its declared default, whether it was evaluated since
# start, the evaluator compiled for its gates (``evaluate.compile_state``; None when constant), and,
# for a flag whose only say-so is a percentage of actors, ``(group_id, percentage, buckets)`` for
# the evaluation to bucket a ``str`` actor inline, ``buckets`` remembering the buckets of up to
# ``_BUCKETS_KEPT`` actors (a bucket depends on the group id and the actor only: bench_flags).
# Last, the ``Decision`` of a flag whose answer is one for every actor and no chance at all (only a
# boolean gate, or none), made once for providers (``decision``).
_NAME, _STATE, _CONSTANT, _DEFAULT, _SEEN, _COMPILED, _SPLIT, _STATIC = range(8)


class Actor(Protocol):
    """Anything with a ``flag_id``: the id the actor gate and the bucketing use."""

    @property
    def flag_id(self) -> str: ...


class Evaluator(Protocol):
    """The signature of ``Flags.enabled``."""

    def __call__(self, flag: str, actor: str | Actor | None = None) -> bool: ...


def actor_id(actor: object) -> str | None:
    """The id of ``actor``: itself if a ``str``, its ``flag_id`` otherwise (None: no actor)."""
    if actor is None or type(actor) is str:
        return actor
    if isinstance(actor, str):
        return str(actor)
    flag_id = getattr(actor, "flag_id", None)
    if not isinstance(flag_id, str):
        raise TypeError(f"an actor is a str or has a str flag_id attribute, not {actor!r}")
    return flag_id


@dataclass(frozen=True, slots=True)
class FlagsEvent:
    """What a listener hears (``Flags.listen``): ``changed`` (``flags`` changed, by ``record``),
    ``stale`` or ``fresh`` (the flags in force are, or no longer are, stale: ``why``)."""

    kind: Literal["changed", "stale", "fresh"]
    flags: tuple[str, ...]
    record: ChangeRecord | None
    why: str = ""


Listener = Callable[[FlagsEvent], None]


@dataclass(frozen=True, slots=True)
class _Write:
    flag: str
    op: GateOp
    actor: str
    reason: str | None
    create: bool
    if_revision: int | None = None


@dataclass(frozen=True, slots=True)
class _WriteSet:
    writes: tuple[tuple[str, GateOp], ...]
    actor: str
    reason: str | None
    create: bool


@dataclass(frozen=True, slots=True)
class _Probe:
    """The timer's message: time for a probe write (the flags are read-only)."""


@dataclass(frozen=True, slots=True)
class _Remote:
    """A change another daemon committed to a shared store (``FlagStore.subscribe``)."""

    record: ChangeRecord


def _starting(flag: str, actor: object = None) -> bool:
    from supervisor.errors import NoProc

    raise NoProc("the flags server is starting: its tables do not exist yet")


_BUCKETS_KEPT: Final = 10_000


def _bucket_into(split: tuple[str, float, dict[str, int]], actor: str) -> int:
    """The actor's bucket under the split's group id, remembered (forgetting them all past
    ``_BUCKETS_KEPT``: the memory stays bounded, and a miss costs one hash)."""
    buckets = split[2]
    if len(buckets) >= _BUCKETS_KEPT:
        buckets.clear()
    bucket = buckets[actor] = normalized(split[0], actor)
    return bucket


def _evaluator(flags: Flags) -> Evaluator:
    """``flags.enabled``: the C evaluation (daemon/flags/_speedups.c) over the state table, or,
    under ``ARBORD_NO_EXTENSIONS=1``, its pure-Python twin (``_python_evaluator``): fastpath.py."""
    get = flags._state.getter()
    rows = getattr(get, "__self__", None)  # the table's own dict.get: its dict is the store
    slow = _python_evaluator(get, flags._undeclared_hit)
    if type(rows) is not dict:
        return slow
    return compiled_evaluator(rows, flags._undeclared_hit, slow, _bucket_into)


def _python_evaluator(get: Callable[..., Any], unknown: Callable[[str], bool]) -> Evaluator:
    """The twin of the C evaluation: a closure over the state table's getter, so a constant flag
    costs one table read."""

    def enabled(flag: str, actor: str | Actor | None = None) -> bool:
        row = get(flag)
        if row is None:
            return unknown(flag)
        constant = row[2]  # None until the flag's first evaluation (see _publish)
        if constant is not None:
            return constant  # type: ignore[no-any-return]
        split = row[6]
        if split is not None and type(actor) is str:
            bucket = split[2].get(actor)
            if bucket is None:
                bucket = _bucket_into(split, actor)
            return bucket <= split[1]  # type: ignore[no-any-return]
        return row[5](actor)  # type: ignore[no-any-return]

    return enabled


class Flags(Server):
    """The flags server. ``init(settings=FlagsSettings(store="memory"), *, store=None, roll=None,
    clock=time.time)``: ``store`` overrides the one the settings name (else it is opened here); the
    store is closed when the server stops, a given one too. ``roll`` and ``clock`` are injectable (a
    percentage of time's roll in [0, 100), the audit trail's wall clock)."""

    enabled: Evaluator
    """``enabled(flag, actor=None)``: the flag's value for ``actor`` (a ``str`` or anything with a
    ``flag_id``), always a ``bool``; an unknown flag is disabled (counted and logged once)."""

    def __init__(self) -> None:
        super().__init__()
        self._ready = False
        self.enabled = _starting

    async def init(
        self,
        settings: FlagsSettings | None = None,
        *,
        store: FlagStore | None = None,
        roll: Roll | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or FlagsSettings(store="memory")
        self.store: FlagStore = store if store is not None else await open_store(self.settings)
        self._roll = roll or DEFAULT_ROLL
        self._clock = clock
        self._declared: Mapping[str, FlagDeclaration] = self.settings.declared
        snapshot = await self.store.load()
        self.revision = snapshot.revision
        self._flag_revisions: dict[str, int] = {}  # flag → revision of the state in force (shared store)
        self._state = Table("arbord.flags.state", access=Access.PUBLIC)
        self._groups = Table("arbord.flags.groups", access=Access.PUBLIC)
        self._undeclared = Table("arbord.flags.undeclared", access=Access.PUBLIC)
        for name, declaration in self._declared.items():
            self._publish(snapshot.flags.get(name) or FlagState(name), declaration.default, seen=False)
        for name, state in snapshot.flags.items():
            if name not in self._declared:
                self._publish(state, False, seen=False)
        self.stale = False
        self._listeners: dict[int, Listener] = {}
        self._next_listener = 0
        self.store.subscribe(lambda record: self.send(_Remote(record)))
        if callable(watch := getattr(self.store, "watch_staleness", None)):  # a shared store's
            watch(self.set_stale)  # staleness (daemon/flags/redis_store.py): providers say STALE
        self.read_only: ReadOnly | None = None
        """Set while the store cannot persist writes (daemon/flags/read_only.py); None: writable."""
        self._probe_timer: asyncio.TimerHandle | None = None
        self.enabled = _evaluator(self)
        self._ready = True
        add_exit_callback(self, self._exited)  # any exit, a kill included
        self.wait().add_done_callback(self._close_store_after_exit)

    def _exited(self, reason: object = None) -> None:
        """Not ready once exited: the module-level ``enabled`` refuses it, as ``whereis`` would,
        until the name is released or a new incarnation takes it."""
        self._ready = False
        if self._probe_timer is not None:
            self._probe_timer.cancel()
            self._probe_timer = None

    async def terminate(self, reason: Any) -> None:
        await self.store.close()

    def _close_store_after_exit(self, exited: asyncio.Future[Any]) -> None:
        """``terminate`` closes the store; a killed server's ``terminate`` does not run, and its
        store (a SQLite connection and its thread, a Redis client) stayed open for ever, one more per
        kill (tests/faults/test_tree_faults.py, the leak check after F1). Closing is idempotent."""
        self._store_closed = asyncio.ensure_future(self.store.close())

    # --- evaluation (the caller's task) ---------------------------------------------------------

    def _publish(self, state: FlagState, default: bool, *, seen: bool | None = None) -> None:
        """Put ``state`` in force (no await: atomic for every reader)."""
        if seen is None:
            old = self._state.get(state.name)
            seen = bool(old is not None and old[_SEEN])
        constant = default if state.is_empty else state.constant
        compiled: Callable[[object], bool] | None = None
        split: tuple[str, float, dict[str, int]] | None = None
        if constant is None:
            compiled = compile_state(state, self.group, self._roll, default=default, actor_id=actor_id)
            p = state.percentage
            if (
                p is not None
                and p.of == "actors"
                and not state.actors
                and not state.groups
                and not state.boolean
            ):
                split = (p.group_id or state.name, p.value, {})
        static = None
        if constant is not None and state.percentage is None:
            static = decide(state, None, None, self.group, self._roll, default=default)
        if not seen:
            # Until its first evaluation the row sends every evaluation to the slow path, which
            # marks it evaluated (for lint) and puts the fast row in force: the fast path never
            # checks (bench_flags).
            compiled = self._first_evaluation(state.name, compiled, constant)
            constant = split = None
        self._state.insert((state.name, state, constant, default, seen, compiled, split, static))

    def _first_evaluation(
        self, flag: str, compiled: Callable[[object], bool] | None, constant: bool | None
    ) -> Callable[[object], bool]:
        def first(actor: object) -> bool:
            self._seen_row(flag)
            return constant if compiled is None else compiled(actor)  # type: ignore[return-value]

        return first

    def _seen_row(self, flag: str) -> None:
        row = self._state.get(flag)
        if row is not None and not row[_SEEN]:
            self._publish(row[_STATE], row[_DEFAULT], seen=True)

    def _undeclared_hit(self, flag: str) -> bool:
        if not isinstance(flag, str):
            raise TypeError(f"a flag name is a str, not {flag!r}")
        if self._undeclared.update_counter(flag, (1, 1), (flag, 0)) == 1:
            _log.warning("flag %r is evaluated but neither declared nor created: it is disabled", flag)
        return False

    def group(self, name: str) -> Predicate | None:
        """The membership function registered for group ``name``, or None."""
        row = self._groups.get(name)
        return None if row is None else row[1]

    def decision(self, flag: str, actor: object = None, subject: object = None) -> Decision:
        """What ``enabled`` computes, with the gate that decided (an unknown flag: gate ``unknown``),
        counted as an evaluation. ``actor`` is the id (or a ``str``/``flag_id`` holder); ``subject``
        what the group functions get (default: ``actor``). For providers (OpenFeature)."""
        row = self._state.get(flag)
        if row is None:
            self._undeclared_hit(flag)
            return Decision(False, "unknown")
        if not row[_SEEN]:
            self._seen_row(flag)
        static = row[_STATIC]
        if static is not None:
            return static  # type: ignore[no-any-return]
        return decide(
            row[_STATE],
            actor_id(actor),
            actor if subject is None else subject,
            self.group,
            self._roll,
            default=row[_DEFAULT],
        )

    # --- listeners (providers' events) --------------------------------------------------------------

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` on the event loop after each change is in force and when the
        flags become stale or fresh again; returns the function that stops it."""
        key = self._next_listener
        self._next_listener += 1
        self._listeners[key] = listener

        def stop() -> None:
            self._listeners.pop(key, None)

        return stop

    @property
    def listening(self) -> int:
        """How many listeners are listening."""
        return len(self._listeners)

    def _tell(self, event: FlagsEvent) -> None:
        for listener in list(self._listeners.values()):
            try:
                listener(event)
            except Exception:  # a listener's bug must not undo a committed write
                _log.exception("a flags listener failed on %r", event)

    def set_stale(self, stale: bool, why: str = "") -> None:
        """Mark the flags in force stale (a shared store lost; they are still served) or fresh
        again; listeners hear of the change."""
        if stale != self.stale:
            self.stale = stale
            self._tell(FlagsEvent("stale" if stale else "fresh", (), None, why))

    def explain(self, flag: str, actor: str | Actor | None = None) -> Decision:
        """What decides ``flag`` for ``actor`` now: the value, the gate, the bucket (not counted as
        an evaluation)."""
        row = self._state.get(flag)
        if row is None:
            return Decision(False, "unknown")
        return decide(row[_STATE], actor_id(actor), actor, self.group, self._roll, default=row[_DEFAULT])

    def register_group(self, name: str, predicate: Predicate) -> None:
        """Make ``predicate(actor)`` the membership function of group ``name`` (replacing any)."""
        check_flag_name(name)
        if not callable(predicate):
            raise InvalidGate(f"a group's membership function is callable, not {predicate!r}")
        self._groups.insert((name, predicate))

    def state(self, flag: str) -> FlagState | None:
        """The gates of ``flag`` in force, or None if it is unknown."""
        row = self._state.get(flag)
        return None if row is None else row[_STATE]

    def known(self) -> list[str]:
        """Every flag declared or created, sorted."""
        return sorted(row[_NAME] for row in self._state.tab2list())

    def lint(self, today: datetime.date | None = None) -> dict[str, Any]:
        """Stale and typo'd flags: evaluations of unknown flags (name → count), flags never
        evaluated since start (but arbord's own ``otp_cleanup`` flags, which its components read when
        they serve: daemon/flags/migration/components.py), and declared flags past their ``expires``."""
        today = today or datetime.datetime.now(datetime.UTC).date()
        rows = self._state.tab2list()
        return {
            "undeclared": dict(sorted(self._undeclared.tab2list())),
            "never_evaluated": sorted(
                row[_NAME] for row in rows if not row[_SEEN] and row[_NAME] not in OTP_CLEANUP_DECLARATIONS
            ),
            "expired": {
                name: d.expires.isoformat()
                for name, d in self._declared.items()
                if d.expires is not None and d.expires < today
            },
        }

    def declaration(self, flag: str) -> FlagDeclaration | None:
        """The ``[flags.<name>]`` declaration of ``flag``, if any."""
        return self._declared.get(flag)

    # --- writes (through the server) -------------------------------------------------------------

    async def write(
        self,
        flag: str,
        op: GateOp,
        *,
        actor: str = API_ACTOR,
        reason: str | None = None,
        create: bool = False,
        if_revision: int | None = None,
    ) -> ChangeRecord:
        """Apply ``op`` to ``flag`` durably; returns the committed record. ``UnknownFlag`` unless the
        flag is declared, known, or ``create`` is true; ``StoreFailed`` if the commit fails (nothing
        changed). ``if_revision``: a compare-and-set, applied only if the flag is at that revision
        (``flag_revision``; 0 for a flag never written), else ``RevisionConflict`` (nothing changed).
        The server compares and writes in one turn, so of writers that read the same revision,
        exactly one wins."""
        check_flag_name(flag)
        if not isinstance(op, GateOp):
            raise InvalidGate(f"a write is a GateOp, not {op!r}")
        if not isinstance(actor, str) or not actor:
            raise InvalidGate(f"the audit actor is a non-empty string, not {actor!r}")
        if reason is not None and not isinstance(reason, str):
            raise InvalidGate(f"a reason is a string, not {reason!r}")
        if if_revision is not None and (type(if_revision) is not int or if_revision < 0):
            raise InvalidGate(f"if_revision is a revision (an int >= 0), not {if_revision!r}")
        if if_revision is not None and self.store.shared:
            # This daemon's check and the shared store's commit are two steps: two daemons could
            # both win. Refused rather than promised (docs/flags.md, "Compare-and-set").
            raise InvalidGate("if_revision needs a store of this daemon's own: the store is shared")
        outcome = await self.call(_Write(flag, op, actor, reason, create, if_revision))
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[no-any-return]

    async def write_set(
        self,
        writes: Sequence[tuple[str, GateOp]],
        *,
        actor: str = API_ACTOR,
        reason: str | None = None,
        create: bool = False,
    ) -> list[ChangeRecord]:
        """Apply several ``(flag, op)`` writes, in order, as **one** durable transaction (a
        migration stage move): one commit to the store, the records numbered as one change set in
        the audit trail, all put in force together (no reader sees some and not the others), one
        ``changed`` event naming every flag. All or nothing: ``UnknownFlag``, ``InvalidGate`` or
        ``StoreFailed`` leave every flag, in memory and in the store, as it was."""
        checked: list[tuple[str, GateOp]] = []
        for flag, op in writes:
            check_flag_name(flag)
            if not isinstance(op, GateOp):
                raise InvalidGate(f"a write is a GateOp, not {op!r}")
            checked.append((flag, op))
        if not checked:
            raise InvalidGate("a change set has at least one write")
        if not isinstance(actor, str) or not actor:
            raise InvalidGate(f"the audit actor is a non-empty string, not {actor!r}")
        if reason is not None and not isinstance(reason, str):
            raise InvalidGate(f"a reason is a string, not {reason!r}")
        outcome = await self.call(_WriteSet(tuple(checked), actor, reason, create))
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[no-any-return]

    async def enable(
        self,
        flag: str,
        *,
        for_actor: str | Actor | None = None,
        for_group: str | None = None,
        actor: str = API_ACTOR,
        reason: str | None = None,
        create: bool = False,
        if_revision: int | None = None,
    ) -> ChangeRecord:
        """Turn on the boolean gate, or one actor's or group's gate."""
        op = GateOp.enable(for_actor=actor_id(for_actor), for_group=for_group)
        return await self.write(flag, op, actor=actor, reason=reason, create=create, if_revision=if_revision)

    async def disable(
        self,
        flag: str,
        *,
        for_actor: str | Actor | None = None,
        for_group: str | None = None,
        actor: str = API_ACTOR,
        reason: str | None = None,
        create: bool = False,
        if_revision: int | None = None,
    ) -> ChangeRecord:
        """Turn off the boolean gate, or one actor's or group's gate (a gate that says no)."""
        op = GateOp.disable(for_actor=actor_id(for_actor), for_group=for_group)
        return await self.write(flag, op, actor=actor, reason=reason, create=create, if_revision=if_revision)

    async def clear(
        self,
        flag: str,
        gate: GateKind | None = None,
        *,
        for_actor: str | Actor | None = None,
        for_group: str | None = None,
        actor: str = API_ACTOR,
        reason: str | None = None,
        if_revision: int | None = None,
    ) -> ChangeRecord:
        """Remove every gate of ``flag``, one kind of gate, or one actor's or group's gate."""
        op = GateOp.clear(gate, for_actor=actor_id(for_actor), for_group=for_group)
        return await self.write(flag, op, actor=actor, reason=reason, if_revision=if_revision)

    async def set_percentage(
        self,
        flag: str,
        value: float,
        *,
        of: PercentageOf = "time",
        group_id: str | None = None,
        actor: str = API_ACTOR,
        reason: str | None = None,
        create: bool = False,
        if_revision: int | None = None,
    ) -> ChangeRecord:
        """Set the percentage gate (of ``time`` or of ``actors``, in [0, 100]), replacing the other."""
        op = GateOp.percentage(value, of=of, group_id=group_id)
        return await self.write(flag, op, actor=actor, reason=reason, create=create, if_revision=if_revision)

    async def set_actor(
        self,
        flag: str,
        target: str | Actor,
        on: bool | None,
        *,
        actor: str = API_ACTOR,
        reason: str | None = None,
        if_revision: int | None = None,
    ) -> ChangeRecord:
        """One actor's gate: on, off, or (None) removed."""
        if on is None:
            return await self.clear(
                flag, for_actor=target, actor=actor, reason=reason, if_revision=if_revision
            )
        write = self.enable if on else self.disable
        return await write(flag, for_actor=target, actor=actor, reason=reason, if_revision=if_revision)

    async def set_group(
        self,
        flag: str,
        group: str,
        on: bool | None,
        *,
        actor: str = API_ACTOR,
        reason: str | None = None,
        if_revision: int | None = None,
    ) -> ChangeRecord:
        """One group's gate: on, off, or (None) removed."""
        if on is None:
            return await self.clear(
                flag, for_group=group, actor=actor, reason=reason, if_revision=if_revision
            )
        write = self.enable if on else self.disable
        return await write(flag, for_group=group, actor=actor, reason=reason, if_revision=if_revision)

    async def flag_revision(self, flag: str) -> int:
        """The revision of the change that made ``flag``'s state in force (0: never written): what a
        compare-and-set (``if_revision``) names. Read from the store once per flag after a start."""
        known = self._flag_revisions.get(flag)
        if known is not None:
            return known
        records = await self.store.history(flag, limit=1)
        found = records[-1].revision if records else 0
        # A write may have been numbered while the store answered: the newer one stays.
        return self._flag_revisions.setdefault(flag, found)

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        try:
            if isinstance(request, _Write):
                return await self._write(request)
            if isinstance(request, _WriteSet):
                return await self._write_set(request)
        except (InvalidGate, UnknownFlag, RevisionConflict, OSError) as error:  # StoreFailed is an OSError
            return error
        return None

    # --- read-only while the disk refuses writes (daemon/flags/read_only.py) ------------------------

    def _refuse_if_read_only(self) -> None:
        """Refuse a write at once, without touching the store, while the flags are read-only."""
        state = self.read_only
        if state is None:
            return
        state.refused += 1
        timer = self._probe_timer
        left = 0.0 if timer is None else max(0.0, timer.when() - asyncio.get_running_loop().time())
        raise FlagsReadOnly(state.refusal(left))

    def _turn_read_only(self, error: FlagsReadOnly) -> FlagsReadOnly:
        """The store refused a commit for want of disk: read-only from now until a probe succeeds.
        Returns the error the write that found it is answered with."""
        reason = str(error)
        loop = asyncio.get_running_loop()
        self.read_only = ReadOnly(self._clock(), loop.time(), reason)
        interval = self.settings.probe_interval
        _log.warning(
            "the flags are read-only: %s; writes are refused until a probe write succeeds (every %g s)",
            reason,
            interval,
        )
        telemetry.execute(READ_ONLY, {}, {"store": self.store.location, "error": reason})
        self._probe_timer = loop.call_later(interval, self.send, _Probe())
        message = f"{reason}; the flags are read-only until a probe write succeeds (every {interval:g} s)"
        return FlagsReadOnly(message)

    async def _probe(self) -> None:
        """A probe write: writable again if it succeeds, else the next one after the interval."""
        self._probe_timer = None
        state = self.read_only
        if state is None:
            return
        loop = asyncio.get_running_loop()
        try:
            await self.store.probe()
        except StoreFailed as error:  # FlagsReadOnly, or a lock held elsewhere: try again later
            state.probes += 1
            state.reason = str(error)
            self._probe_timer = loop.call_later(self.settings.probe_interval, self.send, _Probe())
            return
        state.probes += 1
        self.read_only = None
        seconds = loop.time() - state.started
        _log.warning(
            "the flags are writable again after %.1f s (%d probes, %d writes refused)",
            seconds,
            state.probes,
            state.refused,
        )
        measurements = {"seconds": seconds, "probes": state.probes, "refused": state.refused}
        telemetry.execute(WRITABLE, measurements, {"store": self.store.location})

    def read_only_status(self) -> dict[str, Any] | None:
        """None while writable; else since when, how long, why, probes and refusals (``flags status``,
        the daemon's health)."""
        state = self.read_only
        return None if state is None else state.describe(asyncio.get_running_loop().time())

    async def _write(self, request: _Write) -> ChangeRecord:
        self._refuse_if_read_only()
        if request.if_revision is not None:  # compared and written in this one turn of the server
            in_force = await self.flag_revision(request.flag)
            if in_force != request.if_revision:
                raise RevisionConflict(request.flag, request.if_revision, in_force)
        row = self._state.get(request.flag)
        if row is None and not request.create:
            raise UnknownFlag(
                f"no flag named {request.flag!r}: declare it in [flags.{request.flag}]"
                " or create it explicitly"
            )
        old: FlagState | None = None if row is None else row[_STATE]
        new = apply(old or FlagState(request.flag), request.op)
        change = Change(request.flag, request.op, old, new, request.actor, request.reason, self._clock())
        try:
            revision = await self.store.commit(change)  # raises: nothing is published
        except FlagsReadOnly as error:
            raise self._turn_read_only(error) from error
        self.revision = max(self.revision, revision)
        self._flag_revisions[request.flag] = max(self._flag_revisions.get(request.flag, 0), revision)
        declared = self._declared.get(request.flag)
        self._publish(new, declared.default if declared else False)
        record = ChangeRecord(revision, change)
        self._tell(FlagsEvent("changed", (request.flag,), record))
        _log.info(
            "flag %r: %s by %s (revision %d)%s",
            request.flag,
            request.op.describe(),
            request.actor,
            revision,
            f": {request.reason}" if request.reason else "",
        )
        return record

    async def _write_set(self, request: _WriteSet) -> list[ChangeRecord]:
        # Every state is built first (a flag written twice builds on its first write), so a refusal
        # changes nothing; then one commit; then everything is published, with no await between.
        self._refuse_if_read_only()
        states: dict[str, FlagState | None] = {}
        changes: list[Change] = []
        now = self._clock()
        for flag, op in request.writes:
            if flag in states:
                old = states[flag]
            else:
                row = self._state.get(flag)
                if row is None and not request.create:
                    raise UnknownFlag(
                        f"no flag named {flag!r}: declare it in [flags.{flag}] or create it explicitly"
                    )
                old = None if row is None else row[_STATE]
            new = apply(old or FlagState(flag), op)
            states[flag] = new
            changes.append(Change(flag, op, old, new, request.actor, request.reason, now))
        numbered = change_set(changes) if len(changes) > 1 else changes
        try:
            last = await self.store.commit_set(numbered)  # raises: nothing is published
        except FlagsReadOnly as error:
            raise self._turn_read_only(error) from error
        first = last - len(numbered) + 1
        records = [ChangeRecord(first + i, change) for i, change in enumerate(numbered)]
        self.revision = max(self.revision, last)
        for record in records:
            flag = record.change.flag
            self._flag_revisions[flag] = max(self._flag_revisions.get(flag, 0), record.revision)
        for flag, state in states.items():
            declared = self._declared.get(flag)
            assert state is not None
            self._publish(state, declared.default if declared else False)
        self._tell(FlagsEvent("changed", tuple(states), records[-1]))
        _log.info(
            "flags %s: %s by %s (revisions %d-%d)%s",
            ", ".join(states),
            "; ".join(f"{r.change.flag} {r.change.op.describe()}" for r in records),
            request.actor,
            first,
            last,
            f": {request.reason}" if request.reason else "",
        )
        return records

    async def handle_info(self, message: Any) -> None:
        if isinstance(message, _Remote):
            self.apply_remote(message.record)
        elif isinstance(message, _Probe):
            await self._probe()

    def apply_remote(self, record: ChangeRecord) -> None:
        """Put in force a change another daemon committed to a shared store. A change older than
        the flag's state in force is ignored (a resync may replay it, and it may arrive after this
        daemon's own later write to the flag); one of the same revision is the store's word on it
        (the shared store's rebase of a concurrent write) and replaces it. Per flag, not store-wide:
        another flag's older change, delivered after this daemon's own write, still applies."""
        change = record.change
        if record.revision < self._flag_revisions.get(change.flag, 0):
            return
        self._flag_revisions[change.flag] = record.revision
        self.revision = max(self.revision, record.revision)
        if change.new is None:
            self._state.delete(change.flag)
        else:
            declared = self._declared.get(change.flag)
            self._publish(change.new, declared.default if declared else False)
        self._tell(FlagsEvent("changed", (change.flag,), record))
