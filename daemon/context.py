"""The one home of arbord's implicit per-task state: the current error context and the current span
reference. Nothing else in arbord declares a ``ContextVar`` (the hidden-state check allows this
module alone, ``[tool.arbord.hidden-state] context``); docs/context.md explains why.

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

The error context is a read-only mapping of fields that a block adds to, and that logs and errors
raised in the block carry (``with_context``, ``operation``, ``enrich_error``, ``ContextFilter``):

>>> with with_context(request_id="r-1"):
...     with with_context(user="ada"):
...         dict(get_context())
{'request_id': 'r-1', 'user': 'ada'}
>>> dict(get_context())
{}
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
from collections.abc import (
    Awaitable,
    Callable,
    ItemsView,
    Iterator,
    KeysView,
    Mapping,
    MutableMapping,
    ValuesView,
)
from concurrent.futures import Executor
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, NamedTuple, ParamSpec, TypeVar, cast, overload

from daemon.context_core import SPEEDUPS
from daemon.context_policy import (
    DEFAULT_POLICY,
    REDACTED,
    ContextKeyError,
    ContextPolicy,
    check_keys,
    clean_fields,
)
from daemon.operation import Operation, format_breadcrumbs
from supervisor import telemetry

__all__ = [
    "CONTEXT_ATTRIBUTE",
    "OPERATION_STOP",
    "REDACTED",
    "ContextFilter",
    "ContextKeyError",
    "ContextPolicy",
    "ErrorContext",
    "SpanRef",
    "capture_carried",
    "context_of",
    "context_policy",
    "current_correlation_id",
    "current_span_ref",
    "enrich_error",
    "enter_carried",
    "exit_carried",
    "get_context",
    "operation",
    "reset_error_context",
    "reset_span_ref",
    "run_in_executor",
    "set_error_context",
    "set_span_ref",
    "structlog_processor",
    "temporary_context",
    "with_context",
]

P = ParamSpec("P")
R = TypeVar("R")


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


# --- the error context: a read-only mapping -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Meta:
    """What a context carries besides its fields; shared by every context derived without change."""

    operation: Operation | None
    policy: ContextPolicy
    dropped: tuple[str, ...]


class ErrorContext(Mapping[str, object]):
    """An error context: read-only fields, the current ``Operation`` (or None), the policy that
    governs it, and the keys dropped past its size limit. Never changed once made (copy on write).

    The fields read as they were given; what leaves the process goes through ``cleaned()``
    (redaction, value limits)."""

    __slots__ = ("_fields", "_meta")
    _fields: dict[str, object]
    _meta: _Meta

    def __getitem__(self, key: str) -> object:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __contains__(self, key: object) -> bool:
        return key in self._fields

    def get(self, key: str, default: Any = None) -> Any:
        return self._fields.get(key, default)

    def keys(self) -> KeysView[str]:
        return self._fields.keys()

    def values(self) -> ValuesView[object]:
        return self._fields.values()

    def items(self) -> ItemsView[str, object]:
        return self._fields.items()

    def __repr__(self) -> str:
        return f"ErrorContext({self._fields!r})"

    @property
    def operation(self) -> Operation | None:
        """The current operation (``operation(...)``), or None."""
        return self._meta.operation

    @property
    def policy(self) -> ContextPolicy:
        """The limits and redaction words that applied to this context's fields."""
        return self._meta.policy

    @property
    def dropped(self) -> tuple[str, ...]:
        """The keys that were not added because the context held ``max_fields`` already."""
        return self._meta.dropped

    def cleaned(self) -> tuple[dict[str, object], tuple[str, ...], tuple[str, ...]]:
        """The fields as they may leave the process, the keys redacted, and the keys truncated (values
        cut, and keys dropped). Each redaction and truncation is counted on the telemetry bus."""
        fields, redacted, truncated = clean_fields(self._meta.policy, self._fields)
        truncated += self._meta.dropped
        if redacted or truncated:
            _count_marks(redacted, truncated)
        return fields, redacted, truncated

    @property
    def is_empty(self) -> bool:
        """No field and no operation: nothing to attach to an error."""
        return not self._fields and self._meta.operation is None

    @property
    def correlation_id(self) -> str | None:
        """The operation's correlation id, or None when no operation is current."""
        op = self._meta.operation
        return None if op is None else op.correlation_id

    def as_dict(self) -> dict[str, object]:
        """Plain data, cleaned: fields, operation (``Operation.as_dict``), redacted and truncated keys."""
        fields, redacted, truncated = self.cleaned()
        op = self._meta.operation
        return {
            "fields": fields,
            "operation": None if op is None else op.as_dict(),
            "redacted": list(redacted),
            "truncated": list(truncated),
        }


