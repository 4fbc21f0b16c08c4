"""The registry as two components of the daemon: its tables' keeper, then the registry itself.

The keeper takes no settings, so a reload never restarts it, and it is the registry's sibling at the
root (daemon/registry/spec.py says why); the registry restarts when ``[registry]`` changes and claims
its tables back from the keeper.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from daemon.component import Component, ComponentContext
from daemon.registry.config import RegistrySettings
from daemon.registry.spec import KEEPER_ID, keeper_child_spec, registry_child_spec
from daemon.verbs.method import Method
from supervisor import ChildSpec

__all__ = ["KEEPER", "REGISTRY"]


def _keeper(section: None, context: ComponentContext) -> Sequence[ChildSpec]:
    return (keeper_child_spec(),)


def _registry(section: RegistrySettings, context: ComponentContext) -> Sequence[ChildSpec]:
    return (registry_child_spec(section),)


def _verbs() -> Sequence[Method]:
    # Imported when the verb table is built (the first request), not at start.
    from daemon.registry.methods import registry_methods

    return registry_methods()


KEEPER: Final[Component[None]] = Component(KEEPER_ID, child_specs=_keeper)
"""The heir of the registry's tables (``registry_keeper``): no settings, never restarted by a reload."""

REGISTRY: Final[Component[RegistrySettings]] = Component(
    "registry", RegistrySettings, child_specs=_registry, verbs=_verbs
)
"""``[registry]``: the agent registry's supervisor and its ``registry.*`` verbs."""
