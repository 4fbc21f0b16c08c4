"""The caches as a component of the daemon: ``[cache]``, the cache supervisor, the ``cache.*`` verbs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from daemon.cache.config import CacheSettings
from daemon.cache.methods import cache_methods
from daemon.cache.spec import cache_child_spec
from daemon.component import Component, ComponentContext
from supervisor import ChildSpec

__all__ = ["CACHE"]


def _children(section: CacheSettings, context: ComponentContext) -> Sequence[ChildSpec]:
    return (cache_child_spec(section),)


CACHE: Final[Component[CacheSettings]] = Component(
    "cache", CacheSettings, child_specs=_children, verbs=cache_methods
)
"""``[cache]``: one supervisor (``arbord.cache``) with one ``Cache`` per configured cache."""
