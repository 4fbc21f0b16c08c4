"""The caches as a component of the daemon: ``[cache]``, the cache supervisor, the ``cache.*`` verbs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from daemon.cache.config import CacheSettings
from daemon.cache.spec import cache_child_spec
from daemon.component import Component, ComponentContext
from daemon.verbs.method import Method
from supervisor import ChildSpec

__all__ = ["CACHE"]


def _children(section: CacheSettings, context: ComponentContext) -> Sequence[ChildSpec]:
    return (cache_child_spec(section),)


def _verbs() -> Sequence[Method]:
    # Imported when the verb table is built (the first request), not at start.
    from daemon.cache.methods import cache_methods

    return cache_methods()


CACHE: Final[Component[CacheSettings]] = Component(
    "cache", CacheSettings, child_specs=_children, verbs=_verbs
)
"""``[cache]``: one supervisor (``arbord.cache``) with one ``Cache`` per configured cache."""