def _make(fields: dict[str, object], meta: _Meta) -> ErrorContext:
    ctx = object.__new__(ErrorContext)
    ctx._fields = fields
    ctx._meta = meta
    return ctx


_ROOT: Final = _make({}, _Meta(None, DEFAULT_POLICY, ()))

_span: Final[ContextVar[SpanRef | None]] = ContextVar("arbord_span", default=None)
_error_context: Final[ContextVar[ErrorContext]] = ContextVar("arbord_error_context", default=_ROOT)

_get: Final = _error_context.get
_set: Final = _error_context.set
_reset: Final = _error_context.reset
_new: Final = object.__new__

REDACTION_EVENT: Final = ("arbord", "context", "redacted")
TRUNCATION_EVENT: Final = ("arbord", "context", "truncated")
OPERATION_STOP: Final = ("arbord", "operation", "stop")
"""Emitted when an operation ends: ``{"duration": ns}``, ``{module, function, correlation_id,
operation_id, error}`` (``error`` is the exception's type name, or None)."""

CONTEXT_ATTRIBUTE: Final = "__arbord_context__"
"""The attribute an exception leaving a context block carries: the ``ErrorContext`` at the failure
(the innermost block's, the fullest). Read it with ``context_of(exc)``."""

_NOTE_PREFIX: Final = "arbord context:"


# --- spans: the reference only (daemon.spans owns the spans) -------------------------------------


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

Carried = SpanRef | tuple[SpanRef | None, ErrorContext]
"""What a call or cast carries: the sender's span alone when its error context is the root one (the
usual case, and no pair to allocate), else the pair (span, error context)."""


# --- reading ------------------------------------------------------------------------------------

get_context: Final[Callable[[], ErrorContext]] = _error_context.get
"""``get_context()``: the current error context, a read-only mapping (empty when none). It is the
``ContextVar``'s own ``get``, so a read costs what a ``ContextVar`` read costs (bench/bench_context.py)."""


def set_error_context(ctx: ErrorContext) -> Token[ErrorContext]:
    """Make ``ctx`` (an ``ErrorContext`` read elsewhere with ``get_context``) the current one; give
    the token to ``reset_error_context``. For code that carries a context across a boundary a
    ``ContextVar`` does not cross — a server's mailbox (the envelope hook); blocks use ``with_context``.
    """
    if not isinstance(ctx, ErrorContext):
        raise TypeError(f"expected an ErrorContext (from get_context()), not {type(ctx).__name__}")
    return _error_context.set(ctx)


def reset_error_context(token: Token[ErrorContext]) -> None:
    """Put back the context that was current before ``set_error_context`` returned ``token``."""
    _error_context.reset(token)


def current_correlation_id() -> str | None:
    """The id that ties this task's logs, errors and traces together: the current operation's
    correlation id, else the current span's trace id, else None."""
    op = _error_context.get()._meta.operation
    if op is not None:
        return op.correlation_id
    span = _span.get()
    return None if span is None else span.trace_id


def context_of(exc: BaseException) -> ErrorContext | None:
    """The error context ``exc`` carries (it left a ``with_context`` or ``operation`` block, or went
    through ``enrich_error``), or None."""
    ctx = getattr(exc, CONTEXT_ATTRIBUTE, None)
    return ctx if isinstance(ctx, ErrorContext) else None


# --- writing: blocks --------------------------------------------------------------------------


