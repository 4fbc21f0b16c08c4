"""Applying a reloaded configuration to the running tree: restart only what changed, all or nothing.

The new settings were already validated. What cannot change while running (the event loop, the
runtime directory, the root supervisor's flags) keeps its old value and is reported as needing a
restart. Then each component's reload rule (``daemon.component``) says what happens to it: its
children keep running, are stopped and started again with their new specs, or the component updates
them in place (the user servers, diffed one by one against the specs actually running; the control
server's and the span server's limits), after which the root keeps their new specs for a later
restart (``follow_specs``). A component marked ``after_reply`` (the control server's socket) is replaced only
after the reply (see ``Daemon.reload``).

Atomic: every applied step records its undo (``ReloadOutcome.record``). The first step that fails
(a child that does not start with its new spec is started again with its old one) ends the
application, and ``Daemon._reload`` undoes the steps already applied, last first, and keeps the
previous configuration in force (docs/operations.md, "Stop and reload guarantees").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from daemon.component import Component, Reload, ReloadOutcome, UpdateInPlace
from daemon.respec import follow_spec, replace_child
from daemon.sections import CONTEXT_KEYS, SettingsBase
from daemon.tree import PlannedChild
from supervisor import Supervisor

__all__ = [
    "ComponentChange",
    "ReloadOutcome",
    "apply_components",
    "changed_sections",
    "follow_specs",
    "frozen_parts",
    "replace_children",
    "split_settings",
]

log = logging.getLogger("arbord.reload")


def frozen_parts(old: SettingsBase, new: SettingsBase) -> list[str]:
    """The keys that changed but only take effect at the next start."""
    parts = []
    if old.daemon.loop != new.daemon.loop:
        parts.append("daemon.loop")
    if old.daemon.runtime_dir != new.daemon.runtime_dir:
        parts.append("daemon.runtime_dir")
    if old.tree.root != new.tree.root:
        parts.append("tree.root")
    # [context]: the daemon's tasks hold contexts made under the policy in force (daemon.app).
    parts.extend(
        f"context.{key}" for key in CONTEXT_KEYS if getattr(old.context, key) != getattr(new.context, key)
    )
    return parts


def split_settings(old: SettingsBase, new: SettingsBase) -> SettingsBase:
    """``new`` with the parts that need a restart kept at their ``old`` values: the settings in force."""
    daemon = new.daemon.model_copy(update={"loop": old.daemon.loop, "runtime_dir": old.daemon.runtime_dir})
    tree = new.tree.model_copy(update={"root": old.tree.root})
    return new.model_copy(update={"daemon": daemon, "tree": tree, "context": old.context})


def changed_sections(old: SettingsBase, new: SettingsBase) -> list[str]:
    """The top-level sections whose values differ."""
    return [name for name in type(new).model_fields if getattr(old, name) != getattr(new, name)]


@dataclass(frozen=True, slots=True)
class ComponentChange:
    """A component's children before and after a reload, to replace after the reply."""

    component: str
    before: list[PlannedChild] = field(default_factory=list)
    after: list[PlannedChild] = field(default_factory=list)


async def replace_children(
    root: Supervisor, before: Sequence[PlannedChild], after: Sequence[PlannedChild], outcome: ReloadOutcome
) -> list[PlannedChild]:
    """Bring the root's children from ``before`` to ``after`` (one component's), child by child, up to
    the first that fails (started again with its old spec); returns the children in force then (the
    old one where the new one failed to start). Each replacement records its undo in ``outcome``."""
    old = {child.id: child for child in before}
    new = {child.id: child for child in after}
    for child_id in [*new, *(cid for cid in old if cid not in new)]:
        was, will = old.get(child_id), new.get(child_id)
        was_spec = was.spec if was is not None else None
        will_spec = will.spec if will is not None else None
        error = await replace_child(root, was_spec, will_spec)
        outcome.restarted.append(child_id)
        if error:
            outcome.errors.append(error)
            outcome.failed.append(child_id)
            break
        outcome.record(child_id, partial(replace_child, root, will_spec, was_spec))
    return [old[c.id] if c.id in outcome.failed and c.id in old else c for c in after]


async def follow_specs(
    root: Supervisor, before: Sequence[PlannedChild], after: Sequence[PlannedChild], outcome: ReloadOutcome
) -> None:
    """After a component took a reload in place, give each of its root children (running on) the
    new spec, so a later crash restarts it with the settings in force; each records its undo.

    A child the change left without a counterpart (an id added or dropped) keeps its spec: a rule
    that adds or removes root children restarts them (``Reload.RESTART``) rather than updating.
    """
    old = {child.id: child.spec for child in before}
    for child in after:
        was = old.get(child.id)
        if was is None or was == child.spec:
            continue
        error = await follow_spec(root, child.spec)
        if error:
            outcome.errors.append(error)
            return
        outcome.record(None, partial(follow_spec, root, was))  # part of the component's own step


async def apply_components(
    root: Supervisor,
    components: Sequence[Component[Any]],
    old_settings: SettingsBase,
    new_settings: SettingsBase,
    old_plan: Sequence[PlannedChild],
    new_plan: Sequence[PlannedChild],
    outcome: ReloadOutcome,
) -> tuple[list[PlannedChild], list[ComponentChange]]:
    """Apply each component's reload rule, in order, up to the first error; returns the plan in force
    and the changes left for after the reply (the ``after_reply`` components', whose old children
    stay in the plan). After an error the caller rolls back (``ReloadOutcome.roll_back``)."""
    in_force: list[PlannedChild] = []
    later: list[ComponentChange] = []
    for component in components:
        before = [child for child in old_plan if child.component == component.name]
        after = [child for child in new_plan if child.component == component.name]
        if outcome.errors:  # all or nothing: the rest keeps running as it is
            in_force.extend(before)
            continue
        action = component.reload(component.of(old_settings), component.of(new_settings))
        if action is Reload.KEEP:
            in_force.extend(before)
        elif isinstance(action, UpdateInPlace):
            await action.apply(outcome)
            if not outcome.errors:
                await follow_specs(root, before, after, outcome)
            in_force.extend(before if outcome.errors else after)
        elif component.after_reply:
            in_force.extend(before)
            later.append(ComponentChange(component.name, before, after))
            outcome.restarted.extend(child.id for child in after)
        else:
            in_force.extend(await replace_children(root, before, after, outcome))
    return in_force, later
