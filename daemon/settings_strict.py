"""A configuration file's values are typed: TOML says what each value is, and it is never converted.

The environment is text, so ``ARBORD_TREE__ROOT__INTENSITY=3`` is parsed into the integer 3 (pydantic's
lax mode, as documented). A file is not: ``intensity = "3"`` is a string where an integer belongs, and
``period = true`` a boolean where seconds belong (lax mode would read it as a 1-second window). So a
file's values are checked once more in pydantic's strict mode, on the JSON form of the file (JSON
strict mode takes an array for a tuple and a string for a path, as TOML has neither), and every value
whose *type* is wrong is refused with the TOML type it was given:

>>> from daemon.sections import SupervisorSection
>>> from daemon.settings_sources import parse_toml
>>> doc = parse_toml('period = true\\nintensity = 3\\n', "a.toml")
>>> strict_problems(SupervisorSection, doc, lambda loc: False)
['period: expected a valid number, not a TOML boolean (got True; from a.toml line 1)']

Only type errors are reported here: ranges, unknown keys and the like are the lax pass's, which sees
the file and the environment together (``daemon.settings.load_settings``), so a problem is never
reported twice. A value the environment overrides is not the file's problem (``overridden``).
"""

from __future__ import annotations

import collections.abc
import datetime
import json
import sys
import typing
from collections.abc import Callable, Iterable
from types import MappingProxyType
from typing import Annotated, Any, Final, TypeGuard

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from daemon.settings_errors import describe_value
from daemon.settings_sources import Loc, TomlSource

__all__ = ["STRICT_CONTEXT", "strict_problems", "toml_type"]

STRICT_CONTEXT: Final = MappingProxyType({"strict": True})
"""The validation context of the strict pass: a field validator that converts values itself (a
``mode="before"`` one, such as a server's ``shutdown``) reads it to convert nothing."""

_TABLES: Final = (dict, collections.abc.Mapping)

_TYPE_ERRORS: Final = frozenset(
    {
        "bool_type",
        "dict_type",
        "float_type",
        "int_type",
        "is_instance_of",
        "list_type",
        "model_type",
        "path_type",
        "string_type",
        "tuple_type",
    }
)


def toml_type(value: object) -> str:
    """The TOML name of a parsed value's type (``tomllib``'s Python types)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return "date-time"
    return type(value).__name__


def _value_at(data: Any, loc: Loc) -> tuple[bool, Any]:
    for part in loc:
        in_table = isinstance(data, dict) and part in data
        in_array = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if in_table or in_array:
            data = data[part]
        else:
            return False, None
    return True, data


def _as_json(value: Any) -> Any:
    # A TOML date-time fits no setting; the lax pass refuses it, so here it only needs to be JSON.
    return value.isoformat() if isinstance(value, datetime.date | datetime.time) else str(value)


def strict_problems(
    model: type[BaseModel],
    toml: TomlSource,
    overridden: Callable[[Loc], bool],
    skip: Iterable[Loc] = (),
) -> list[str]:
    """One line per value of ``toml`` whose TOML type does not fit ``model``'s field.

    ``overridden(loc)`` is true for a value the environment replaces; a value with a location of
    ``skip`` at or under it is already reported by the lax pass.
    """
    skipped = [tuple(str(part) for part in loc) for loc in skip]
    items = _strict_errors(model, toml.data)
    problems: list[str] = []
    seen: set[Loc] = set()
    for item in items:
        if item["type"] not in _TYPE_ERRORS:
            continue
        loc = _data_loc(toml.data, item["loc"])
        parts = tuple(str(part) for part in loc)
        if loc in seen or overridden(loc) or any(other[: len(parts)] == parts for other in skipped):
            continue
        found, value = _value_at(toml.data, loc)
        origin = toml.origin(loc)
        if not found or origin is None:
            continue
        seen.add(loc)
        key = ".".join(parts)
        expected = str(item["msg"]).replace("Input should be ", "expected ", 1)
        if item["type"] == "is_instance_of":
            expected = "expected a value of its own type"
        problems.append(
            f"{key}: {expected}, not a TOML {toml_type(value)} (got {describe_value(value)}; from {origin})"
        )
    return problems


def _is_settings_model(model: type[BaseModel]) -> bool:
    """True for a pydantic-settings model. Asked without importing pydantic-settings, which arbord's own
    settings no longer use (daemon/sections.py) and which cost a sixth of the start's imports: a model
    can only be one if the package is already imported (docs/performance.md, "The daemon")."""
    package = sys.modules.get("pydantic_settings")
    return package is not None and issubclass(model, package.BaseSettings)


def _strict_errors(model: type[BaseModel], data: dict[str, Any]) -> list[ErrorDetails]:
    """pydantic's errors for ``data`` validated strictly, as JSON, against ``model``.

    A pydantic-settings model validates through its own ``__init__``, which drops ``strict``: its
    sections are validated one by one instead, each through the section's own model (already built,
    so this costs no schema building at start; a table of sections, ``[servers.*]``, entry by entry).
    """
    if not _is_settings_model(model):
        return _errors(model, data, ())
    errors: list[ErrorDetails] = []
    for name, value in data.items():
        field = model.model_fields.get(name)
        if field is None:
            continue  # an unknown section: the lax pass reports it
        annotation = field.annotation
        entry = typing.get_args(annotation)[1] if typing.get_origin(annotation) in _TABLES else None
        if _is_model(entry) and isinstance(value, dict):
            for key, item in value.items():
                errors.extend(_errors(entry, item, (name, key)))
        elif _is_model(annotation) or not field.metadata:
            errors.extend(_errors(annotation, value, (name,)))
        else:
            errors.extend(_errors(Annotated[(annotation, *field.metadata)], value, (name,)))
    return errors


def _is_model(annotation: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _errors(annotation: Any, value: Any, prefix: Loc) -> list[ErrorDetails]:
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    try:
        adapter.validate_json(json.dumps(value, default=_as_json), strict=True, context=STRICT_CONTEXT)
    except ValidationError as error:
        return [{**item, "loc": (*prefix, *item["loc"])} for item in error.errors(include_url=False)]
    return []


def _data_loc(data: Any, loc: Loc) -> Loc:
    """``loc`` without the tags pydantic adds for a union's members (``shutdown.float``)."""
    kept: list[str | int] = []
    for part in loc:
        found, _ = _value_at(data, (*kept, part))
        if not found:
            break
        kept.append(part)
    return tuple(kept)
