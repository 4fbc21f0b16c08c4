"""Spans as a component of the daemon: ``[spans]``, the span server ``arbord.spans``, the
``spans.list`` verb. Right after telemetry in the tree, so every later component's spans are recorded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from daemon.component import Component, ComponentContext
from daemon.spans.config import SpansSettings
from daemon.spans.methods import spans_methods
from daemon.spans.server import SPANS_NAME, SpanServer
from supervisor import ChildSpec

__all__ = ["SPANS", "SPANS_ID", "span_server_spec"]

SPANS_ID: Final = "spans"


def span_server_spec(section: SpansSettings) -> ChildSpec:
    """The span server's child spec (child id ``spans``, registered as ``arbord.spans``)."""
    return ChildSpec(SPANS_ID, SpanServer, args=(section,), name=SPANS_NAME)


def _children(section: SpansSettings, context: ComponentContext) -> Sequence[ChildSpec]:
    return (span_server_spec(section),)


SPANS: Final[Component[SpansSettings]] = Component(
    "spans", SpansSettings, child_specs=_children, verbs=spans_methods
)
"""``[spans]``: the span server ``arbord.spans``."""
