"""The one home of arbord's implicit per-task state: the current error context and the current span
reference. Nothing else in arbord declares a ``ContextVar`` (the hidden-state check allows this
module alone, ``[tool.arbord.hidden-state] context``).

Both values are immutable (a read-only mapping; a frozen ``SpanRef`` of ids), so a child task, which
asyncio starts with a copy of its parent's context, can never change what its parent sees.

>>> current_span_ref() is None
True
>>> token = set_span_ref(SpanRef("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", True))
>>> current_span_ref().span_id
'b7ad6b7169203331'
>>> reset_span_ref(token)
>>> current_span_ref() is None
True
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

__all__ = ["SpanRef", "current_span_ref", "reset_span_ref", "set_span_ref"]


@dataclass(frozen=True, slots=True)
class SpanRef:
    """Which span is current in a task: W3C ids (32 and 16 lowercase hex digits) and the sampled flag."""

    trace_id: str
    span_id: str
    sampled: bool
    # --- spans' block (daemon/spans): ids only, left out of equality ---------------------------
    parent: SpanRef | None = field(default=None, compare=False, repr=False)
    """The span that was current when this one started (restored when it ends), or None."""
    remote: bool = field(default=False, compare=False, repr=False)
    """True for a span of another process, continued from a ``traceparent`` header."""


_EMPTY: Final[Mapping[str, object]] = MappingProxyType({})

_span: Final[ContextVar[SpanRef | None]] = ContextVar("arbord_span", default=None)
_error_context: Final[ContextVar[Mapping[str, object]]] = ContextVar("arbord_error_context", default=_EMPTY)


def current_span_ref() -> SpanRef | None:
    """The current task's span, or None."""
    return _span.get()


def set_span_ref(ref: SpanRef | None) -> Token[SpanRef | None]:
    """Make ``ref`` the current span; give the token to ``reset_span_ref`` to put back the previous one."""
    return _span.set(ref)


def reset_span_ref(token: Token[SpanRef | None]) -> None:
    """Put back the span that was current before ``set_span_ref`` returned ``token``."""
    _span.reset(token)
