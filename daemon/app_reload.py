"""Applying a reloaded configuration to the running tree: restart only what changed.

The new settings were already validated. What cannot change while running (the event loop, the
runtime directory, the root supervisor's flags) keeps its old value and is reported as needing a
restart. Each other root child whose settings slice changed is stopped and started again with its new
spec; a child that fails to start with the new spec is started again with the old one and the failure
is reported. User servers are diffed one by one inside their supervisor when its own flags did not
change. The control server is replaced last, after the reply (see ``Daemon.reload``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from daemon.settings import Settings
from daemon.tree import SERVERS_ID, SERVERS_NAME, PlannedChild, server_spec
from supervisor import ArbordError, ChildSpec, Supervisor, whereis

__all__ = ["ReloadOutcome", "apply_plan", "frozen_parts", "split_settings"]

log = logging.getLogger("arbord.reload")


@dataclass(slots=True)
class ReloadOutcome:
    """What a reload did: for the ``reload`` control method's reply and the log."""

    changed: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    needs_restart: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """Root children that kept their previous spec because the new one failed to start."""

    def as_reply(self) -> dict[str, object]:
        return {
            "ok": not self.errors,
            "errors": list(self.errors),
            "changed": list(self.changed),
            "restarted": list(self.restarted),
            "needs_restart": list(self.needs_restart),
        }


def frozen_parts(old: Settings, new: Settings) -> list[str]:
    """The keys that changed but only take effect at the next start."""
    parts = []
    if old.daemon.loop != new.daemon.loop:
        parts.append("daemon.loop")
    if old.daemon.runtime_dir != new.daemon.runtime_dir:
        parts.append("daemon.runtime_dir")
    if old.tree.root != new.tree.root:
        parts.append("tree.root")
    return parts


def split_settings(old: Settings, new: Settings) -> Settings:
    """``new`` with the parts that need a restart kept at their ``old`` values: the settings in force."""
    daemon = new.daemon.model_copy(update={"loop": old.daemon.loop, "runtime_dir": old.daemon.runtime_dir})
    tree = new.tree.model_copy(update={"root": old.tree.root})
    return new.model_copy(update={"daemon": daemon, "tree": tree})


def changed_sections(old: Settings, new: Settings) -> list[str]:
    """The top-level sections whose values differ."""
    return [name for name in type(new).model_fields if getattr(old, name) != getattr(new, name)]


async def _replace(root: Supervisor, old: ChildSpec | None, new: ChildSpec | None) -> str | None:
    """Stop ``old`` (if any) and start ``new`` (if any); on a failed start, restore ``old``.

    A child that stays (same id) keeps its place among its siblings, so the stop order stays the
    reverse of the start order (the control server, last to start, stops first). Returns an error
    line, or None.
    """
    if old is not None and new is not None and old.id == new.id:
        return await _respec(root, old, new)
    if old is not None:
        try:
            await root.terminate_child(old.id, timeout=None)
            await root.delete_child(old.id, timeout=None)
        except ArbordError as error:
            log.warning("reload: could not remove child %r: %s", old.id, error)
    if new is None:
        return None
    try:
        await root.start_child(new, timeout=None)
    except ArbordError as error:
        message = f"{new.id}: failed to start with the new configuration: {error}"
        log.error("reload: %s; restoring the previous one", message)
        if old is not None:
            try:
                await root.start_child(old, timeout=None)
            except ArbordError as again:
                log.error(
                    "reload: %r failed to start again with the previous configuration: %s", old.id, again
                )
        return message
    return None


async def _respec(root: Supervisor, old: ChildSpec, new: ChildSpec) -> str | None:
    """Restart child ``old.id`` with ``new`` in its place; on a failed start, with ``old`` again."""
    try:
        await root.terminate_child(old.id, timeout=None)
        await root.replace_childspec(new, timeout=None)
    except ArbordError as error:
        log.warning("reload: could not replace child %r: %s", old.id, error)
        return f"{new.id}: could not be replaced: {error}"
    try:
        await root.restart_child(new.id, timeout=None)
    except ArbordError as error:
        message = f"{new.id}: failed to start with the new configuration: {error}"
        log.error("reload: %s; restoring the previous one", message)
        try:
            await root.replace_childspec(old, timeout=None)
            await root.restart_child(old.id, timeout=None)
        except ArbordError as again:
            log.error("reload: %r failed to start again with the previous configuration: %s", old.id, again)
        return message
    return None


async def _apply_servers(old: Settings, new: Settings, outcome: ReloadOutcome) -> None:
    """Diff the user servers one by one under their running supervisor."""
    servers = whereis(SERVERS_NAME)
    if not isinstance(servers, Supervisor):
        outcome.errors.append(f"{SERVERS_NAME} is not running; user servers not reloaded")
        return
    for name in [*new.servers, *(n for n in old.servers if n not in new.servers)]:
        before, after = old.servers.get(name), new.servers.get(name)
        if before == after:
            continue
        error = await _replace(
            servers,
            server_spec(name, before) if before is not None else None,
            server_spec(name, after) if after is not None else None,
        )
        outcome.restarted.append(f"servers.{name}")
        if error:
            outcome.errors.append(f"servers.{error}")
            if SERVERS_ID not in outcome.failed:
                outcome.failed.append(SERVERS_ID)


async def apply_plan(
    root: Supervisor,
    old_settings: Settings,
    new_settings: Settings,
    old_plan: Sequence[PlannedChild],
    new_plan: Sequence[PlannedChild],
    changed: Sequence[str],
    skip: Sequence[str],
    outcome: ReloadOutcome,
) -> None:
    """Bring the root's children from ``old_plan`` to ``new_plan`` for the ids in ``changed`` (but
    ``skip``: the caller replaces those itself)."""
    before = {child.id: child.spec for child in old_plan}
    after = {child.id: child.spec for child in new_plan}
    for child_id in changed:
        if child_id in skip:
            continue
        if (
            child_id == SERVERS_ID
            and child_id in before
            and child_id in after
            and old_settings.tree.servers == new_settings.tree.servers
        ):
            await _apply_servers(old_settings, new_settings, outcome)
            continue
        error = await _replace(root, before.get(child_id), after.get(child_id))
        outcome.restarted.append(child_id)
        if error:
            outcome.errors.append(error)
            outcome.failed.append(child_id)
