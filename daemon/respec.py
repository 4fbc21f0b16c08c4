"""Replacing one child of a running supervisor with a new spec, falling back to the old one; or
giving a running child the spec of a change it took in place.

Used by a reload: the generic one for the root's children (daemon/app_reload.py) and the user
servers' one by one (daemon/servers/component.py). A child that stays (same id) keeps its place among
its siblings, so the stop order stays the reverse of the start order.

A component that applies a reload to its running children itself (``UpdateInPlace``: the span
server's limits, the control server's, the user servers under their supervisor) leaves them running;
``follow_spec`` then puts the new spec in the supervisor (``Supervisor.update_childspec``), so a
later crash restarts the child with the settings in force, not with those from before the reload.
"""

from __future__ import annotations

import logging

from supervisor import ArbordError, ChildSpec, Supervisor

__all__ = ["follow_spec", "replace_child"]

log = logging.getLogger("arbord.reload")


async def replace_child(root: Supervisor, old: ChildSpec | None, new: ChildSpec | None) -> str | None:
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


async def follow_spec(root: Supervisor, spec: ChildSpec) -> str | None:
    """Have ``root`` restart child ``spec.id`` with ``spec`` from now on, without stopping it (a
    change it already took in place). Returns an error line, or None."""
    try:
        await root.update_childspec(spec, timeout=None)
    except ArbordError as error:
        log.warning("reload: could not update the spec of child %r: %s", spec.id, error)
        return f"{spec.id}: its spec could not be updated: {error}"
    return None
