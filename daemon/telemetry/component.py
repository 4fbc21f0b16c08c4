"""Telemetry as a component of the daemon: ``[telemetry]``, its servers, the ``telemetry.*`` and
``metrics.*`` verbs. The sampled events' part and the metrics' part each bring their children and verbs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from daemon.component import Component, ComponentContext
from daemon.telemetry.config import TelemetrySettings
from daemon.telemetry.metrics_tree import metrics_child_specs
from daemon.telemetry.spec import events_child_specs
from daemon.verbs.method import Method
from supervisor import ChildSpec

__all__ = ["TELEMETRY"]


def _children(section: TelemetrySettings, context: ComponentContext) -> Sequence[ChildSpec]:
    return (*events_child_specs(section), *metrics_child_specs(section))


def _verbs() -> Sequence[Method]:
    # Imported when the verb table is built (the first request), not at start.
    from daemon.telemetry.metrics_verbs import metrics_methods
    from daemon.telemetry.verbs import events_methods

    return (*events_methods(), *metrics_methods())


TELEMETRY: Final[Component[TelemetrySettings]] = Component(
    "telemetry", TelemetrySettings, child_specs=_children, verbs=_verbs
)
"""``[telemetry]``: the telemetry server ``arbord.telemetry`` and the metrics' servers."""
