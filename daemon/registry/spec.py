"""The registry's place in the tree: a small supervisor with the table keeper, then the registry.

::

    arbord.registry.supervisor   (one_for_one)
    ├── keeper    TableKeeper  arbord.registry.keeper   heir of the registry's tables
    └── registry  Registry     arbord.registry          the agent registry

The keeper starts first, so the registry finds it at start and claims the tables a previous
incarnation left. one_for_one, because each side recovers the other: a restarted registry claims
its tables back; a restarted keeper announces itself (``KeeperUp``) and is made heir again.

>>> spec = registry_child_spec(RegistrySettings())
>>> spec.id, spec.name, [child.name for child in spec.args[0]]
('registry', 'arbord.registry.supervisor', ['arbord.registry.keeper', 'arbord.registry'])
"""

from __future__ import annotations

from typing import Final

from daemon.registry.config import RegistrySettings
from daemon.registry.entry import KeyMode
from daemon.registry.keeper import TableKeeper
from daemon.registry.registry import Registry
from supervisor import ChildSpec, ChildType, Strategy, Supervisor

__all__ = ["KEEPER_NAME", "REGISTRY_NAME", "REGISTRY_SUPERVISOR_NAME", "registry_child_spec"]

REGISTRY_NAME: Final = "arbord.registry"
"""The daemon's agent registry: ``registry_named(REGISTRY_NAME)`` finds the current incarnation."""
KEEPER_NAME: Final = "arbord.registry.keeper"
REGISTRY_SUPERVISOR_NAME: Final = "arbord.registry.supervisor"


def registry_child_spec(settings: RegistrySettings) -> ChildSpec:
    """The child spec of the registry supervisor for the daemon's root (child id ``registry``)."""
    children = [
        ChildSpec("keeper", TableKeeper, kwargs={"announce_to": (REGISTRY_NAME,)}, name=KEEPER_NAME),
        ChildSpec(
            "registry",
            Registry,
            kwargs={
                "keys": KeyMode.UNIQUE,
                "indexed_attributes": settings.indexed_attributes,
                "keeper": KEEPER_NAME,
                "max_entries_per_owner": settings.max_entries_per_owner,
            },
            name=REGISTRY_NAME,
        ),
    ]
    return ChildSpec(
        "registry",
        Supervisor,
        args=(children,),
        kwargs={"strategy": Strategy.ONE_FOR_ONE, "intensity": settings.intensity, "period": settings.period},
        type=ChildType.SUPERVISOR,
        name=REGISTRY_SUPERVISOR_NAME,
    )
