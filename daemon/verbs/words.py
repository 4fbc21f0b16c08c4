"""``arborctl``'s generic mapping from words on the command line to a method and its params.

The verb is the longest run of leading words that, joined with ``.``, names a method the daemon has
(``registry lookup k`` → ``registry.lookup``), after a few aliases (``children`` → ``which_children``;
``arborctl restart`` is its own verb: terminate, then start again).
The remaining words are ``key=value`` pairs or positional values, given to the method's params in
order, required ones first (the order its ``methods`` schema lists). Values parse as JSON when they
can (``limit=10``, ``tags='["a"]'``) and stay strings otherwise, or always for string-only params.

>>> schema = {"properties": {"name": {"type": "string"}, "limit": {"type": "integer"}}, "required": ["name"]}
>>> resolve_method(["tables", "dump", "agents", "limit=5"], {"tables.dump"})
('tables.dump', ['agents', 'limit=5'])
>>> build_params(["agents", "limit=5"], schema)
{'limit': 5, 'name': 'agents'}
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType

# Names for annotations only: importing ``typing`` would cost ``arborctl`` a share of its start-up
# (bench/bench_arborctl.py); mypy reads this block, the interpreter skips it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["ALIASES", "UsageError", "build_params", "resolve_method"]

ALIASES: Final = MappingProxyType(
    {
        "children": "which_children",
        "count": "count_children",
        "start": "start_child",
        "stop": "terminate_child",
        "terminate": "terminate_child",
        "delete": "delete_child",
    }
)


class UsageError(Exception):
    """The command line does not name a method or does not fit its params (exit 2)."""


def resolve_method(words: Sequence[str], known: Collection[str]) -> tuple[str, list[str]]:
    """The method the leading words name, and the words left for its params."""
    for count in range(len(words), 0, -1):
        name = ".".join(words[:count])
        name = ALIASES.get(name, name)
        if name in known:
            return name, list(words[count:])
    raise UsageError(f"no method {words[0]!r} (arborctl methods lists them)")


def _string_only(schema: Mapping[str, Any]) -> bool:
    if schema.get("type") == "string":
        return True
    options = schema.get("anyOf")
    return isinstance(options, list) and {o.get("type") for o in options} <= {"string", "null"}


def _value(text: str, schema: Mapping[str, Any]) -> Any:
    if _string_only(schema):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def build_params(
    args: Sequence[str], schema: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Params for a method with JSON ``schema`` from ``args``; ``extra`` (``--params``) wins."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = [p for p in schema.get("required", []) if p in properties]
    order = required + [p for p in properties if p not in required]
    params: dict[str, Any] = {}
    positional: list[str] = []
    for arg in args:
        key, sep, text = arg.partition("=")
        if sep and key in properties:
            params[key] = _value(text, properties[key])
        else:
            positional.append(arg)
    free = [p for p in order if p not in params]
    if len(positional) > len(free):
        unexpected = positional[len(free) :]
        raise UsageError(f"unexpected argument(s) {unexpected}; the params are {order or 'none'}")
    for name, text in zip(free, positional, strict=False):
        params[name] = _value(text, properties[name])
    params.update(extra or {})
    return params