def _merged(parent: ErrorContext, fields: Mapping[str, object]) -> ErrorContext:
    meta = parent._meta
    dropped = check_keys(meta.policy, fields, parent._fields)
    if dropped:
        fields = {k: v for k, v in fields.items() if k not in dropped}
        meta = _Meta(meta.operation, meta.policy, meta.dropped + dropped)
    return _make({**parent._fields, **fields}, meta)


def _count_marks(redacted: tuple[str, ...], truncated: tuple[str, ...]) -> None:
    if redacted and REDACTION_EVENT in telemetry.active_events:
        telemetry.execute(REDACTION_EVENT, {"count": len(redacted)}, {"keys": redacted})
    if truncated and TRUNCATION_EVENT in telemetry.active_events:
        telemetry.execute(TRUNCATION_EVENT, {"count": len(truncated)}, {"keys": truncated})


def _attach(exc: BaseException | None, ctx: ErrorContext) -> None:
    """Leave ``ctx`` on an error leaving its block, unless an inner block already did."""
    if isinstance(exc, Exception) and CONTEXT_ATTRIBUTE not in getattr(exc, "__dict__", ()):
        try:
            setattr(exc, CONTEXT_ATTRIBUTE, ctx)
        except (AttributeError, TypeError):  # an exception type without a __dict__
            pass


