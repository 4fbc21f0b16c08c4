"""Turn pydantic's validation errors into one readable line per configuration problem.

Each line names the key, what was expected, the value given and where it came from (the environment
variable, or the file and line), e.g.::

    control.max_frame_bytes: expected an integer >= 1024 (got 12; from /etc/arbord/arbord.toml line 9)
    daemon.bogus: unknown key; expected one of: loop, runtime_dir, ... (got 1; from environment variable ...)

pydantic's own ``str(error)`` adds documentation URLs and does not know the sources, hence this module.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from daemon.settings_sources import Loc

__all__ = ["describe_value", "format_validation_error", "known_keys"]

_MAX_VALUE_CHARS: Final = 80


def describe_value(value: object) -> str:
    """A short ``repr`` of a refused value (long ones are cut)."""
    text = repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def _unwrap(annotation: Any) -> Any:
    """The model (or mapping) type inside ``X | None`` and friends."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _unwrap(arg)
    return annotation


def known_keys(model: type[BaseModel], loc: Loc) -> list[str] | None:
    """The keys the table at ``loc`` accepts (``loc`` ends at the table), or None if not a model."""
    current: Any = model
    parts = list(loc)
    while parts:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        part = parts.pop(0)
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = _unwrap(field.annotation)
        origin = typing.get_origin(current)
        if origin in (dict, collections.abc.Mapping):
            if not parts:
                return None
            parts.pop(0)  # the mapping's own key: a server or cache name
            current = _unwrap(typing.get_args(current)[1])
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return None


def _expectation(error: Any) -> str:
    message = str(error["msg"])
    for prefix, replacement in (("Input should be ", "expected "), ("Value error, ", "")):
        if message.startswith(prefix):
            message = replacement + message[len(prefix) :]
            break
    for bound in ("greater", "less"):
        message = message.replace(f"expected {bound} than", f"expected a value {bound} than")
    return message


def format_validation_error(
    error: ValidationError,
    model: type[BaseModel],
    origin: Callable[[Loc], str | None],
    prefix: Sequence[str] = (),
) -> list[str]:
    """One line per problem in ``error`` (raised validating ``model``); ``origin(loc)`` names a source."""
    problems: list[str] = []
    for item in error.errors(include_url=False):
        loc: Loc = (*prefix, *item["loc"])
        key = ".".join(str(part) for part in loc) or "(top level)"
        source = origin(loc) or "default"
        if item["type"] == "extra_forbidden":
            allowed = known_keys(model, loc[len(prefix) : -1])
            expected = f"unknown key; expected one of: {', '.join(allowed)}" if allowed else "unknown key"
            problems.append(f"{key}: {expected} (got {describe_value(item['input'])}; from {source})")
        elif item["type"] == "missing":
            problems.append(f"{key}: required but not given (in {source})")
        else:
            problems.append(
                f"{key}: {_expectation(item)} (got {describe_value(item['input'])}; from {source})"
            )
    return problems
