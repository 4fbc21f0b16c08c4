"""Supervisor flags: a frozen, validated record of how a supervisor restarts and stops its children.

Like ``ChildSpec``, every mistake is caught when the flags are made, before anything starts, with one
error that names the field and the value:

>>> SupervisorFlags(intensity=-1)
Traceback (most recent call last):
...
supervisor.errors.InvalidSupervisorFlags: field 'intensity' must be an int >= 0, got -1

The defaults are stated once, here; ``Supervisor(...)`` and ``DynamicSupervisor(...)`` take the same
names as keyword arguments, or a whole record as ``flags=``:

>>> SupervisorFlags()
SupervisorFlags(strategy=<Strategy.ONE_FOR_ONE: 'one_for_one'>, intensity=3, period=5.0, \
auto_shutdown=<AutoShutdown.NEVER: 'never'>, kill_grace=1.0)
>>> SupervisorFlags.from_options(SupervisorFlags(intensity=10), {"period": 1.0}).period
1.0
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypedDict

from supervisor.errors import InvalidSupervisorFlags

__all__ = [
    "DEFAULT_INTENSITY",
    "DEFAULT_KILL_GRACE",
    "DEFAULT_PERIOD",
    "AutoShutdown",
    "RestartOptions",
    "Strategy",
    "SupervisorFlags",
    "SupervisorOptions",
]


class Strategy(enum.Enum):
    """Which children a supervisor restarts when one of them exits and is to be restarted."""

    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


class AutoShutdown(enum.Enum):
    """Whether the supervisor stops itself when significant children exit on their own (OTP 24)."""

    NEVER = "never"
    ANY_SIGNIFICANT = "any_significant"
    ALL_SIGNIFICANT = "all_significant"


def _seconds(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


@dataclass(frozen=True, slots=True)
class SupervisorFlags:
    """OTP's supervisor flags, plus arbord's ``kill_grace``.

    ``intensity`` restarts are tolerated within ``period`` seconds; one more and the supervisor stops
    every child and exits with ``shutdown``. ``kill_grace`` is how long a cancelled child may take to
    die before it is abandoned (docs/supervision.md, "arbord's brutal_kill"). The default intensity is
    Elixir's 3, not OTP's 1.
    """

    strategy: Strategy = Strategy.ONE_FOR_ONE
    intensity: int = 3
    period: float = 5.0
    auto_shutdown: AutoShutdown = AutoShutdown.NEVER
    kill_grace: float = 1.0

    def __post_init__(self) -> None:
        def bad(field_name: str, expected: str, got: object) -> InvalidSupervisorFlags:
            return InvalidSupervisorFlags(f"field {field_name!r} must be {expected}, got {got!r}")

        if not isinstance(self.strategy, Strategy):
            raise bad("strategy", "a Strategy", self.strategy)
        if isinstance(self.intensity, bool) or not isinstance(self.intensity, int) or self.intensity < 0:
            raise bad("intensity", "an int >= 0", self.intensity)
        if not _seconds(self.period) or not self.period > 0:
            raise bad("period", "seconds > 0", self.period)
        if not isinstance(self.auto_shutdown, AutoShutdown):
            raise bad("auto_shutdown", "an AutoShutdown", self.auto_shutdown)
        if not _seconds(self.kill_grace) or not self.kill_grace >= 0:
            raise bad("kill_grace", "seconds >= 0", self.kill_grace)
        # Stored as floats, as the supervisors always used them.
        object.__setattr__(self, "period", float(self.period))
        object.__setattr__(self, "kill_grace", float(self.kill_grace))

    @classmethod
    def from_options(
        cls,
        flags: SupervisorFlags | None,
        options: Mapping[str, Any],
        allowed: frozenset[str] | None = None,
    ) -> SupervisorFlags:
        """``flags`` (the defaults if None) with the keyword arguments ``options`` laid over it.

        An option not in ``allowed`` (default: every field) is a ``TypeError``, as an unknown keyword
        argument is.
        """
        unknown = options.keys() - (_FIELDS if allowed is None else allowed)
        if unknown:
            raise TypeError(f"unexpected supervisor option(s): {', '.join(sorted(unknown))}")
        if flags is None:
            return cls(**options) if options else _DEFAULTS
        if not isinstance(flags, SupervisorFlags):
            raise InvalidSupervisorFlags(f"flags must be a SupervisorFlags, got {flags!r}")
        return dataclasses.replace(flags, **options) if options else flags


class RestartOptions(TypedDict, total=False):
    """The flags every supervisor takes as keyword arguments (``DynamicSupervisor``'s)."""

    intensity: int
    period: float
    kill_grace: float


class SupervisorOptions(RestartOptions, total=False):
    """The flags ``Supervisor`` takes as keyword arguments: each a field of ``SupervisorFlags``."""

    strategy: Strategy
    auto_shutdown: AutoShutdown


_FIELDS: Final = frozenset(field.name for field in dataclasses.fields(SupervisorFlags))
_DEFAULTS: Final = SupervisorFlags()

DEFAULT_INTENSITY: Final = _DEFAULTS.intensity  # Elixir's default (OTP's is 1): see docs/supervision.md
DEFAULT_PERIOD: Final = _DEFAULTS.period
DEFAULT_KILL_GRACE: Final = _DEFAULTS.kill_grace
