"""SupervisorFlags: frozen, validated, defaults stated once; both supervisors take them (issue 10, part 3).

A bad flag fails when the record is made, with ``InvalidSupervisorFlags`` naming the field and the value;
``Supervisor(...)`` and ``DynamicSupervisor(...)`` take the same fields as keyword arguments or a whole
record as ``flags=``, keyword arguments overriding its fields.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from supervisor import SHUTDOWN, AutoShutdown, DynamicSupervisor, Strategy, Supervisor, SupervisorFlags
from supervisor._flags import DEFAULT_INTENSITY, DEFAULT_KILL_GRACE, DEFAULT_PERIOD
from supervisor._supervisor import check_flags, validate_flags
from supervisor.errors import InvalidSupervisorFlags
from supervisor.testing import ManualClock
from tests.supervisor.test_supervisor_support import EventLog, crash_child, server_of, worker

# --- the record ---------------------------------------------------------------------------------------


def test_the_defaults_are_the_exported_constants() -> None:
    flags = SupervisorFlags()
    assert flags == SupervisorFlags(
        strategy=Strategy.ONE_FOR_ONE,
        intensity=DEFAULT_INTENSITY,
        period=DEFAULT_PERIOD,
        auto_shutdown=AutoShutdown.NEVER,
        kill_grace=DEFAULT_KILL_GRACE,
    )
    assert (DEFAULT_INTENSITY, DEFAULT_PERIOD, DEFAULT_KILL_GRACE) == (3, 5.0, 1.0)


def test_flags_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SupervisorFlags().intensity = 5  # type: ignore[misc]


def test_times_are_stored_as_float_seconds() -> None:
    flags = SupervisorFlags(period=2, kill_grace=0)
    assert (flags.period, flags.kill_grace) == (2.0, 0.0)
    assert isinstance(flags.period, float)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("strategy", "one_for_one"),
        ("strategy", None),
        ("intensity", -1),
        ("intensity", 1.5),
        ("intensity", True),
        ("intensity", "3"),
        ("period", 0),
        ("period", -5.0),
        ("period", False),
        ("period", float("nan")),
        ("auto_shutdown", "never"),
        ("kill_grace", -1),
        ("kill_grace", "1"),
    ],
    ids=repr,
)
def test_a_bad_flag_is_refused_with_its_field_and_value_named(field: str, value: object) -> None:
    options: dict[str, Any] = {field: value}
    with pytest.raises(InvalidSupervisorFlags) as raised:
        SupervisorFlags(**options)
    assert str(raised.value).startswith(f"field {field!r} must be ")
    assert str(raised.value).endswith(f"got {value!r}")


def test_from_options_lays_keyword_arguments_over_a_record() -> None:
    base = SupervisorFlags(intensity=10, strategy=Strategy.REST_FOR_ONE)
    assert SupervisorFlags.from_options(base, {}) is base
    assert SupervisorFlags.from_options(base, {"period": 1.0}) == dataclasses.replace(base, period=1.0)
    assert SupervisorFlags.from_options(None, {}) == SupervisorFlags()


def test_from_options_refuses_an_unknown_option_as_a_bad_keyword_would_be() -> None:
    with pytest.raises(TypeError, match="max_children"):
        SupervisorFlags.from_options(None, {"max_children": 3})


def test_from_options_refuses_flags_that_are_not_a_record() -> None:
    not_flags: Any = {"intensity": 1}
    with pytest.raises(InvalidSupervisorFlags, match="SupervisorFlags"):
        SupervisorFlags.from_options(not_flags, {})


def test_the_older_check_functions_check_the_same() -> None:
    with pytest.raises(InvalidSupervisorFlags, match="'period'"):
        validate_flags(3, 0, 1.0)
    with pytest.raises(InvalidSupervisorFlags, match="'strategy'"):
        check_flags("one_for_all", AutoShutdown.NEVER, 3, 5.0, 1.0)  # type: ignore[arg-type]


# --- Supervisor and DynamicSupervisor take them ----------------------------------------------------


async def test_supervisor_takes_a_flags_record_and_keyword_overrides() -> None:
    flags = SupervisorFlags(strategy=Strategy.ONE_FOR_ALL, intensity=7)
    async with Supervisor([], flags=flags, period=2.0) as sup:
        assert sup.flags == dataclasses.replace(flags, period=2.0)
        assert (sup.strategy, sup.auto_shutdown, sup.kill_grace) == (
            Strategy.ONE_FOR_ALL,
            AutoShutdown.NEVER,
            1.0,
        )


async def test_the_flags_record_governs_restarts() -> None:
    log: EventLog = []
    sup = await Supervisor.start([worker("a", log)], flags=SupervisorFlags(intensity=0), clock=ManualClock())
    await crash_child(await server_of(sup, "a"))
    assert await sup.wait() == SHUTDOWN  # intensity 0: the first restart is one too many


def test_supervisor_refuses_a_bad_flag_in_a_record_or_a_keyword() -> None:
    with pytest.raises(InvalidSupervisorFlags, match="'intensity'"):
        Supervisor([], flags=SupervisorFlags(), intensity=-1)
    not_flags: Any = "one_for_one"
    with pytest.raises(InvalidSupervisorFlags, match="SupervisorFlags"):
        Supervisor([], flags=not_flags)


async def test_dynamic_supervisor_takes_a_flags_record() -> None:
    async with DynamicSupervisor(flags=SupervisorFlags(intensity=9), kill_grace=0.5) as sup:
        assert sup.flags == SupervisorFlags(intensity=9, kill_grace=0.5)


@pytest.mark.parametrize(
    "flags",
    [
        SupervisorFlags(strategy=Strategy.ONE_FOR_ALL),
        SupervisorFlags(auto_shutdown=AutoShutdown.ANY_SIGNIFICANT),
    ],
    ids=repr,
)
def test_dynamic_supervisor_refuses_a_strategy_or_auto_shutdown(flags: SupervisorFlags) -> None:
    field = "strategy" if flags.strategy is not Strategy.ONE_FOR_ONE else "auto_shutdown"
    with pytest.raises(InvalidSupervisorFlags, match=f"field {field!r}"):
        DynamicSupervisor(flags=flags)