class _BlockBase:
    """What every context block offers besides its enter and exit: ``async with``, and use as a
    decorator (a fresh block per call, ``_again``)."""

    __slots__ = ()

    def __enter__(self) -> ErrorContext:
        raise NotImplementedError

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> ErrorContext:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(kind, exc, tb)

    @overload
    def __call__(self, func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...
    @overload
    def __call__(self, func: Callable[P, R]) -> Callable[P, R]: ...
    def __call__(self, func: Callable[P, Any]) -> Callable[P, Any]:
        """Run every call of ``func`` in a block of its own."""
        block = self
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                with block._again():
                    return await func(*args, **kwargs)

            return run_async

        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> Any:
            with block._again():
                return func(*args, **kwargs)

        return run

    def _again(self) -> _BlockBase:
        raise NotImplementedError


class _Block(_BlockBase):
    """A context block whose new context is ``_derive(parent)``; its token is kept while entered."""

    __slots__ = ("_token",)
    _token: Token[ErrorContext]

    def _derive(self, parent: ErrorContext) -> ErrorContext:
        raise NotImplementedError

    def _exit(self, exc: BaseException | None) -> None:
        ctx = _error_context.get()
        if exc is not None:
            _attach(exc, ctx)
        _error_context.reset(self._token)

    def __enter__(self) -> ErrorContext:
        ctx = self._derive(_error_context.get())
        self._token = _error_context.set(ctx)
        return ctx

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._exit(exc)


class _PyContextBlock:
    """``with_context``'s enter and exit in Python: the twin of the C ``ContextBlock``
    (daemon/_context_speedups.c), used when ``ARBORD_NO_EXTENSIONS=1`` (daemon/context_core.py).

    Keyword keys are always strings, so only identifiers and the size limit are checked here;
    redaction and value limits apply when the context is written out. The uncommon case (a key that
    is not an identifier, a context past its size limit) is ``_merged``'s."""

    __slots__ = ("_fields", "_token")
    _token: Token[ErrorContext]

    def __init__(self, **fields: object) -> None:
        self._fields = fields

    def __enter__(self) -> ErrorContext:
        parent = _get()
        fields = self._fields
        if len(parent._fields) + len(fields) <= parent._meta.policy.max_fields and all(
            map(str.isidentifier, fields)
        ):
            ctx = _new(ErrorContext)
            ctx._fields = {**parent._fields, **fields}
            ctx._meta = parent._meta
        else:
            ctx = _merged(parent, fields)
        self._token = _set(ctx)
        return ctx

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            _attach(exc, _get())
        _reset(self._token)


if TYPE_CHECKING or SPEEDUPS is None:
    _ContextBlock = _PyContextBlock
else:  # the same enter and exit in C, over the same variables and records (passed in, not made there)
    SPEEDUPS.configure_context(
        error_var=_error_context,
        span_var=_span,
        context_type=ErrorContext,
        meta_type=_Meta,
        policy_type=ContextPolicy,
        merged=_merged,
        attach=_attach,
        root=_ROOT,
    )
    _ContextBlock = SPEEDUPS.ContextBlock


class with_context(_ContextBlock, _BlockBase):
    """Merge ``fields`` into the error context for a block; restored on exit, whatever the exit
    (return, exception, cancellation). Nested blocks accumulate; an inner key shadows an outer one.

    Use it as ``with``, ``async with`` or a decorator. Keys must be identifiers
    (``ContextKeyError`` otherwise); values pass the context's policy (redaction, size limits).
    An exception leaving the block carries the context at the failure (``context_of(exc)``).
    One instance is one block at a time; as a decorator each call gets its own (a generator
    function's body runs after the call: enter the block inside it instead).
    """

    # Enter and exit are _ContextBlock's: the C extension's, or their Python twin
    # (bench/bench_context.py, "with_context enter+exit").
    __slots__ = ()

    def _derive(self, parent: ErrorContext) -> ErrorContext:
        return _merged(parent, self._fields)

    def _again(self) -> _BlockBase:
        return with_context(**self._fields)


if SPEEDUPS is not None:
    SPEEDUPS.fast_calls(with_context)  # with_context(**fields) builds the block in C, in one step


class temporary_context(_Block):
    """Replace the error context for a block by ``fields`` alone (no merge; the operation is
    dropped, the policy kept), and restore the previous one on exit."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, object] | None = None, /, **more: object) -> None:
        self._fields = {**(fields or {}), **more}

    def _derive(self, parent: ErrorContext) -> ErrorContext:
        return _merged(_make({}, _Meta(None, parent._meta.policy, ())), self._fields)

    def _again(self) -> _BlockBase:
        return temporary_context(self._fields)


class context_policy(_Block):
    """Govern the contexts made inside the block by ``policy`` (redaction words, size limits).

    Fields already in the context are kept as they were cleaned. The daemon enters one for its
    whole run; tasks started inside inherit it.
    """

    __slots__ = ("_policy",)

    def __init__(self, policy: ContextPolicy) -> None:
        self._policy = policy

    def _derive(self, parent: ErrorContext) -> ErrorContext:
        meta = parent._meta
        return _make(parent._fields, _Meta(meta.operation, self._policy, meta.dropped))

    def _again(self) -> _BlockBase:
        return context_policy(self._policy)


class operation(_Block):
    """Run a block as an operation (Foundation's ErrorContext, docs/otp-conformance.md#operations):
    an operation id, a correlation id (the current span's trace id when a span is current, so logs,
    errors and traces share one id; else a fresh one), breadcrumbs and a duration. Started inside
    another operation it keeps that one's correlation id and appends a breadcrumb.

    On an exception it enriches the exception (``enrich_error``) and re-raises it: an error is never
    turned into a return value. Cancellation is not an error: it only restores the context. The end
    of each operation is the event ``OPERATION_STOP``.
    """

    __slots__ = ("_function", "_metadata", "_module")

    def __init__(self, module: str, function: str, **metadata: object) -> None:
        self._module = module
        self._function = function
        self._metadata = metadata

    def _derive(self, parent: ErrorContext) -> ErrorContext:
        meta = parent._meta
        clean, _, _ = clean_fields(meta.policy, self._metadata)  # operation metadata is logged as is
        if meta.operation is not None:
            op = meta.operation.child(self._module, self._function, clean)
        else:
            span = _span.get()
            op = Operation.new(
                self._module, self._function, clean, correlation_id=None if span is None else span.trace_id
            )
        return _make(parent._fields, _Meta(op, meta.policy, meta.dropped))

    def _exit(self, exc: BaseException | None) -> None:
        ctx = _error_context.get()
        if isinstance(exc, Exception):
            _attach(exc, ctx)
            enrich_error(exc)
        op = ctx._meta.operation
        _error_context.reset(self._token)
        if op is not None and OPERATION_STOP in telemetry.active_events:
            telemetry.execute(
                OPERATION_STOP,
                {"duration": op.duration_ns()},
                {
                    "module": op.module,
                    "function": op.function,
                    "correlation_id": op.correlation_id,
                    "operation_id": op.operation_id,
                    "error": None if exc is None else type(exc).__name__,
                },
            )

    def _again(self) -> _BlockBase:
        return operation(self._module, self._function, **self._metadata)


# --- errors -----------------------------------------------------------------------------------


def render_note(ctx: ErrorContext, limit: int = 400) -> str:
    """The short rendering ``enrich_error`` adds as a note: correlation id, operation, breadcrumbs,
    fields, and what was redacted or truncated."""
    parts = [_NOTE_PREFIX]
    op = ctx._meta.operation
    if op is not None:
        parts.append(f"correlation_id={op.correlation_id} operation={op.module}.{op.function}")
        parts.append(f"breadcrumbs: {format_breadcrumbs(op.breadcrumbs)};")
    fields, redacted, truncated = ctx.cleaned()
    if fields:
        parts.append(", ".join(f"{k}={v!r}" for k, v in fields.items()))
    if redacted:
        parts.append(f"[{len(redacted)} redacted]")
    if truncated:
        parts.append(f"[{len(truncated)} truncated]")
    text = " ".join(parts)
    return text if len(text) <= limit else f"{text[:limit]}…[+{len(text) - limit} chars]"


def enrich_error(exc: BaseException) -> BaseException:
    """Attach the error context to ``exc`` and return ``exc`` itself.

    The context is the one ``exc`` already carries (the innermost block it left), else the current
    one. It is attached twice over: as a PEP 678 note (``render_note``: what a person reads in the
    traceback) and as the attribute ``__arbord_context__`` (what a program reads, ``context_of``).
    Idempotent (one note however often it is called); an empty context attaches nothing. On an
    ``ExceptionGroup`` the group gets the note, and so does each member that carries a context.
    """
    ctx = context_of(exc)
    if ctx is None:
        ctx = _error_context.get()
        if ctx.is_empty:
            return exc
        _attach(exc, ctx)
    if not any(isinstance(n, str) and n.startswith(_NOTE_PREFIX) for n in getattr(exc, "__notes__", ())):
        exc.add_note(render_note(ctx))
    if isinstance(exc, BaseExceptionGroup):
        for member in exc.exceptions:
            if context_of(member) is not None:
                enrich_error(member)
    return exc


# --- logging ----------------------------------------------------------------------------------

CRASH_ATTRIBUTE: Final = "__arbord_crash_id__"
"""The attribute a crash's exception carries once a crash record was made of it (its id)."""


class ContextFilter(logging.Filter):
    """Add the error context to every ``LogRecord`` that passes: ``context`` (the fields, cleaned: a
    dict), ``context_redacted`` and ``context_truncated`` (counts, when there are fields),
    ``correlation_id``, ``operation_id``, ``trace_id``, ``span_id`` and ``crash_id``.

    A record logged with an exception (``exc_info``) that carries a context (it left a block) uses
    that context when the logging task has none: a supervisor logging a child's crash logs the
    child's context at the failure. Fields given with ``extra=`` are never overwritten. Install it
    on a handler (``handler.addFilter(ContextFilter())``) to cover every logger.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _error_context.get()
        span = _span.get()
        given = record.__dict__
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            carried = context_of(exc)
            if carried is not None and ctx.is_empty:
                ctx = carried
            crash_id = getattr(exc, CRASH_ATTRIBUTE, None)
            if crash_id is not None and "crash_id" not in given:
                record.crash_id = crash_id
        op = ctx._meta.operation
        if "context" not in given:
            if ctx._fields or ctx._meta.dropped:
                fields, redacted, truncated = ctx.cleaned()
                record.context = fields
                record.context_redacted = len(redacted)
                record.context_truncated = len(truncated)
            else:
                record.context = {}
        if "trace_id" not in given:
            record.trace_id = None if span is None else span.trace_id
        if "span_id" not in given:
            record.span_id = None if span is None else span.span_id
        if "operation_id" not in given:
            record.operation_id = None if op is None else op.operation_id
        if "correlation_id" not in given:
            record.correlation_id = (
                op.correlation_id if op is not None else None if span is None else span.trace_id
            )
        return True


def structlog_processor(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: the same fields as ``ContextFilter`` (context fields flat, then
    ``correlation_id``, ``operation_id``, ``trace_id``, ``span_id``), never replacing a bound key.

    ``structlog.configure(processors=[structlog_processor, ..., JSONRenderer()])``; arbord does not
    import structlog.
    """
    ctx = _error_context.get()
    span = _span.get()
    if ctx._fields:
        fields, redacted, truncated = ctx.cleaned()
        for key, value in fields.items():
            event_dict.setdefault(key, value)
        if redacted:
            event_dict.setdefault("context_redacted", len(redacted))
        if truncated:
            event_dict.setdefault("context_truncated", len(truncated))
    op = ctx._meta.operation
    if op is not None:
        event_dict.setdefault("correlation_id", op.correlation_id)
        event_dict.setdefault("operation_id", op.operation_id)
    if span is not None:
        event_dict.setdefault("correlation_id", span.trace_id)
        event_dict.setdefault("trace_id", span.trace_id)
        event_dict.setdefault("span_id", span.span_id)
    return event_dict


# --- threads ----------------------------------------------------------------------------------


def run_in_executor(executor: Executor | None, func: Callable[..., R], /, *args: object) -> asyncio.Future[R]:
    """``loop.run_in_executor`` that runs ``func`` in a copy of the caller's context (the loop's own
    does not copy it; ``asyncio.to_thread`` does). The thread sees the caller's error context and
    span; what it sets stays in its copy."""
    loop = asyncio.get_running_loop()
    return loop.run_in_executor(executor, contextvars.copy_context().run, func, *args)


# The bound methods, for the three functions below: each runs once per call or cast carried.
_get_span: Final = _span.get
_set_span: Final = _span.set
_reset_span: Final = _span.reset
_get_error_context: Final = _error_context.get


def _py_capture_carried() -> Carried | None:
    """``capture_carried`` in Python: the twin of the C one (daemon/_context_speedups.c). With
    nothing current the error context is usually the root itself: an identity test then answers,
    without ``is_empty``'s property call."""
    span = _get_span()
    context = _get_error_context()
    if span is None:
        if context is _ROOT or context.is_empty:
            return None
    elif context is _ROOT and span.__class__ is not tuple:
        return span
    return (span, context)


def _py_enter_carried(carried: Carried) -> Any:
    """``enter_carried`` in Python, the twin of the C one. The error context is set only when it
    differs from the handler's (usually both are the root): then the result is the span's token
    alone, one set and one reset fewer."""
    span: SpanRef | None
    if carried.__class__ is tuple:
        span, context = cast("tuple[SpanRef | None, ErrorContext]", carried)
    else:
        span, context = cast(SpanRef, carried), _ROOT
    if _get_error_context() is context:
        return _set_span(span)
    return (_set_span(span), _error_context.set(context))


def _py_exit_carried(token: Any) -> None:
    """``exit_carried`` in Python, the twin of the C one."""
    if token.__class__ is tuple:
        _error_context.reset(token[1])
        _reset_span(token[0])
    else:
        _reset_span(token)


# In C when the extension is there: the hook runs at every call and cast while the span server is up,
# and three Python frames were most of its cost on a round trip (docs/performance.md, "Spans").
capture_carried: Final[Callable[[], Carried | None]] = (
    _py_capture_carried if SPEEDUPS is None else SPEEDUPS.capture_carried
)
"""``capture_carried()``: the current span and error context (``Carried``), or None when neither is
set (then nothing is carried, and the server runs the handler without ``enter_carried`` and
``exit_carried``). The envelope hook's capture, in the sender's task; what it returns is for
``enter_carried`` only."""
enter_carried: Final[Callable[[Carried], Any]] = (
    _py_enter_carried if SPEEDUPS is None else SPEEDUPS.enter_carried
)
"""``enter_carried(carried)``: make a sender's span and error context current in the handler's task;
give the result to ``exit_carried``."""
exit_carried: Final[Callable[[Any], None]] = _py_exit_carried if SPEEDUPS is None else SPEEDUPS.exit_carried
"""``exit_carried(token)``: put back the handler task's own span and error context (``token``: what
``enter_carried`` returned)."""
