"""A supervisor's record of one child, and the views of its children it gives out.

Both supervisors keep one ``ChildRecord`` per child spec: the spec, the current incarnation (a server,
or None), its state and its restart count. ``which_children`` turns records into frozen ``ChildInfo``
rows and ``count_children`` into a ``ChildCounts``:

>>> from supervisor._childspec import ChildSpec
>>> from supervisor._server import Server
>>> record = ChildRecord(ChildSpec("a", Server))
>>> record.info().state, record.server_class is Server
(<ChildState.UNDEFINED: 'undefined'>, True)
>>> count_children([record])
ChildCounts(specs=1, active=0, supervisors=0, workers=1)
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, TypeAlias

from supervisor._childspec import ChildSpec, ChildType
from supervisor._server import Server

__all__ = [
    "ChildCounts",
    "ChildInfo",
    "ChildRecord",
    "ChildState",
    "RestartAck",
    "count_children",
    "server_class",
]


class ChildState(enum.Enum):
    """OTP's child states: running (a live server), restarting (a retry is queued), undefined (stopped)."""

    RUNNING = "running"
    RESTARTING = "restarting"
    UNDEFINED = "undefined"


_RUNNING: Final = ChildState.RUNNING


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """One row of ``which_children``. ``id`` is None under a DynamicSupervisor."""

    id: str | None
    server: Server | None
    state: ChildState
    type: ChildType
    restarts: int
    uptime: float | None


@dataclass(frozen=True, slots=True)
class ChildCounts:
    """``count_children``: specs (alive or not), active (running), supervisors and workers (any state)."""

    specs: int
    active: int
    supervisors: int
    workers: int


def server_class(spec: ChildSpec) -> type[Server] | None:
    """``spec.start`` when it is a ``Server`` subclass (started by ``launch``), else None."""
    start = spec.start
    return start if isinstance(start, type) and issubclass(start, Server) else None


class ChildRecord:
    """A supervisor's record of one child: its spec and its current incarnation, if any."""

    __slots__ = ("ack", "restarts", "server", "server_class", "spec", "started_at", "state", "watch_key")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        # Worked out once per child, not on every (re)start.
        self.server_class = server_class(spec)
        # The start signal reused by each restart that does not wait in the supervisor's task; made
        # on the first such restart.
        self.ack: RestartAck | None = None
        self.server: Server | None = None
        self.watch_key: object = None
        self.state = ChildState.UNDEFINED
        self.restarts = 0
        self.started_at = 0.0

    def respec(self, spec: ChildSpec) -> None:
        """Take ``spec`` for this child's next start; the current incarnation, if any, runs on."""
        self.spec = spec
        self.server_class = server_class(spec)

    def info(self, *, anonymous: bool = False) -> ChildInfo:
        """This child as a ``which_children`` row; ``anonymous`` leaves the id out (DynamicSupervisor)."""
        running = self.state is _RUNNING
        return ChildInfo(
            id=None if anonymous else self.spec.id,
            server=self.server,
            state=self.state,
            type=self.spec.type,
            restarts=self.restarts,
            uptime=time.monotonic() - self.started_at if running else None,
        )


AckReport: TypeAlias = "Callable[[RestartAck, bool, BaseException | None], None]"


class RestartAck:
    """The start signal (``server.StartSignal``) of a child restarted without waiting for its init in
    the supervisor's task (``SupervisorEngine._restart_held``): a future's ``done``, ``set_result`` and
    ``set_exception``, which hand the outcome of the child's init to ``report`` at once.

    One per child record, reused by each restart (``server`` is the incarnation being started): each
    incarnation reports exactly once, before the next one can be started."""

    __slots__ = ("record", "report", "reported", "server")

    def __init__(self, record: ChildRecord, report: AckReport) -> None:
        self.record = record
        self.report = report
        self.server: Server | None = None
        self.reported = False

    def done(self) -> bool:
        return self.reported

    def set_result(self, running: bool, /) -> None:
        self.reported = True
        self.report(self, running, None)

    def set_exception(self, error: BaseException, /) -> None:
        self.reported = True
        self.report(self, False, error)


def count_children(records: Iterable[ChildRecord]) -> ChildCounts:
    """``count_children`` over ``records``."""
    specs = active = supervisors = 0
    for record in records:
        specs += 1
        active += record.state is _RUNNING
        supervisors += record.spec.type is ChildType.SUPERVISOR
    return ChildCounts(specs=specs, active=active, supervisors=supervisors, workers=specs - supervisors)
