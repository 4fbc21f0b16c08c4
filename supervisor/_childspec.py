"""Child specs: frozen, validated descriptions of the children a supervisor starts.

Every mistake is caught when the spec is made, before anything starts, with one error that names the child
and the field:

>>> from supervisor._server import Server
>>> ChildSpec("cache", Server, restart="sometimes")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
supervisor.errors.InvalidChildSpec: child 'cache': field 'restart' must be a Restart ..., got 'sometimes'

Defaults are OTP's: ``restart=PERMANENT``, ``type=WORKER``, and ``shutdown`` 5 seconds for a worker and
``INFINITY`` for a supervisor (times are in seconds, not OTP's milliseconds).

``start_timeout`` is arbord's own (docs/otp-conformance.md#start-timeouts): seconds a start (``init``, or
the start function) may take before the supervisor gives up on it, kills the half-started child and
fails the start (``StartFailed``, as any failed start). Its default, ``None``, waits as long as the
start takes, as OTP does:

>>> ChildSpec("slow", Server).start_timeout is None
True
>>> ChildSpec("slow", Server, start_timeout=0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
supervisor.errors.InvalidChildSpec: child 'slow': field 'start_timeout' must be seconds > 0 or None, got 0
"""

from __future__ import annotations

import enum
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from supervisor.errors import InvalidChildSpec

if TYPE_CHECKING:
    from supervisor._server import Server

__all__ = [
    "DEFAULT_START_TIMEOUT",
    "DEFAULT_WORKER_SHUTDOWN",
    "ChildSpec",
    "ChildType",
    "Restart",
    "Shutdown",
    "StartFunction",
]

DEFAULT_WORKER_SHUTDOWN: Final = 5.0
DEFAULT_START_TIMEOUT: Final = None
"""No limit on a start, as in OTP; set ``start_timeout`` per child to bound it."""


class Restart(enum.Enum):
    """When a child is restarted: always, only after an abnormal exit, or never."""

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class Shutdown(enum.Enum):
    """The two non-numeric shutdown policies; a number of seconds is the third (graceful, then kill)."""

    BRUTAL_KILL = "brutal_kill"
    INFINITY = "infinity"


class ChildType(enum.Enum):
    """A worker, or a supervisor (which changes the default shutdown to ``INFINITY``)."""

    WORKER = "worker"
    SUPERVISOR = "supervisor"


StartFunction: TypeAlias = "type[Server] | Callable[..., Awaitable[Server | None]]"


def _frozen_kwargs() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How to start, restart and stop one child.

    ``start`` is a ``Server`` subclass (started with ``start(*args, name=name, **kwargs)``) or an async
    function returning a started server (or None for OTP's ``ignore``). ``name`` registers the child so
    ``whereis(name)`` finds its current incarnation. ``significant`` children drive ``auto_shutdown``.
    """

    id: str
    start: StartFunction
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=_frozen_kwargs)
    restart: Restart = Restart.PERMANENT
    shutdown: float | Shutdown | None = None
    type: ChildType = ChildType.WORKER
    significant: bool = False
    name: str | None = None
    start_timeout: float | None = DEFAULT_START_TIMEOUT
    """Seconds a start may take before it is killed and fails; None: no limit (OTP's behaviour)."""

    def __post_init__(self) -> None:
        def bad(field_name: str, expected: str, got: object) -> InvalidChildSpec:
            return InvalidChildSpec(
                f"child {self.id!r}: field {field_name!r} must be {expected}, got {got!r}"
            )

        if not isinstance(self.id, str) or not self.id:
            raise InvalidChildSpec(f"child {self.id!r}: field 'id' must be a non-empty string")
        if not callable(self.start):
            raise bad("start", "a Server subclass or an async function", self.start)
        if not isinstance(self.args, tuple):
            raise bad("args", "a tuple", self.args)
        if not isinstance(self.kwargs, Mapping):
            raise bad("kwargs", "a mapping", self.kwargs)
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))
        if not isinstance(self.restart, Restart):
            raise bad("restart", "a Restart (PERMANENT, TRANSIENT or TEMPORARY)", self.restart)
        if not isinstance(self.type, ChildType):
            raise bad("type", "a ChildType (WORKER or SUPERVISOR)", self.type)
        if self.shutdown is None:
            default = Shutdown.INFINITY if self.type is ChildType.SUPERVISOR else DEFAULT_WORKER_SHUTDOWN
            object.__setattr__(self, "shutdown", default)
        elif isinstance(self.shutdown, bool) or not isinstance(self.shutdown, int | float | Shutdown):
            raise bad("shutdown", "seconds >= 0, Shutdown.BRUTAL_KILL or Shutdown.INFINITY", self.shutdown)
        elif not isinstance(self.shutdown, Shutdown) and not self.shutdown >= 0:
            raise bad("shutdown", "seconds >= 0", self.shutdown)
        if not isinstance(self.significant, bool):
            raise bad("significant", "a bool", self.significant)
        if self.significant and self.restart is Restart.PERMANENT:
            raise bad("significant", "False for a PERMANENT child (OTP forbids it)", self.significant)
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise bad("name", "a non-empty string or None", self.name)
        timeout = self.start_timeout
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout < math.inf  # NaN fails both comparisons
        ):
            raise bad("start_timeout", "seconds > 0 or None", timeout)

    @property
    def shutdown_timeout(self) -> float | None:
        """Seconds to wait for a graceful stop; 0 for brutal_kill, None for infinity."""
        if self.shutdown is Shutdown.BRUTAL_KILL:
            return 0.0
        if self.shutdown is Shutdown.INFINITY:
            return None
        assert isinstance(self.shutdown, int | float)
        return float(self.shutdown)
