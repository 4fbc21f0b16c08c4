"""The experiments as a component of the daemon: the server owning their tables, and their verb.

It takes no settings (like the registry's keeper), so a reload never restarts it and the counts
survive every reload. It starts before the user servers, so their experiments are counted from their
first call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from daemon.component import Component, ComponentContext
from daemon.flags.experiments.server import EXPERIMENTS_ID, experiments_child_spec
from daemon.verbs.method import Method
from supervisor import ChildSpec

__all__ = ["EXPERIMENTS"]


def _children(section: None, context: ComponentContext) -> Sequence[ChildSpec]:
    return (experiments_child_spec(),)


def _verbs() -> Sequence[Method]:
    # Imported when the verb table is built (the first request), not at start.
    from daemon.flags.experiments.verbs import experiment_methods

    return experiment_methods()


EXPERIMENTS: Final[Component[None]] = Component(EXPERIMENTS_ID, child_specs=_children, verbs=_verbs)
"""``arbord.experiments`` and the ``migration.experiments`` verb."""
