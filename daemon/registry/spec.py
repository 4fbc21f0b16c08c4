"""The registry's place in the tree: the table keeper, then a small supervisor with the registry.

Both are children of the daemon's root, the keeper first::

    arbord.root
    ├── registry_keeper  TableKeeper  arbord.registry.keeper       heir of the registry's tables
    ├── registry         Supervisor   arbord.registry.supervisor   (one_for_one)
    │   └── registry     Registry     arbord.registry              the agent registry
    ...

The keeper is the registry's sibling at the root, not its sibling under the registry's supervisor,
so that nothing that takes the registry down takes the heir with it: a crash (the supervisor
restarts the registry), the supervisor giving up after ``[registry] intensity`` crashes (the root
restarts the supervisor), and a reload that changes ``[registry]`` (the reload replaces the
``registry`` child only) all end with a new registry that claims its tables back from the same
keeper. Started first, the keeper is there when the registry starts, and stopped last, it is still
there when the registry stops. Each side recovers the other: a restarted registry claims its
tables back; a restarted keeper announces itself (``KeeperUp``) and is made heir again.

>>> keeper, spec = keeper_child_spec(), registry_child_spec(RegistrySettings())
>>> keeper.id, keeper.name
('registry_keeper', 'arbord.registry.keeper')
>>> spec.id, spec.name, [child.name for child in spec.args[0]]
('registry', 'arbord.registry.supervisor', ['arbord.registry'])
"""

from __future__ import annotations

from typing import Final

from daemon.registry.config import RegistrySettings
from daemon.registry.entry import KeyMode
from daemon.registry.keeper import TableKeeper
from daemon.registry.registry import Registry
from supervisor import ChildSpec, Supervisor

__all__ = [
    "KEEPER_ID",
    "KEEPER_NAME",
    "REGISTRY_NAME",
    "REGISTRY_SUPERVISOR_NAME",
    "keeper_child_spec",
    "registry_child_spec",
]

REGISTRY_NAME: Final = "arbord.registry"
"""The daemon's agent registry: ``registry_named(REGISTRY_NAME)`` finds the current incarnation."""
KEEPER_NAME: Final = "arbord.registry.keeper"
KEEPER_ID: Final = "registry_keeper"
"""The keeper's child id at the root."""
REGISTRY_SUPERVISOR_NAME: Final = "arbord.registry.supervisor"


def keeper_child_spec() -> ChildSpec:
    """The child spec of the registry's table keeper for the daemon's root (child id
    ``registry_keeper``), to start before ``registry_child_spec``. It takes no settings, so a reload
    never restarts it."""
    return ChildSpec(KEEPER_ID, TableKeeper, kwargs={"announce_to": (REGISTRY_NAME,)}, name=KEEPER_NAME)


def registry_child_spec(settings: RegistrySettings) -> ChildSpec:
    """The child spec of the registry supervisor for the daemon's root (child id ``registry``): the
    registry, with the keeper of ``keeper_child_spec`` as the heir of its tables."""
    children = [
        ChildSpec(
            "registry",
            Registry,
            kwargs={
                "keys": KeyMode.UNIQUE,
                "indexed_attributes": settings.indexed_attributes,
                "keeper": KEEPER_NAME,
                "max_entries_per_owner": settings.max_entries_per_owner,
                "max_indexed_values": settings.max_indexed_values,
            },
            name=REGISTRY_NAME,
        ),
    ]
    return Supervisor.child_spec(
        children,
        id="registry",
        name=REGISTRY_SUPERVISOR_NAME,
        intensity=settings.intensity,
        period=settings.period,
    )
