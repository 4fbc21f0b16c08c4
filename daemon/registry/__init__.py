"""The agent registry: keys owned by servers, tasks or control connections, gone when the owner exits.

``keeper_child_spec`` and ``registry_child_spec`` put it in the daemon's tree (the table keeper, then
a supervisor with the registry, ``arbord.registry``); ``registry_methods`` are its control verbs;
its errors (daemon/registry/errors.py) carry their error codes; ``KEEPER`` and ``REGISTRY``
(daemon/registry/component.py) are its two components.
docs/registry.md is the guide: API, decisions, consistency model.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from daemon.registry.config import DEFAULT_INDEXED_ATTRIBUTES, RegistrySettings
    from daemon.registry.criteria import Criterion, Op
    from daemon.registry.entry import Entry, KeyMode, describe_owner
    from daemon.registry.keeper import Claim, KeeperUp, TableKeeper
    from daemon.registry.methods import registry_methods
    from daemon.registry.naming import Via, start_via, whereis_via
    from daemon.registry.registry import (
        LOOKUP_MISS,
        OWNER_DOWN,
        REGISTER,
        UNREGISTER,
        Registry,
        registry_named,
    )
    from daemon.registry.spec import (
        KEEPER_ID,
        KEEPER_NAME,
        REGISTRY_NAME,
        REGISTRY_SUPERVISOR_NAME,
        keeper_child_spec,
        registry_child_spec,
    )


__all__ = [
    "DEFAULT_INDEXED_ATTRIBUTES",
    "KEEPER_ID",
    "KEEPER_NAME",
    "LOOKUP_MISS",
    "OWNER_DOWN",
    "REGISTER",
    "REGISTRY_NAME",
    "REGISTRY_SUPERVISOR_NAME",
    "UNREGISTER",
    "Claim",
    "Criterion",
    "Entry",
    "KeeperUp",
    "KeyMode",
    "Op",
    "Registry",
    "RegistrySettings",
    "TableKeeper",
    "Via",
    "describe_owner",
    "keeper_child_spec",
    "registry_child_spec",
    "registry_methods",
    "registry_named",
    "start_via",
    "whereis_via",
]

# The names above are imported from their modules when first used (PEP 562), so that importing one
# module of the package (the daemon's start imports the few it runs) does not import them all.
_EXPORTS: Final = MappingProxyType(
    {
        "Claim": "daemon.registry.keeper",
        "Criterion": "daemon.registry.criteria",
        "DEFAULT_INDEXED_ATTRIBUTES": "daemon.registry.config",
        "Entry": "daemon.registry.entry",
        "KEEPER_ID": "daemon.registry.spec",
        "KEEPER_NAME": "daemon.registry.spec",
        "KeeperUp": "daemon.registry.keeper",
        "KeyMode": "daemon.registry.entry",
        "LOOKUP_MISS": "daemon.registry.registry",
        "OWNER_DOWN": "daemon.registry.registry",
        "Op": "daemon.registry.criteria",
        "REGISTER": "daemon.registry.registry",
        "REGISTRY_NAME": "daemon.registry.spec",
        "REGISTRY_SUPERVISOR_NAME": "daemon.registry.spec",
        "Registry": "daemon.registry.registry",
        "RegistrySettings": "daemon.registry.config",
        "TableKeeper": "daemon.registry.keeper",
        "UNREGISTER": "daemon.registry.registry",
        "Via": "daemon.registry.naming",
        "describe_owner": "daemon.registry.entry",
        "keeper_child_spec": "daemon.registry.spec",
        "registry_child_spec": "daemon.registry.spec",
        "registry_methods": "daemon.registry.methods",
        "registry_named": "daemon.registry.registry",
        "start_via": "daemon.registry.naming",
        "whereis_via": "daemon.registry.naming",
    }
)


def __getattr__(name: str) -> Any:
    """A re-exported name, imported from its module when first asked for."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
