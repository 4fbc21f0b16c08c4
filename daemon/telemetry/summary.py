"""``summarize_batch``: the measurements of a flushed batch (docs/otp-conformance.md#batches).

If every item is a mapping they are merged in order: numbers add up, lists concatenate, anything else
takes the last value. Otherwise the summary is ``{"count", "items", "timestamp"}`` (``timestamp`` in
nanoseconds of the wall clock). An empty batch summarises to ``{}``.

>>> summarize_batch([{"n": 1, "tags": ["a"]}, {"n": 2, "tags": ["b"], "who": "x"}, {"n": 3, "who": "y"}])
{'n': 6, 'tags': ['a', 'b'], 'who': 'y'}
>>> s = summarize_batch(["a", "b"])
>>> s["count"], s["items"]
(2, ['a', 'b'])
>>> summarize_batch([])
{}

Booleans are not numbers here (``True + True`` is not a sum anyone means): they take the last value.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["summarize_batch"]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def summarize_batch(items: Sequence[Any]) -> dict[str, Any]:
    """The merged mapping of ``items`` if all are mappings, else ``{count, items, timestamp}``."""
    if not items:
        return {}
    if not all(isinstance(item, Mapping) for item in items):
        return {"count": len(items), "items": list(items), "timestamp": time.time_ns()}
    merged: dict[str, Any] = {}
    for item in items:
        for key, value in item.items():
            before = merged.get(key)
            if key in merged and _is_number(before) and _is_number(value):
                merged[key] = before + value
            elif key in merged and isinstance(before, list) and isinstance(value, list):
                before.extend(value)  # our own copy (made below), so the items are left alone
            else:
                merged[key] = list(value) if isinstance(value, list) else value
    return merged
