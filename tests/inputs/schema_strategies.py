"""Hypothesis strategies from the JSON schemas the daemon's ``methods`` reports.

``valid_shaped(schema)`` draws values that follow a schema's shape (types, required keys, enums,
bounds on strings, numbers and arrays, ``anyOf`` and ``$ref`` into ``$defs``), so the fuzzer gets past
validation and into the handlers; ``any_json()`` draws arbitrary JSON, hostile values included (NaN,
infinities, integers far past 64 bits, deep nesting, odd Unicode), for params that should be refused.
Only the keywords pydantic's schemas use are understood; anything else falls back to ``any_json()``.

>>> from hypothesis import find
>>> find(valid_shaped({"type": "integer", "minimum": 3}), lambda n: n > 5)
6
>>> find(valid_shaped({"enum": ["eq", "gt"]}), lambda s: s != "eq")
'gt'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

__all__ = ["NAME_HINTS", "any_json", "valid_shaped"]

NAME_HINTS = ("root", "root/core", "root/control", "default", "arbord.registry.entries", "k")
"""Strings that name something in a fresh daemon, so a fuzzed key or path sometimes finds a thing."""

_SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**300), max_value=10**300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "root", "root/control", "default", "\x00", "\u202e", "a" * 300]),
)


def any_json(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Arbitrary JSON values (as ``json.loads`` could return them), hostile ones included."""
    return st.recursive(
        _SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def valid_shaped(schema: Mapping[str, Any], defs: Mapping[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Values of ``schema``'s shape; ``defs`` is the root schema's ``$defs`` (for ``$ref``)."""
    defs = schema.get("$defs", defs or {})
    assert defs is not None
    if "$ref" in schema:
        return valid_shaped(defs[str(schema["$ref"]).rsplit("/", 1)[-1]], defs)
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    if "anyOf" in schema:
        return st.one_of([valid_shaped(option, defs) for option in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object":
        return _object(schema, defs)
    if kind == "array":
        items = valid_shaped(schema.get("items", {}), defs)
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 5), 5))
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        low, high = schema.get("minLength", 0), min(schema.get("maxLength", 64), 64)
        hints = [hint for hint in NAME_HINTS if low <= len(hint) <= high]
        return st.one_of(st.text(min_size=low, max_size=high), st.sampled_from(hints))
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        return st.floats(
            min_value=low,
            max_value=schema.get("maximum"),
            exclude_min="exclusiveMinimum" in schema,
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return any_json()


def _object(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fixed = {name: valid_shaped(sub, defs) for name, sub in properties.items() if name in required}
    optional = {name: valid_shaped(sub, defs) for name, sub in properties.items() if name not in required}
    shaped = st.fixed_dictionaries(fixed, optional=optional)
    if schema.get("additionalProperties") is True:
        extra = st.dictionaries(st.text(max_size=12), any_json(4), max_size=3)
        return st.builds(lambda base, more: {**more, **base}, shaped, extra)
    return shaped
