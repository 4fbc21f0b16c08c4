"""The crash log: the server ``arbord.crashes``, which keeps one ``CrashRecord`` per crash any
supervisor of the daemon handles, in a bounded table it owns (oldest dropped, drops counted).

It builds on the supervisors' telemetry, so ``supervisor`` knows nothing of it: a handler it attaches
for its lifetime sees ``("supervisor", "child", "exit")`` (an abnormal one makes a record),
``("supervisor", "child", "restart")`` (the decision ``restart``, with ``intensity_left``) and
``("supervisor", "escalate")`` (``give up``). The handler runs in the supervisor's task, before the
supervisor logs its report: it numbers the crash there and stamps the number on the exception — the
attribute ``__arbord_crash_id__`` (``ContextFilter`` makes it the record's ``crash_id``) and a note
(``arbord crash id: N``, under the report's traceback) — so the crash's log line carries its id.
The records themselves reach the table through the server's mailbox (ordered writes go through the
owner).

Open spans: ``open_spans`` is the hook the span server wires in (``OpenSpansHook``): given the exit
event's metadata, the spans the crash left open, as plain mappings. Without it, records list none.

**Crash and restart.** The records live in two tables the server owns, ``arbord.crashes`` (an
ordered set keyed by crash id) and ``arbord.crashes.meta`` (the next id, the drop count), with the
keeper ``arbord.crashes.keeper`` (a ``TableKeeper``, its elder sibling at the root) as heir: when the
crash log crashes or is stopped, the tables pass to the keeper, and the next incarnation claims them
back in ``init``. The records, their numbering and the drop count go on; a smaller ``capacity``
(a reload of ``[crashes]``) drops the oldest, counted. Without a keeper (``keeper=None``) the tables
die with the server, and the next one starts an empty log numbered from 1. If the keeper itself
restarts, it announces itself (``KeeperUp``) and the crash log makes it heir again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from daemon.context import CRASH_ATTRIBUTE
from daemon.crashes.record import CrashRecord
from daemon.registry.keeper import Claim, KeeperUp, TableKeeper
from supervisor import (
    Access,
    Caller,
    Down,
    Exit,
    MonitorRef,
    Server,
    Table,
    TableType,
    demonitor,
    monitor,
    telemetry,
    whereis,
)
from supervisor.errors import HandlerNotFound
from supervisor.tables import END_OF_TABLE, TableTransfer

__all__ = [
    "CRASHES_NAME",
    "DEFAULT_CAPACITY",
    "KEEPER_NAME",
    "META_TABLE",
    "RECORDS_TABLE",
    "CrashLog",
    "FlagsHook",
    "OpenSpansHook",
    "no_flags",
    "no_open_spans",
]

log = logging.getLogger("arbord.crashes")

CRASHES_NAME: Final = "arbord.crashes"
DEFAULT_CAPACITY: Final = 256
KEEPER_NAME: Final = "arbord.crashes.keeper"
"""The heir of the crash log's tables (the component ``crashes_keeper``)."""
RECORDS_TABLE: Final = "arbord.crashes"
"""The records: an ordered set of ``(id, CrashRecord)``."""
META_TABLE: Final = "arbord.crashes.meta"
"""``("next_id", n)`` (the last id given) and ``("dropped", n)``."""
_LABEL: Final = CRASHES_NAME  # the heir data the keeper files the tables under

CHILD_EXIT: Final = ("supervisor", "child", "exit")
CHILD_RESTART: Final = ("supervisor", "child", "restart")
ESCALATE: Final = ("supervisor", "escalate")

OpenSpansHook = Callable[[Mapping[str, Any]], Sequence[Mapping[str, Any]]]
"""``open_spans(exit_metadata) -> spans``: the spans the crashed child left open (the span server
wires it; ``no_open_spans`` until then)."""


FlagsHook = Callable[[], Mapping[str, Any] | None]
"""``flags()``: the flags in force at a crash (the flags component wires ``flags_in_force``)."""


def no_flags() -> Mapping[str, Any] | None:
    """The default ``FlagsHook``: no flags server, no flags recorded."""
    return None


