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

The table lives as long as the server: a restart of the crash log starts an empty one, numbered
from 1 again.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from daemon.context import CRASH_ATTRIBUTE
from daemon.crashes.record import CrashRecord
from supervisor import Caller, Exit, Server, telemetry
from supervisor.errors import HandlerNotFound

__all__ = [
    "CRASHES_NAME",
    "DEFAULT_CAPACITY",
    "CrashLog",
    "FlagsHook",
    "OpenSpansHook",
    "no_flags",
    "no_open_spans",
]

log = logging.getLogger("arbord.crashes")

CRASHES_NAME: Final = "arbord.crashes"
DEFAULT_CAPACITY: Final = 256

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
    ) -> None:
        if capacity < 1:
            raise ValueError(f"a crash log holds at least one record, not {capacity}")
        self._capacity = capacity
        self._open_spans = open_spans
        self._flags = flags
        self._clock = clock
        self._records: OrderedDict[int, CrashRecord] = OrderedDict()
        self._dropped = 0
        self._ids = itertools.count(1)
        self._handler_id = f"{CRASHES_NAME}@{id(self):x}"
        telemetry.attach_many(self._handler_id, [CHILD_EXIT, CHILD_RESTART, ESCALATE], self._on_event)

    async def terminate(self, reason: Exit) -> None:
        try:
            telemetry.detach(self._handler_id)
        except HandlerNotFound:  # detached by the bus after a failure (logged there)
            pass

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
        crash_id = next(self._ids)
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
                self._records[record.id] = record
                while len(self._records) > self._capacity:
                    self._records.popitem(last=False)
                    self._dropped += 1
            case ("decide", str() as supervisor, str() as child, str() as decision, restarts, left):
                self._decide(supervisor, child, decision, restarts, left)

    def _decide(
        self, supervisor: str, child: str, decision: str, restarts: int | None, left: int | None
    ) -> None:
        # The newest undecided record of that child: its exit came just before, in the same task.
        for record in reversed(self._records.values()):
            if record.supervisor == supervisor and record.child == child:
                if record.decision == "no restart":
                    self._records[record.id] = record.decided(
                        decision, record.restarts if restarts is None else restarts, left
                    )
                return

    async def handle_call(self, request: Any, caller: Caller) -> Any:
        match request:
            case ("list", int() as limit):
                newest = list(reversed(self._records.values()))[:limit]
                return {
                    "crashes": [r.summary() for r in newest],
                    "total": len(self._records),
                    "dropped": self._dropped,
                    "capacity": self._capacity,
                }
            case ("show", int() as crash_id):
                record = self._records.get(crash_id)
                return None if record is None else record.as_dict()
        raise ValueError(f"unknown request {request!r}")
