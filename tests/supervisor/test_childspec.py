"""Child specs, item by item against OTP's child spec (docs/otp-conformance.md#child-specs).

A spec is frozen, validated data: every mistake is one ``InvalidChildSpec`` naming the child and the
field, raised when the spec is made, before any supervisor starts anything.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from supervisor import ChildSpec, ChildType, Restart, Shutdown
from supervisor._childspec import DEFAULT_WORKER_SHUTDOWN
from supervisor._server import Server
from supervisor.errors import InvalidChildSpec


async def start_nothing() -> None:
    return None


def test_defaults_are_otps_permanent_worker_with_five_second_shutdown() -> None:
    spec = ChildSpec("w", Server)
    assert spec.restart is Restart.PERMANENT
    assert spec.type is ChildType.WORKER
    assert spec.shutdown == DEFAULT_WORKER_SHUTDOWN == 5.0
    assert spec.shutdown_timeout == 5.0
    assert spec.significant is False
    assert spec.args == ()
    assert dict(spec.kwargs) == {}
    assert spec.name is None


def test_a_supervisor_child_defaults_to_infinity_shutdown() -> None:
    spec = ChildSpec("s", Server, type=ChildType.SUPERVISOR)
    assert spec.shutdown is Shutdown.INFINITY
    assert spec.shutdown_timeout is None


@pytest.mark.parametrize(
    ("shutdown", "timeout"),
    [(Shutdown.BRUTAL_KILL, 0.0), (Shutdown.INFINITY, None), (0, 0.0), (2, 2.0), (0.25, 0.25)],
)
def test_shutdown_timeout_reads_each_policy(shutdown: float | Shutdown, timeout: float | None) -> None:
    assert ChildSpec("w", Server, shutdown=shutdown).shutdown_timeout == timeout


def test_an_explicit_shutdown_overrides_the_supervisor_default() -> None:
    spec = ChildSpec("s", Server, type=ChildType.SUPERVISOR, shutdown=Shutdown.BRUTAL_KILL)
    assert spec.shutdown is Shutdown.BRUTAL_KILL


def test_spec_is_frozen() -> None:
    spec = ChildSpec("w", Server)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.restart = Restart.TEMPORARY  # type: ignore[misc]


def test_kwargs_are_copied_and_read_only() -> None:
    options: dict[str, Any] = {"size": 1}
    spec = ChildSpec("w", Server, kwargs=options)
    options["size"] = 2
    assert spec.kwargs["size"] == 1
    with pytest.raises(TypeError):
        spec.kwargs["size"] = 3  # type: ignore[index]


def test_an_async_function_is_a_valid_start() -> None:
    assert ChildSpec("f", start_nothing).start is start_nothing


def test_transient_and_temporary_children_may_be_significant() -> None:
    assert ChildSpec("t", Server, restart=Restart.TRANSIENT, significant=True).significant
    assert ChildSpec("t", Server, restart=Restart.TEMPORARY, significant=True).significant


def test_specs_with_equal_fields_are_equal() -> None:
    assert ChildSpec("w", Server, args=(1,)) == ChildSpec("w", Server, args=(1,))


BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"id": ""}, "id"),
    ({"id": 7}, "id"),
    ({"start": "Server"}, "start"),
    ({"args": [1, 2]}, "args"),
    ({"kwargs": [("a", 1)]}, "kwargs"),
    ({"restart": "permanent"}, "restart"),
    ({"type": "worker"}, "type"),
    ({"shutdown": -1}, "shutdown"),
    ({"shutdown": math.nan}, "shutdown"),
    ({"shutdown": True}, "shutdown"),
    ({"shutdown": "brutal_kill"}, "shutdown"),
    ({"significant": 1}, "significant"),
    ({"significant": True}, "significant"),  # with the default restart, PERMANENT
    ({"significant": True, "restart": Restart.PERMANENT}, "significant"),
    ({"name": ""}, "name"),
    ({"name": 3}, "name"),
]


@pytest.mark.parametrize(("mistake", "field"), BAD_FIELDS, ids=lambda v: repr(v))
def test_each_mistake_raises_one_error_naming_child_and_field(mistake: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {"id": "cache", "start": Server, **mistake}
    with pytest.raises(InvalidChildSpec) as raised:
        ChildSpec(**fields)
    message = str(raised.value)
    assert f"field {field!r}" in message
    assert message.startswith(f"child {fields['id']!r}:")


def test_invalid_child_spec_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="field 'restart'"):
        ChildSpec("cache", Server, restart="sometimes")  # type: ignore[arg-type]