def no_open_spans(metadata: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """The default ``OpenSpansHook``: no span server, no open spans."""
    return ()


class CrashLog(Server):
    """``arbord.crashes``: the crash records (see the module). Calls: ``("list", limit)``,
    ``("show", id)``."""

    async def init(
        self,
        capacity: int = DEFAULT_CAPACITY,
        open_spans: OpenSpansHook = no_open_spans,
        clock: Callable[[], float] = time.time,
        flags: FlagsHook = no_flags,
        keeper: str | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"a crash log holds at least one record, not {capacity}")
        self._capacity = capacity
        self._open_spans = open_spans
        self._flags = flags
        self._clock = clock
        self._keeper: TableKeeper | None = None
        self._keeper_ref: MonitorRef | None = None
        keeper_server = whereis(keeper) if keeper is not None else None
        claimed: tuple[Table, ...] = ()
        if isinstance(keeper_server, TableKeeper):
            claimed = await keeper_server.call(Claim(_LABEL, self))
        tables = {t.name: t for t in claimed}
        if set(tables) != {RECORDS_TABLE, META_TABLE}:  # none (or part) came back: a new, empty log
            for table in tables.values():
                table.delete_table()
            tables = {
                RECORDS_TABLE: Table(RECORDS_TABLE, type=TableType.ORDERED_SET, access=Access.PUBLIC),
                META_TABLE: Table(META_TABLE, access=Access.PUBLIC),
            }
            tables[META_TABLE].insert([("next_id", 0), ("dropped", 0)])
        self._records = tables[RECORDS_TABLE]
        self._meta = tables[META_TABLE]
        self._trim()  # a reload may have made the log smaller
        self._appoint(keeper_server if isinstance(keeper_server, TableKeeper) else None)
        self._handler_id = f"{CRASHES_NAME}@{id(self):x}"
        telemetry.attach_many(self._handler_id, [CHILD_EXIT, CHILD_RESTART, ESCALATE], self._on_event)

    async def terminate(self, reason: Exit) -> None:
        try:
            telemetry.detach(self._handler_id)
        except HandlerNotFound:  # detached by the bus after a failure (logged there)
            pass

    def _appoint(self, keeper: TableKeeper | None) -> None:
        if self._keeper_ref is not None:
            demonitor(self._keeper_ref, flush=True)
        self._keeper = keeper if keeper is not None and keeper.alive else None
        self._keeper_ref = monitor(self._keeper, watcher=self) if self._keeper is not None else None
        for table in (self._records, self._meta):
            table.set_heir(self._keeper, _LABEL)

    def _trim(self) -> None:
        while len(self._records) > self._capacity:
            self._records.delete(self._records.first())
            self._meta.update_counter("dropped", 1)

    async def handle_info(self, message: Any) -> None:
        if isinstance(message, Down) and message.ref is self._keeper_ref:
            self._appoint(None)  # until the restarted keeper says KeeperUp
        elif isinstance(message, KeeperUp):
            self._appoint(message.keeper)
        elif isinstance(message, TableTransfer):
            pass  # our own tables coming back (claimed in init)

    # --- in the supervisor's task ----------------------------------------------------------------

    def _on_event(
        self, event: tuple[str, ...], measurements: Mapping[str, float], metadata: Mapping[str, Any], _: Any
    ) -> None:
        if not self.alive:
            # Killed without its terminate (brutal_kill): this incarnation's handler leaves now, so a
            # dead crash log never holds the bus (test_a_killed_crash_log_leaves_the_bus).
            telemetry.detach(self._handler_id)
            return
        supervisor, child = str(metadata.get("supervisor")), str(metadata.get("child_id"))
        if event == CHILD_EXIT:
            reason = metadata.get("reason")
            if isinstance(reason, Exit) and reason.is_abnormal:
                self._record(supervisor, child, reason, metadata, int(measurements.get("restarts", 0)))
        elif event == CHILD_RESTART:
            left = measurements.get("intensity_left")
            restarts = int(measurements.get("restarts", 0))
            self.cast(("decide", supervisor, child, "restart", restarts, None if left is None else int(left)))
        elif event == ESCALATE:
            self.cast(("decide", supervisor, child, "give up", None, 0))

    def _record(
        self, supervisor: str, child: str, reason: Exit, metadata: Mapping[str, Any], restarts: int
    ) -> None:
        crash_id: int = self._meta.update_counter("next_id", 1)
        exc = reason.exception
        if exc is not None:
            try:
                setattr(exc, CRASH_ATTRIBUTE, crash_id)
                exc.add_note(f"arbord crash id: {crash_id} (arborctl crashes show {crash_id})")
            except (AttributeError, TypeError):  # an exception type without a __dict__
                pass
        try:
            spans = tuple(self._open_spans(metadata))
        except Exception:
            log.exception("the open-spans hook failed for crash %d", crash_id)
            spans = ()
        try:
            flags = self._flags()
        except Exception:
            log.exception("the flags hook failed for crash %d", crash_id)
            flags = None
        record = CrashRecord.of(
            crash_id,
            supervisor,
            child,
            reason,
            time=self._clock(),
            restarts=restarts,
            open_spans=spans,
            flags=flags,
        )
        self.cast(("add", record))

    # --- in the server's task --------------------------------------------------------------------

    async def handle_cast(self, message: Any) -> None:
        match message:
            case ("add", CrashRecord() as record):
                self._records.insert((record.id, record))
                self._trim()
            case ("decide", str() as supervisor, str() as child, str() as decision, restarts, left):
                self._decide(supervisor, child, decision, restarts, left)

    def _decide(
        self, supervisor: str, child: str, decision: str, restarts: int | None, left: int | None
    ) -> None:
        # The newest undecided record of that child: its exit came just before, in the same task.
        for record in self._newest():
            if record.supervisor == supervisor and record.child == child:
                if record.decision == "no restart":
                    self._records.insert(
                        (
                            record.id,
                            record.decided(decision, record.restarts if restarts is None else restarts, left),
                        )
                    )
                return

    def _newest(self, limit: int | None = None) -> list[CrashRecord]:
        """The records, newest first (at most ``limit``)."""
        records: list[CrashRecord] = []
        key = self._records.last()
        while key is not END_OF_TABLE and (limit is None or len(records) < limit):
            records.append(self._records.lookup_element(key, 1))
            key = self._records.prev(key)
        return records

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        match request:
            case ("list", int() as limit):
                return {
                    "crashes": [r.summary() for r in self._newest(limit)],
                    "total": len(self._records),
                    "dropped": self._meta.lookup_element("dropped", 1),
                    "capacity": self._capacity,
                }
            case ("show", int() as crash_id):
                row = self._records.get(crash_id)
                return None if row is None else row[1].as_dict()
        raise ValueError(f"unknown request {request!r}")
