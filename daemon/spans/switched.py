"""Span management behind its migration flag: one interface, two paths, chosen per span start.

``start_span``, ``end_span`` and ``span`` here behave as ``daemon.spans``'s. Each start reads the flag
``use_genserver_span_management`` of the ``otp_cleanup`` plan
(``daemon.flags.migration.backend.use_supervised``): on, the span is opened on the **supervised**
path (``daemon.spans``, the span server's table); off, on the **legacy** path
(``daemon.legacy.span_stacks``, a module-global dict of per-task stacks: Foundation's process
dictionary). With no flags server running the supervised path serves. ``daemon.spans`` itself is not
switched: it is the supervised path, and code that is not migrating calls it directly.

**Nothing is lost on a flip.** A span ends on the path that started it, whatever the flag says when
it ends: its ref says which (a ``LegacySpanRef`` is the legacy path's; any other ``SpanRef`` the
span server's), and ``end_span`` reads the ref, not the flag. The current span is one pointer for
both paths (``daemon.context``), so a span started after a flip is the child of the one open before
it, and the trace goes on. The differences between the paths are the legacy one's
(``daemon.legacy.span_stacks``).

>>> import asyncio
>>> from daemon.spans.server import SPANS_NAME, SpanServer
>>> async def demo() -> list[object]:
...     server = await SpanServer.start(name=SPANS_NAME)
...     with span("outer") as outer:
...         inner = start_span("inner")
...         ended = [end_span(inner), end_span(inner)]  # the second is an orphan end: False
...     await server.stop()
...     return [backend_of(outer), ended, current_span_ref()]
>>> asyncio.run(demo())
['supervised', [True, False], None]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, ParamSpec, TypeVar

from daemon.context import SpanRef, current_span_ref
from daemon.flags.migration.backend import use_supervised
from daemon.legacy import span_stacks as _legacy
from daemon.legacy.span_stacks import LegacySpanRef
from daemon.spans import api as _supervised
from daemon.spans.block import SpanBlock

__all__ = ["FLAG", "LegacySpanRef", "backend", "backend_of", "end_span", "span", "start_span"]

FLAG: Final = "use_genserver_span_management"
"""The ``otp_cleanup`` flag (stage 3) that chooses the supervised path when on."""

Backend = Literal["supervised", "legacy"]

P = ParamSpec("P")
R = TypeVar("R")

_start_supervised: Final = _supervised.start_span
_end_supervised: Final = _supervised.end_span
_start_legacy: Final = _legacy.start_span
_end_legacy: Final = _legacy.end_span
_legacy_open: Final = _legacy._open


def backend() -> Backend:
    """Which path a span started now would be opened on."""
    return "supervised" if use_supervised(FLAG) else "legacy"


def backend_of(ref: SpanRef) -> Backend:
    """Which path holds span ``ref`` (and will end it)."""
    return "legacy" if ref.__class__ is LegacySpanRef else "supervised"


def start_span(name: str, attributes: Mapping[str, object] | None = None) -> SpanRef:
    """``daemon.spans.start_span`` on the path the flag chooses now."""
    if use_supervised(FLAG):
        return _start_supervised(name, attributes)
    return _start_legacy(name, attributes)


def end_span(
    ref: SpanRef | None = None,
    status: str = "ok",
    *,
    error: BaseException | str | None = None,
    attributes: Mapping[str, object] | None = None,
) -> bool:
    """``daemon.spans.end_span`` on the path that holds ``ref`` (default: the current span)."""
    if ref is None:
        ref = current_span_ref()
        if ref is None:
            return _end_supervised(None, status, error=error, attributes=attributes)  # an orphan end
    cls = ref.__class__
    # A plain SpanRef with a legacy span's ids (rebuilt from a log line, say) ends it there too.
    if cls is LegacySpanRef or (_legacy_open and cls is SpanRef and ref[1] in _legacy_open):
        return _end_legacy(ref, status, error=error, attributes=attributes)
    return _end_supervised(ref, status, error=error, attributes=attributes)


class span(SpanBlock, start=start_span, end=end_span):
    """``daemon.spans.span`` on the path the flag chooses at the block's entry: a span for a block
    (``with``, ``async with``) or for each call of a function (a decorator). The same class as
    ``daemon.spans.span`` (``SpanBlock``) over this module's ``start_span`` and ``end_span``."""

    __slots__ = ()
