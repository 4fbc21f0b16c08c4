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
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, Final, NamedTuple

__all__ = [
    "SpanRef",
    "capture_carried",
    "current_span_ref",
    "enter_carried",
    "exit_carried",
    "reset_span_ref",
    "set_span_ref",
]


class SpanRef(NamedTuple):
    """Which span is current in a task: W3C ids (32 and 16 lowercase hex digits) and the sampled flag.

    Immutable. A named tuple rather than a frozen dataclass because one is made per span start, the
    hot path (a frozen dataclass's ``__init__`` costs about ten times a tuple's: bench/bench_spans.py).
    Equality and hash are over the three ids only.
    """

    trace_id: str
    span_id: str
    sampled: bool
    # --- spans' block (daemon/spans): ids only, left out of equality ---------------------------
    parent: SpanRef | None = None
    """The span that was current when this one started (restored when it ends), or None."""
    remote: bool = False
    """True for a span of another process, continued from a ``traceparent`` header."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpanRef):
            return NotImplemented
        return self[1] == other[1] and self[0] == other[0] and self[2] == other[2]

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash((self[0], self[1], self[2]))

    def __repr__(self) -> str:
        return f"SpanRef(trace_id={self[0]!r}, span_id={self[1]!r}, sampled={self[2]!r})"


_EMPTY: Final[Mapping[str, object]] = MappingProxyType({})

_span: Final[ContextVar[SpanRef | None]] = ContextVar("arbord_span", default=None)
_error_context: Final[ContextVar[Mapping[str, object]]] = ContextVar("arbord_error_context", default=_EMPTY)


# The variable's own methods, not functions wrapping them: a span's start and end read and set it,
# and a Python call around each costs a tenth of the whole (bench/bench_spans.py).
current_span_ref: Final = _span.get
"""``current_span_ref()``: the current task's span, or None."""
set_span_ref: Final = _span.set
"""``set_span_ref(ref)``: make ``ref`` the current span; give the token it returns to
``reset_span_ref`` to put back the previous one."""
reset_span_ref: Final = _span.reset
"""``reset_span_ref(token)``: put back the span that was current before ``set_span_ref`` returned
``token``."""


# --- across mailboxes (spans' block): the daemon's envelope hook, installed by the span server -----
# (daemon/spans/envelope.py, supervisor.lowlevel.EnvelopeHook). It carries both values, the span and
# the error context, from the task that calls or casts into the server's handler of that message.

Carried = tuple[SpanRef | None, Mapping[str, object]]
"""What a call or cast carries: the sender's span and error context."""


# The bound methods, for the three functions below: each runs once per call or cast carried.
_get_span: Final = _span.get
_set_span: Final = _span.set
_reset_span: Final = _span.reset
_get_error_context: Final = _error_context.get


def capture_carried() -> Carried | None:
    """The current span and error context, or None when neither is set (then nothing is carried)."""
    span = _get_span()
    context = _get_error_context()
    if span is None and (context is _EMPTY or not context):
        return None
    return (span, context)


def enter_carried(carried: Carried) -> Any:
    """Make a sender's span and error context current in the handler's task; give the result to
    ``exit_carried``. The error context is set only when it differs from the handler's (usually
    both are empty): then the result is the span's token alone, one set and one reset fewer."""
    context = carried[1]
    if _get_error_context() is context:
        return _set_span(carried[0])
    return (_set_span(carried[0]), _error_context.set(context))


def exit_carried(token: Any) -> None:
    """Put back the handler task's own span and error context (``token``: what ``enter_carried``
    returned: the span's token, or both tokens)."""
    if token.__class__ is tuple:
        _error_context.reset(token[1])
        _reset_span(token[0])
    else:
        _reset_span(token)
