"""Spans as a component of the daemon: ``[spans]``, the span server ``arbord.spans``, the
``spans.list`` verb. Right after telemetry in the tree, so every later component's spans are recorded.

A reload that changes ``[spans]`` updates the running server in place (``UpdateSpanSettings``)
rather than restarting it: the table of live spans is the server's, and a new server would start
with an empty one while the spans in flight were still to end — ``end_span`` would call them
orphans and a task's exit would end them nowhere. ``[spans]`` holds only limits, which apply to
the spans started after the reload. The root then holds the new spec (daemon/app_reload.py
``follow_specs``): a span server that crashes after the reload starts with the new limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Final

from daemon.component import Component, ComponentContext, Reload, ReloadOutcome, UpdateInPlace
from daemon.spans.config import SpansSettings
from daemon.spans.server import SPANS_NAME, SpanServer, UpdateSpanSettings
from daemon.verbs.method import Method
from supervisor import ArbordError, ChildSpec, whereis

__all__ = ["SPANS", "SPANS_ID", "span_server_spec", "update_spans"]

SPANS_ID: Final = "spans"


def span_server_spec(section: SpansSettings) -> ChildSpec:
    """The span server's child spec (child id ``spans``, registered as ``arbord.spans``)."""
    return ChildSpec(SPANS_ID, SpanServer, args=(section,), name=SPANS_NAME)


def _children(section: SpansSettings, context: ComponentContext) -> Sequence[ChildSpec]:
    return (span_server_spec(section),)


async def update_spans(settings: SpansSettings) -> str | None:
    """Have the running span server take ``settings`` in place; an error line, or None."""
    server = whereis(SPANS_NAME)
    if not isinstance(server, SpanServer):
        return "spans: the span server is not running"
    try:
        await server.call(UpdateSpanSettings(settings))
    except ArbordError as error:
        return f"spans: could not update its settings: {error}"
    return None


def _reload(old: SpansSettings, new: SpansSettings) -> Reload | UpdateInPlace:
    """Keep, or update in place: never a restart, which would lose the spans in flight."""
    if old == new:
        return Reload.KEEP

    async def apply(outcome: ReloadOutcome) -> None:
        error = await update_spans(new)
        if error:
            outcome.errors.append(error)
            return
        outcome.record("spans", partial(update_spans, old))

    return UpdateInPlace(apply)


def _verbs() -> Sequence[Method]:
    # Imported when the verb table is built (the first request), not at start.
    from daemon.spans.methods import spans_methods

    return spans_methods()


SPANS: Final[Component[SpansSettings]] = Component(
    "spans", SpansSettings, child_specs=_children, verbs=_verbs, reload=_reload
)
"""``[spans]``: the span server ``arbord.spans``."""
