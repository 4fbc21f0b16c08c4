"""The dedup key of ``emit_once_per``: ``(event, metadata)``, made hashable however the metadata is.

Foundation keys a dedup entry by ``{event, metadata}``: other metadata, other key
(docs/otp-conformance.md#dedup). A Python ``dict`` is unhashable, so the metadata is *frozen*
into a value that is equal exactly when the metadata is equal:

- a mapping becomes a ``frozenset`` of its ``(key, frozen value)`` pairs (order does not matter, as
  for ``==`` between dicts);
- a list or tuple becomes a tuple tagged with its kind (``[1]`` and ``(1,)`` are different keys, as
  they are unequal), a set a ``frozenset`` tagged ``"set"``;
- any other hashable value is itself;
- any other unhashable value is keyed by its class and ``repr`` (an object without a useful
  ``repr`` then dedups by identity, which is what its ``repr`` shows).

The common case, a flat dict of hashable values, costs one ``frozenset`` of its items.

>>> a = dedup_key(("db", "slow"), {"table": "users", "ms": 3})
>>> a == dedup_key(("db", "slow"), {"ms": 3, "table": "users"})
True
>>> dedup_key(("db", "slow"), {"table": "users"}) == dedup_key(("db", "slow"), {"table": "posts"})
False
>>> hash(dedup_key(("db", "slow"), {"tags": ["a", "b"], "where": {"id": 1}})) is not None
True
>>> dedup_key(("e",), {"v": [1]}) == dedup_key(("e",), {"v": (1,)})
False
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["dedup_key", "freeze"]


def freeze(value: object) -> object:
    """A hashable value equal to ``freeze(other)`` exactly when ``value == other`` (see above)."""
    if isinstance(value, Mapping):
        return frozenset((k, freeze(v)) for k, v in value.items())
    if isinstance(value, list):
        return ("list", tuple(freeze(v) for v in value))
    if isinstance(value, tuple):
        return ("tuple", tuple(freeze(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(freeze(v) for v in value))
    try:
        hash(value)
    except TypeError:
        return ("repr", type(value).__qualname__, repr(value))
    return value


def dedup_key(event: tuple[str, ...], metadata: Mapping[str, Any] | None) -> tuple[object, ...]:
    """The key of ``emit_once_per(event, ..., metadata)``: equal keys share one dedup window."""
    if not metadata:
        return (event,)
    try:
        return (event, frozenset(metadata.items()))
    except TypeError:  # an unhashable value somewhere: the slower, complete freeze
        return (event, freeze(metadata))
