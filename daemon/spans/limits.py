"""What a span keeps of what it is given: OpenTelemetry's attribute rules, with limits, and a count of
everything dropped.

An attribute value is a ``str``, ``bool``, ``int`` or ``float``, or a sequence (list or tuple) of
values of one of those types; its key is a non-empty ``str``. Anything else is dropped, counted in
``Limits.dropped`` under its reason and warned about, and never raises: these run in the caller's
hot path. Sequences are kept as tuples (a caller's later change of its list changes nothing).

>>> limits = Limits(max_attributes=3)
>>> kept = limits.attributes({"a": 1, "b": [1, 2], "c": object()}, {})
>>> kept, limits.dropped["attribute_type"]
({'a': 1, 'b': (1, 2)}, 1)
>>> limits.attributes({"d": 1.5, "e": "x"}, kept), limits.dropped["attribute_limit"]
({'a': 1, 'b': (1, 2), 'd': 1.5}, 1)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

__all__ = ["DROP_REASONS", "Limits", "printable"]

log = logging.getLogger("daemon.spans")

DROP_REASONS: Final = (
    "attribute_type",
    "attribute_key",
    "attribute_limit",
    "event_limit",
    "link_limit",
    "name_type",
    "bad_link",
)
"""Why something given to a span was not kept (the keys of ``Limits.dropped``)."""

_SCALARS: Final = (str, bool, int, float)


def _clean_value(value: object) -> object | None:
    """The value as kept, or None when OTel's rules refuse it."""
    cls = value.__class__
    if cls is str or cls is int or cls is float or cls is bool:
        return value
    if isinstance(value, (list, tuple)):
        kind: type | None = None
        for item in value:
            if item is None:
                continue  # OTel keeps None inside a homogeneous sequence
            item_kind = (
                bool if isinstance(item, bool) else next((t for t in _SCALARS if isinstance(item, t)), None)
            )
            if item_kind is None or (kind is not None and item_kind is not kind):
                return None
            kind = item_kind
        return tuple(value)
    if isinstance(value, _SCALARS):  # a subclass (an IntEnum, a str subclass): keep its plain value
        return value
    return None


class Limits:
    """A span server's limits and its drop counts (``[spans]``); one per server, used by callers."""

    __slots__ = ("dropped", "max_attributes", "max_events", "max_links", "traceback")

    def __init__(
        self,
        *,
        max_attributes: int = 128,
        max_events: int = 128,
        max_links: int = 128,
        traceback: bool = False,
    ) -> None:
        self.max_attributes = max_attributes
        self.max_events = max_events
        self.max_links = max_links
        self.traceback = traceback
        self.dropped: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)

    def configure(self, *, max_attributes: int, max_events: int, max_links: int, traceback: bool) -> None:
        """Take new limits in place (a reload of ``[spans]``): the drop counts go on, and every
        caller holding this object sees the new limits at its next span."""
        self.max_attributes = max_attributes
        self.max_events = max_events
        self.max_links = max_links
        self.traceback = traceback

    def drop(self, reason: str, what: object) -> None:
        """Count one thing dropped for ``reason``; warn at the 1st, 10th, 100th, ... of each reason
        (a warning for every drop would flood the log from a hot loop)."""
        count = self.dropped[reason] = self.dropped[reason] + 1
        if count & (count - 1) == 0 or str(count).rstrip("0") == "1":
            log.warning("span: dropped %s (%s; %d so far)", reason.replace("_", " "), _short(what), count)

    def attributes(self, given: object, kept: dict[str, object]) -> dict[str, object]:
        """Merge the acceptable ``given`` attributes into ``kept`` (returned); drop and count the rest."""
        if not given:
            return kept
        if not isinstance(given, Mapping):
            self.drop("attribute_type", given)
            return kept
        room = self.max_attributes
        for key, value in given.items():
            if key.__class__ is not str or not key:
                self.drop("attribute_key", key)
                continue
            clean = _clean_value(value)
            if clean is None:
                self.drop("attribute_type", f"{key}={_short(value)}")
                continue
            if key not in kept and len(kept) >= room:
                self.drop("attribute_limit", key)
                continue
            kept[key] = clean
        return kept


def printable(value: object) -> str:
    """``repr(value)``, cut to 80 characters; never raises (a name that is not a ``str``)."""
    return _short(value)


def _short(value: object) -> str:
    try:
        text = repr(value)
    except Exception:  # a repr that raises must not make the hot path raise
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."
