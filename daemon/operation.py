"""One operation in flight: Foundation's ErrorContext struct (docs/otp-conformance.md#operations), as a
frozen record.

An ``Operation`` names where it runs (module and function), has an id of its own and a correlation
id it shares with every operation started inside it, its metadata, and the breadcrumbs of how it got
there: each child operation keeps the correlation id and appends one breadcrumb. Records are never
changed: ``child`` returns a new one, so a task that starts a child operation cannot change what its
parent task sees.

>>> root = Operation.new("billing", "charge", {"order": 7}, correlation_id="c" * 32, now_ns=0)
>>> leaf = root.child("billing.card", "authorize", {"amount": 12}, now_ns=2_000_000)
>>> leaf.correlation_id == root.correlation_id, leaf.parent is root
(True, True)
>>> [f"{b.module}.{b.function}" for b in leaf.breadcrumbs]
['billing.charge', 'billing.card.authorize']
>>> leaf.metadata["order"], leaf.metadata["amount"]
(7, 12)
>>> format_breadcrumbs(leaf.breadcrumbs, now_ns=5_000_000)
'billing.charge (5ms ago) -> billing.card.authorize (3ms ago)'

``daemon.context.operation`` makes one current for a block; this module only holds the data.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = ["MAX_BREADCRUMBS", "Breadcrumb", "Operation", "format_breadcrumbs", "new_correlation_id"]

MAX_BREADCRUMBS: Final = 32
"""Breadcrumbs an operation keeps: past it the oldest go (a recursion cannot grow one without bound)."""


def new_correlation_id() -> str:
    """A fresh correlation id, shaped as a W3C trace id (32 lowercase hex digits), so an id made here
    and a span's trace id look alike in logs."""
    return os.urandom(16).hex()


@dataclass(frozen=True, slots=True)
class Breadcrumb:
    """Where an operation passed: module, function, when (``time.monotonic_ns``), its metadata."""

    module: str
    function: str
    timestamp_ns: int
    metadata: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Operation:
    """Foundation's struct: ids, where, since when, metadata, breadcrumbs and the parent operation."""

    operation_id: int
    """A positive 63-bit number, random: unique in practice, and no counter to share."""
    module: str
    function: str
    correlation_id: str
    start_ns: int
    """``time.monotonic_ns()`` at the start."""
    metadata: Mapping[str, object]
    breadcrumbs: tuple[Breadcrumb, ...]
    parent: Operation | None = None

    @classmethod
    def new(
        cls,
        module: str,
        function: str,
        metadata: Mapping[str, object],
        *,
        correlation_id: str | None = None,
        now_ns: int | None = None,
    ) -> Operation:
        """A root operation, seeded with one breadcrumb (its own)."""
        now = time.monotonic_ns() if now_ns is None else now_ns
        frozen = MappingProxyType(dict(metadata))
        return cls(
            random.getrandbits(63) | 1,
            module,
            function,
            new_correlation_id() if correlation_id is None else correlation_id,
            now,
            frozen,
            (Breadcrumb(module, function, now, frozen),),
        )

    def child(
        self, module: str, function: str, metadata: Mapping[str, object], *, now_ns: int | None = None
    ) -> Operation:
        """An operation started inside this one: same correlation id, merged metadata, one more
        breadcrumb, this one as its parent."""
        now = time.monotonic_ns() if now_ns is None else now_ns
        own = MappingProxyType(dict(metadata))
        crumbs = (*self.breadcrumbs, Breadcrumb(module, function, now, own))[-MAX_BREADCRUMBS:]
        return Operation(
            random.getrandbits(63) | 1,
            module,
            function,
            self.correlation_id,
            now,
            MappingProxyType({**self.metadata, **own}),
            crumbs,
            self,
        )

    def duration_ns(self, now_ns: int | None = None) -> int:
        """Nanoseconds since the start (``get_operation_duration`` of the reference)."""
        return (time.monotonic_ns() if now_ns is None else now_ns) - self.start_ns

    def as_dict(self, now_ns: int | None = None) -> dict[str, object]:
        """The operation as plain data (for crash records, JSON and ``exc.__arbord_context__`` readers)."""
        return {
            "operation_id": self.operation_id,
            "module": self.module,
            "function": self.function,
            "correlation_id": self.correlation_id,
            "duration_ns": self.duration_ns(now_ns),
            "metadata": dict(self.metadata),
            "breadcrumbs": [
                {"module": b.module, "function": b.function, "timestamp_ns": b.timestamp_ns}
                for b in self.breadcrumbs
            ],
        }


def format_breadcrumbs(crumbs: tuple[Breadcrumb, ...], now_ns: int | None = None) -> str:
    """``"mod.fun (Nms ago) -> ..."``, oldest first (``format_breadcrumbs`` of the reference)."""
    now = time.monotonic_ns() if now_ns is None else now_ns
    return " -> ".join(
        f"{b.module}.{b.function} ({(now - b.timestamp_ns) // 1_000_000}ms ago)" for b in crumbs
    )
